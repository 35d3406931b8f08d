"""Where ``headwater sql`` sends statements: a running server's ksqlDB REST API, or a Session in-process.

Both backends answer in the same terms, so the shell does not care which it
talks to: ``execute`` returns ksqlDB entities (``@type`` dicts), ``query``
returns a :class:`ResultStream` (column names, types, rows as they arrive,
how it ended) and ``print_topic`` returns PRINT's lines. Failures raise
:class:`ShellError` with the server's message (which carries line:column).
SET and DEFINE live in the shell; each call passes them along, as the ksql CLI
sends ``streamsProperties`` and ``sessionVariables`` with every request.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Protocol

import httpx

from headwater.engine.pull import PullResult
from headwater.errors import HeadwaterError, ServiceOwnedError
from headwater.session import Session

Entity = dict[str, Any]
#: Longest a push query's reader waits for a row before looking again (Ctrl-C is seen at once anyway).
ROW_WAIT_S = 0.25


class ShellError(Exception):
    """A statement failed; the message is what the server (or the session) said."""


class ResultStream(Protocol):
    query_id: str
    columns: list[str]
    types: list[str]
    #: "Limit Reached", "Query Completed" or an error text once the rows are exhausted.
    final: str | None

    def rows(self) -> Iterator[list[Any]]: ...

    def close(self) -> None: ...


class Backend(Protocol):
    def execute(self, text: str, properties: dict[str, str], variables: dict[str, str]) -> list[Entity]: ...

    def query(self, text: str, properties: dict[str, str], variables: dict[str, str]) -> ResultStream: ...

    def print_topic(self, text: str, variables: dict[str, str]) -> Iterator[str]: ...

    def describe(self) -> str: ...

    def close(self) -> None: ...


# -- over HTTP -------------------------------------------------------------------------


def _error_message(response: httpx.Response) -> str:
    response.read()
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text.strip()[:500]}"
    if isinstance(body, dict) and "message" in body:
        return str(body["message"])
    return f"HTTP {response.status_code}: {response.text.strip()[:500]}"


class HttpResultStream:
    """Rows of POST /query-stream (delimited form), read as they arrive."""

    def __init__(self, client: httpx.Client, response: httpx.Response, context: Any) -> None:
        self._client = client
        self._response = response
        self._context = context
        self._lines = response.iter_lines()
        header = json.loads(next(self._lines))
        self.query_id: str = header.get("queryId", "")
        self.columns: list[str] = header["columnNames"]
        self.types: list[str] = header["columnTypes"]
        self.final: str | None = None

    def rows(self) -> Iterator[list[Any]]:
        for line in self._lines:
            if not line.strip():
                continue
            item = json.loads(line)
            if isinstance(item, dict):  # ksqlDB ends a failed stream with an error object
                self.final = str(item.get("message", item))
                raise ShellError(self.final)
            yield item
        self.final = "Query Completed"

    def close(self) -> None:
        if self.final is None and self.query_id:
            try:  # as the ksql CLI does; closing the connection alone also ends the query
                self._client.post("/close-query", json={"queryId": self.query_id}, timeout=5)
            except httpx.HTTPError:
                pass
        self._context.__exit__(None, None, None)


class HttpBackend:
    """A running Headwater (or ksqlDB) server, through its ksqlDB REST API."""

    def __init__(self, url: str, api_key: str | None = None) -> None:
        headers = {"Accept": "application/vnd.ksql.v1+json"}
        if api_key:
            headers["X-API-Key"] = api_key
        self.url = url.rstrip("/")
        self.client = httpx.Client(base_url=self.url, headers=headers, timeout=httpx.Timeout(30.0, read=None))

    def describe(self) -> str:
        try:
            info = self.client.get("/info").json()["KsqlServerInfo"]
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise ShellError(f"Could not reach the ksqlDB REST API at {self.url}: {exc}") from None
        return f"server {self.url} (ksqlDB API {info.get('version')}, service id {info.get('ksqlServiceId')})"

    def execute(self, text: str, properties: dict[str, str], variables: dict[str, str]) -> list[Entity]:
        body = {"ksql": text, "streamsProperties": properties, "sessionVariables": variables}
        try:
            response = self.client.post("/ksql", json=body)
        except httpx.HTTPError as exc:
            raise ShellError(f"Request to {self.url}/ksql failed: {exc}") from None
        if response.status_code >= 400:
            raise ShellError(_error_message(response))
        return list(response.json())

    def query(self, text: str, properties: dict[str, str], variables: dict[str, str]) -> ResultStream:
        return HttpResultStream(self.client, *self._stream(text, properties, variables))

    def print_topic(self, text: str, variables: dict[str, str]) -> Iterator[str]:
        response, context = self._stream(text, {}, variables)
        try:
            yield from response.iter_lines()
        finally:
            context.__exit__(None, None, None)

    def _stream(self, text: str, properties: dict[str, str], variables: dict[str, str]) -> tuple[httpx.Response, Any]:
        body = {"sql": text, "properties": properties, "sessionVariables": variables}
        context = self.client.stream("POST", "/query-stream", json=body,
                                     headers={"Accept": "application/vnd.ksqlapi.delimited.v1"})
        try:
            response = context.__enter__()
        except httpx.HTTPError as exc:
            raise ShellError(f"Request to {self.url}/query-stream failed: {exc}") from None
        if response.status_code >= 400:
            message = _error_message(response)
            context.__exit__(None, None, None)
            raise ShellError(message)
        return response, context

    def close(self) -> None:
        self.client.close()


# -- in-process ----------------------------------------------------------------------------


class EmbeddedResultStream:
    """A PullResult's rows, or a PushQuery's as they arrive (``live`` is the session's push queries)."""

    def __init__(self, result: Any, live: dict[str, Any]) -> None:
        self._result = result
        self._live = live
        if isinstance(result, PullResult):
            self.query_id = result.query_id
        else:
            self.query_id = result.id
        self.columns = list(result.columns)
        self.types = [t.sql() for t in result.types]
        self.final: str | None = None

    def rows(self) -> Iterator[list[Any]]:
        if isinstance(self._result, PullResult):
            yield from self._result.rows
            self.final = "Query Completed"
            return
        push = self._result
        sent = 0
        while True:
            for row in push.rows(timeout_s=ROW_WAIT_S):  # short waits keep Ctrl-C responsive
                sent += 1
                yield row
            if push.limit is not None and sent >= push.limit:
                self.final = "Limit Reached"
                return
            if push.id not in self._live:  # closed
                self.final = "Query Completed"
                return

    def close(self) -> None:
        if not isinstance(self._result, PullResult):
            self._result.close()


class EmbeddedBackend:
    """A Session in this process, on an embedded log directory or a Kafka cluster."""

    def __init__(self, log_url: str, properties: dict[str, str] | None = None, *, take_over: bool = False) -> None:
        self.log_url = log_url
        #: Why the session is read-only (another process owns the service), for the shell to say; else None.
        self.read_only: str | None = None
        try:
            try:
                self.session = Session(log_url, properties=properties, take_over=take_over)
            except ServiceOwnedError as exc:
                # Next to a running `headwater up`: look, do not touch (its queries must not run twice).
                self.session = Session(log_url, properties=properties, read_only=True)
                self.read_only = (
                    f"{exc.root} is in use: {exc.owner} runs the persistent queries of service {exc.service_id!r}. "
                    "This session is read-only: SHOW, DESCRIBE, PRINT, push and pull queries work; statements "
                    "that create, insert, drop or terminate go to that process (`headwater sql [SERVER]`, "
                    "http://127.0.0.1:8088 by default). To run the queries here instead, add --take-over: that "
                    "process's queries are then fenced and stop.")
        except HeadwaterError as exc:
            raise ShellError(str(exc)) from None

    def describe(self) -> str:
        return f"embedded session on {self.log_url}{', read-only' if self.read_only else ''}"

    def _vars(self, variables: dict[str, str]) -> None:
        self.session.variables.clear()
        self.session.variables.update(variables)

    def execute(self, text: str, properties: dict[str, str], variables: dict[str, str]) -> list[Entity]:
        self._vars(variables)
        try:
            return self.session.execute(text, properties)
        except HeadwaterError as exc:
            raise ShellError(str(exc)) from None

    def query(self, text: str, properties: dict[str, str], variables: dict[str, str]) -> ResultStream:
        self._vars(variables)
        try:
            result = self.session.query(text, properties)
        except HeadwaterError as exc:
            raise ShellError(str(exc)) from None
        return EmbeddedResultStream(result, self.session.push_queries)

    def print_topic(self, text: str, variables: dict[str, str]) -> Iterator[str]:
        self._vars(variables)
        try:
            lines = self.session.print_topic(text)
        except HeadwaterError as exc:
            raise ShellError(str(exc)) from None
        yield from lines

    def close(self) -> None:
        self.session.close()
