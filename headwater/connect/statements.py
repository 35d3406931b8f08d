"""ksqlDB's connector statements on the runtime: CREATE/DROP/DESCRIBE CONNECTOR, SHOW CONNECTORS.

Answers have ksqlDB's entity shapes (``connector_info``, ``drop_connector``,
``connector_list``, ``connector_description``, ``warning_entity``). The
connector name is the identifier as ksqlDB resolves it: upper-cased unless
quoted (so ``CREATE SOURCE CONNECTOR datagen_clickstream`` makes
``DATAGEN_CLICKSTREAM``, the name the clickstream scripts pause and resume).
Property names keep their case; values become Connect's strings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from headwater.connect import plugins
from headwater.connect.runtime import RUNNING, ConnectRequestError, ConnectRuntime
from headwater.errors import SqlSemanticError
from headwater.sql import ast
from headwater.sql.entities import Entity


def _text(literal: Any) -> str:
    value = getattr(literal, "value", literal)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _failure(verb: str, exc: ConnectRequestError) -> str:
    body = orjson.dumps({"error_code": exc.status, "message": exc.message}).decode()
    return f"Failed to {verb} connector: {body}"


def _warning(text: str, message: str) -> Entity:
    return {"@type": "warning_entity", "statementText": text, "message": message, "warnings": []}


#: The descriptions of the streams and tables on some topics (DESCRIBE CONNECTOR's "sources").
SourcesOn = Callable[[list[str]], list[dict[str, Any]]]


def execute(runtime: ConnectRuntime, statement: ast.Statement, text: str,
            sources_on: SourcesOn | None = None) -> Entity:
    if isinstance(statement, ast.CreateConnector):
        return _create(runtime, statement, text)
    if isinstance(statement, ast.DropConnector):
        return _drop(runtime, statement, text)
    if isinstance(statement, ast.DescribeConnector):
        return _describe(runtime, statement, text, sources_on)
    if isinstance(statement, ast.Show) and statement.kind is ast.ShowKind.CONNECTOR_PLUGINS:
        return _plugins(text)
    if isinstance(statement, ast.Show):
        return _list(runtime, statement, text)
    raise SqlSemanticError(f"{type(statement).__name__} is not a connector statement", statement.pos)


def _create(runtime: ConnectRuntime, statement: ast.CreateConnector, text: str) -> Entity:
    name = statement.name
    config = {k: _text(v) for k, v in statement.properties.items()}
    config.setdefault("name", name)
    if name in runtime.names():
        if statement.if_not_exists:
            return _warning(text, f"Connector {name} already exists")
        raise SqlSemanticError(_failure("create", ConnectRequestError(409, f"Connector {name} already exists")),
                               statement.pos)
    try:
        info = runtime.create(name, config, RUNNING)
    except ConnectRequestError as exc:
        raise SqlSemanticError(_failure("create", exc), statement.pos) from None
    expected = statement.connector_type.value.lower()
    if info["type"] != expected:
        runtime.delete(name)
        raise SqlSemanticError(f"Failed to create connector: {config.get('connector.class')} is a {info['type']} "
                               f"connector, not a {expected} connector", statement.pos)
    return {"@type": "connector_info", "statementText": text, "info": info, "warnings": []}


def _drop(runtime: ConnectRuntime, statement: ast.DropConnector, text: str) -> Entity:
    try:
        runtime.delete(statement.name)
    except ConnectRequestError as exc:
        if exc.status == 404 and statement.if_exists:
            return _warning(text, f"Connector '{statement.name}' does not exist.")
        raise SqlSemanticError(_failure("drop", exc), statement.pos) from None
    return {"@type": "drop_connector", "statementText": text, "connectorName": statement.name, "warnings": []}


def summarize_state(status: dict[str, Any]) -> str:
    """ksqlDB's one-word summary of a connector status: RUNNING (n/m tasks RUNNING) or the state."""
    state = str(status["connector"]["state"])
    if state != "RUNNING":
        return state
    tasks = status["tasks"]
    running = sum(1 for t in tasks if t["state"] == "RUNNING")
    return f"RUNNING ({running}/{len(tasks)} tasks RUNNING)"


def _list(runtime: ConnectRuntime, statement: ast.Show, text: str) -> Entity:
    wanted = statement.connector_type.value.lower() if statement.connector_type else None
    connectors = []
    for name in runtime.names():
        try:
            status = runtime.status(name)
        except ConnectRequestError:
            continue
        if wanted is not None and status["type"] != wanted:
            continue
        connectors.append({"name": name, "type": status["type"], "className": runtime.connector_class(name),
                           "state": summarize_state(status)})
    return {"@type": "connector_list", "statementText": text, "warnings": [], "connectors": connectors}


def _describe(runtime: ConnectRuntime, statement: ast.DescribeConnector, text: str,
              sources_on: SourcesOn | None) -> Entity:
    try:
        status = runtime.status(statement.name)
    except ConnectRequestError as exc:
        raise SqlSemanticError(_failure("query", exc), statement.pos) from None
    topics = runtime.topics(statement.name)
    return {
        "@type": "connector_description",
        "statementText": text,
        "connectorClass": runtime.connector_class(statement.name),
        "status": status,
        "sources": sources_on(topics) if sources_on is not None else [],
        "topics": topics,
        "warnings": [],
    }


def _plugins(text: str) -> Entity:
    return {"@type": "connector_plugins_list", "statementText": text, "warnings": [],
            "connectorPlugins": [{"className": p.class_name, "type": cls.type, "version": cls.version}
                                  for p, cls in plugins.available()]}
