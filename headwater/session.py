"""``headwater.Session``: run ksqlDB statements against a log, from Python.

The REST API and the shell sit on this class. ``execute`` runs statements and
returns ksqlDB-shaped entities; ``query`` starts a push query and returns rows
as they arrive.

Statements that change what runs (CREATE, DROP, CSAS, INSERT INTO ... SELECT,
TERMINATE) are planned first, then recorded in the command log, then applied;
on start the session replays the command log, so streams, tables and
persistent queries come back after a restart and resume from their committed
offsets.

One process runs a service's persistent queries. On the embedded log a
session claims the data directory's service (``Log.claim_service``) before it
replays anything: a second session is refused (ServiceOwnedError names the
owner), unless it is made with ``take_over=True``. Every query is a
transactional writer whose id is its consumer group (service id + query id),
initialised before the query reads its committed offsets, so a take-over
fences the old owner's queries: no commit of theirs can succeed any more, and
they stop in ERROR ("fenced"), at once when the old owner sees the take-over
in the claim, or at their next (refused) commit. Fencing holds on Kafka too,
where nothing local is locked and a second session takes over.

A session made with ``read_only=True`` claims nothing and runs nothing: it
replays the command log for the catalog only, so SHOW, DESCRIBE, PRINT, push
queries and pull queries work next to the owner (a pull query loads the
table's state from its changelog, as the owner last committed it), while
every statement that would record a command, start a query or write is
refused with :class:`ReadOnlySessionError`. ``headwater sql --embedded``
opens one when a running ``headwater up`` owns the directory.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from headwater.connect import statements as connector_statements
from headwater.connect.policy import ConnectPolicy
from headwater.connect.runtime import ConnectRuntime
from headwater.connect.store import CONFIG_TOPIC
from headwater.engine import processing_log
from headwater.engine.codec import register_schemas
from headwater.engine.commands import CommandLog
from headwater.engine.operators import persistent_operator, push_operator
from headwater.engine.pull import PullResult, pull
from headwater.engine.push import PushQuery
from headwater.engine.aggregate import AggregateOperator
from headwater.engine.query import PersistentQuery, QueryError, QueryFailedError, QueryState, new_connection
from headwater.errors import FormatError, LogError, ProducerFencedError, SqlSemanticError
from headwater.formats.base import uses_registry
from headwater.log import DEFAULT_LOG_URL, Log, ServiceClaim, open_log
from headwater.log.base import validate_topic_config, validate_topic_name
from headwater.log.printing import print_lines
from headwater.registry import SchemaRegistry
from headwater.registry.inference import infer_columns, statement_text
from headwater.registry.remote import RemoteSchemaRegistry
from headwater.registry.store import local_registry
from headwater.sql import ast, join_aggregate
from headwater.sql.aggregate_planner import AggregatePlan, plan_aggregate
from headwater.sql.catalog import Catalog, DataSource
from headwater.sql.ddl import sink_from_select, source_from_create
from headwater.sql.entities import Entity, current_status
from headwater.sql.inspect import Inspector
from headwater.sql.insert_values import insert_values
from headwater.sql.join_planner import JoinPlan, join_produces_table, plan_join
from headwater.sql.parser import parse_statement
from headwater.sql.planner import SelectPlan, plan_select
from headwater.sql.script import split_statements, substitute_variables

logger = logging.getLogger(__name__)

#: Session properties and their defaults (ksqlDB's names).
DEFAULT_PROPERTIES: dict[str, str] = {
    "auto.offset.reset": "latest",
    "ksql.service.id": "default_",
    "ksql.persistence.wrap.single.values": "true",
    "ksql.query.pull.table.scan.enabled": "true",
}
#: The suffix of the query that runs the join of a GROUP BY over a join (the statement's other query).
JOIN_PART = "_JOIN"
#: The statements recorded in the command log (they change what the service holds or runs).
_COMMANDS = (ast.CreateSource, ast.CreateAsSelect, ast.InsertInto, ast.DropSource, ast.Terminate, ast.CreateType,
             ast.DropType)

#: Statements that record a command, start a query or write: refused by a read-only session.
_WRITING = (*_COMMANDS, ast.InsertValues, ast.CreateConnector, ast.DropConnector)


class ReadOnlySessionError(SqlSemanticError):
    """A read-only session (another process owns the service) was asked to change or write something."""


def _statement_words(statement: ast.Statement) -> str:
    words = {ast.CreateSource: "CREATE STREAM/TABLE statements", ast.CreateAsSelect: "CREATE ... AS SELECT statements",
             ast.InsertInto: "INSERT INTO statements", ast.DropSource: "DROP statements",
             ast.Terminate: "TERMINATE statements", ast.InsertValues: "INSERT ... VALUES statements",
             ast.CreateConnector: "CREATE CONNECTOR statements", ast.DropConnector: "DROP CONNECTOR statements",
             ast.CreateType: "CREATE TYPE statements", ast.DropType: "DROP TYPE statements"}
    return words.get(type(statement), "statements that write")


_PROPERTY_PREFIXES = ("ksql.", "auto.offset.reset", "processing.guarantee", "cache.max.bytes.buffering",
                      "commit.interval.ms", "ksql.streams.")


class Session:
    """Statements in, ksqlDB entities out; persistent queries run in threads of this process."""

    def __init__(
        self,
        log: Log | str = DEFAULT_LOG_URL,
        *,
        properties: Mapping[str, str] | None = None,
        take_over: bool = False,
        connect_policy: ConnectPolicy | None = None,
        read_only: bool = False,
    ) -> None:
        if read_only and take_over:
            raise ValueError("session: read_only and take_over exclude each other")
        self._owns_log = isinstance(log, str)
        self._connect_policy = connect_policy
        self.log: Log = open_log(log) if isinstance(log, str) else log
        self.properties: dict[str, str] = {**DEFAULT_PROPERTIES, **(properties or {})}
        self.service_id = self.properties["ksql.service.id"]
        #: Runs nothing and writes nothing (see the module docstring).
        self.read_only = read_only
        try:  # before anything runs: a second owner would run every persistent query twice
            self.claim: ServiceClaim | None = None if read_only else self.log.claim_service(
                self.service_id, take_over=take_over)
        except BaseException:
            if self._owns_log:
                self.log.close()
            raise
        #: Why this session no longer runs persistent queries (another process took the service over).
        self.fenced: str | None = None
        self.variables: dict[str, str] = {}
        self.catalog = Catalog()
        self.queries: dict[str, PersistentQuery] = {}
        if self.claim is not None:
            self.claim.on_taken_over = self._on_taken_over
        self.push_queries: dict[str, PushQuery] = {}
        self._push_counter = 0
        self._lock = threading.RLock()
        self._connect: Any = None
        self._schema_registry: SchemaRegistry | None = None
        self.processing_log_topic = processing_log.topic_name(self.service_id)
        try:
            self.commands = CommandLog(self.log, self.service_id)
            if not read_only:
                self.log.create_topic(self.processing_log_topic, 1, exist_ok=True)
            self.inspector = Inspector(self)
            self._replay()
            if CONFIG_TOPIC in self.log.list_topics() and not read_only:
                _ = self.connect  # connectors of an earlier run come back with the session
        except BaseException:
            self.close()  # a session that failed to start keeps no claim
            raise

    # -- public API -------------------------------------------------------------
    def execute(self, text: str, properties: Mapping[str, str] | None = None) -> list[Entity]:
        """Run every statement of ``text`` in order; one entity per statement that has one.

        ``properties`` apply to these statements only (as the REST API's
        streamsProperties); SET changes the session's own properties.
        """
        scoped = dict(properties or {})
        results: list[Entity] = []
        for piece in split_statements(text):
            stripped = substitute_variables(piece.text, self.variables, piece.line, piece.column)
            if not stripped.strip().rstrip(";").strip():
                continue
            statement = self.catalog.types.resolve(parse_statement(stripped, piece.line, piece.column))
            entity = self._execute(statement, stripped.strip(), scoped)
            if entity is not None:
                results.append(entity)
        return results

    def query(self, text: str, properties: Mapping[str, str] | None = None) -> PushQuery | PullResult:
        """Run a SELECT: a push query (``EMIT CHANGES``) streams rows until LIMIT or ``close()``;
        a pull query returns the rows a materialized table holds now."""
        stripped = substitute_variables(text, self.variables)
        statement = self.catalog.types.resolve(parse_statement(stripped))
        if not isinstance(statement, ast.Query):
            raise SqlSemanticError("query() runs SELECT statements; use execute() for the others.", statement.pos)
        if not statement.is_push:
            with self._lock:
                self._push_counter += 1
                if self.read_only:
                    self._read_state(statement)
                return pull(self, statement, f"query_{self._push_counter}", {**self.properties, **(properties or {})})
        joined: tuple[JoinPlan, DataSource] | None = None
        if isinstance(statement.from_, ast.Join) and statement.group_by is not None:
            joined, plan = self._plan_join_aggregate(statement, None, stripped)  # type: ignore[assignment]
        else:
            plan = self.plan(statement, sink_name=None)
        props = {**self.properties, **(properties or {})}
        with self._lock:
            self._push_counter += 1
            query_id = f"transient_{(joined[0] if joined else plan).source.name}_{self._push_counter}"
            operator = push_operator(plan, self.log, query_id=query_id, service_id=self.service_id,
                                     offset_reset=props["auto.offset.reset"], joined=joined)
            push = PushQuery(query_id, operator, self.log, on_close=lambda q: self.push_queries.pop(q.id, None),
                             processing_log_topic=self.processing_log_topic)
            self.push_queries[query_id] = push
        return push

    def print_topic(self, text: str, idle_timeout_s: float | None = None) -> Iterator[str]:
        """Run a PRINT statement: its lines as ksqlDB prints them (formats first)."""
        statement = parse_statement(substitute_variables(text, self.variables))
        if not isinstance(statement, ast.Print):
            raise SqlSemanticError("print_topic() runs PRINT statements.", statement.pos)
        if statement.topic not in self.log.list_topics():
            raise SqlSemanticError(f"Could not find topic '{statement.topic}', or the KSQL user does not have "
                                   "permissions to list the topic. Topic names are case-sensitive.", statement.pos)
        return print_lines(self.log, statement.topic, from_beginning=statement.from_beginning,
                           interval=statement.interval or 1, limit=statement.limit, idle_timeout_s=idle_timeout_s)

    def wait_until_processed(self, timeout_s: float = 30.0) -> None:
        """Block until every persistent query has processed its inputs' current ends (for tests, scripts).

        Raises :class:`QueryFailedError` with the query's error as soon as a query has failed twice in a
        row (it is in ERROR and its retry failed too), rather than waiting out the timeout.
        """
        deadline = time.monotonic() + timeout_s
        quiet_passes = 0
        while time.monotonic() < deadline:
            with self._lock:
                running = [q for q in self.queries.values() if q.state is not QueryState.TERMINATED]
            stuck = [q for q in running if q.state is QueryState.ERROR and q.stats.failures >= 2]
            if stuck:
                raise QueryFailedError(_failure_text(stuck))
            # Queries may feed each other: wait for two quiet passes in a row.
            quiet_passes = quiet_passes + 1 if all(q.caught_up() for q in running) else 0
            if quiet_passes >= 2:
                return
            time.sleep(0.02)
        failing = [q for q in running if q.state is QueryState.ERROR]
        if failing:
            raise QueryFailedError(_failure_text(failing))
        raise TimeoutError(f"queries not caught up after {timeout_s} s")

    def failed_queries(self) -> dict[str, QueryError]:
        """The persistent queries in ERROR now, each with the error that put it there (it retries by itself)."""
        with self._lock:
            queries = list(self.queries.values())
        failed = {}
        for query in queries:
            error = query.error()
            if error is not None:
                failed[query.id] = error
        return failed

    @property
    def connect(self) -> ConnectRuntime:
        """The connector runtime on this session's log (made on first use; SQL and REST share it)."""
        with self._lock:
            if self._connect is None:
                if self.read_only:
                    raise ReadOnlySessionError(self._read_only_message("connectors are run and listed by"))
                self._connect = ConnectRuntime(self.log, policy=self._connect_policy)
            return self._connect  # type: ignore[no-any-return]

    def close(self) -> None:
        with self._lock:
            if self._connect is not None:
                self._connect.close()
            for push in list(self.push_queries.values()):
                push.close()
            for query in self.queries.values():
                query.stop()
            if isinstance(self._schema_registry, RemoteSchemaRegistry):
                self._schema_registry.close()
        if self.claim is not None:
            self.claim.release()
        if self._owns_log:
            self.log.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- dispatch -----------------------------------------------------------------
    def _execute(self, statement: ast.Statement, text: str, scoped: dict[str, str]) -> Entity | None:
        props = {**self.properties, **scoped}
        if self.read_only and isinstance(statement, _WRITING):
            raise ReadOnlySessionError(self._read_only_message(f"{_statement_words(statement)} go to"),
                                       statement.pos)
        if isinstance(statement, _COMMANDS):
            return self._command(statement, text, props)
        if isinstance(statement, ast.InsertValues):
            insert_values(self, statement)
            return None
        if isinstance(statement, ast.Query):
            raise SqlSemanticError(
                "The following statement types should be issued to the websocket endpoint '/query': "
                "* PRINT * SELECT. Use Session.query() for push queries.",
                statement.pos,
            )
        if isinstance(statement, ast.SetProperty):
            self._check_property(statement.name, statement.pos)
            self.properties[statement.name] = statement.value
            return None
        if isinstance(statement, ast.UnsetProperty):
            self.properties.pop(statement.name, None)
            if statement.name in DEFAULT_PROPERTIES:
                self.properties[statement.name] = DEFAULT_PROPERTIES[statement.name]
            return None
        if isinstance(statement, ast.DefineVariable):
            self.variables[statement.name] = statement.value
            return None
        if isinstance(statement, ast.UndefineVariable):
            self.variables.pop(statement.name, None)
            return None
        if isinstance(statement, ast.RunScript):
            return self._run_script(statement, scoped)
        if isinstance(statement, (ast.CreateConnector, ast.DropConnector, ast.DescribeConnector)) or (
                isinstance(statement, ast.Show)
                and statement.kind in (ast.ShowKind.CONNECTORS, ast.ShowKind.CONNECTOR_PLUGINS)):
            return connector_statements.execute(self.connect, statement, text, lambda topics: [
                self.inspector.description(s, False) for s in self.catalog if s.topic in topics])
        return self.inspector.entity(statement, text, props)

    def _run_script(self, statement: ast.RunScript, scoped: dict[str, str]) -> Entity | None:
        try:
            content = Path(statement.path).read_text()
        except OSError as exc:
            raise SqlSemanticError(f"Failed to read file: {statement.path} ({exc.strerror})", statement.pos) from None
        results = self.execute(content, scoped)
        return results[-1] if results else None

    def _check_property(self, name: str, pos: ast.Position) -> None:
        if not name.startswith(_PROPERTY_PREFIXES):
            raise SqlSemanticError(f"Not recognizable as ksql, streams, consumer, or producer property: '{name}'", pos)

    # -- read-only ---------------------------------------------------------------------
    def _read_only_message(self, what: str) -> str:
        return (f"This session is read-only: another process (`headwater up`) runs the persistent queries of "
                f"service '{self.service_id}' on this log, and {what} that process. Send them to it "
                "(`headwater sql http://127.0.0.1:8088`), or stop it and open this session again.")

    def _read_state(self, statement: ast.Query) -> None:
        """Load the state of the table a pull query reads, as its owner last committed it."""
        relation = statement.from_
        if not isinstance(relation, ast.AliasedRelation):
            return  # pull() explains what it does not support
        source = self.catalog.find(relation.name)
        for query in list(self.queries.values()):
            if source is not None and isinstance(query.operator, AggregateOperator) and query.sink.name == source.name:
                query.operator.read_state(new_connection())

    # -- commands ----------------------------------------------------------------------
    def _command(self, statement: ast.Statement, text: str, props: dict[str, str]) -> Entity:
        if self.fenced is not None:
            raise SqlSemanticError(f"This session no longer runs the persistent queries of service "
                                   f"'{self.service_id}': {self.fenced}", statement.pos)
        with self._lock:
            apply = self._prepare(statement, text, props)
            recorded = {k: v for k, v in props.items() if k != "ksql.service.id"}
            # A statement may be recorded as written out (CREATE with inferred columns: ``recorded_text``).
            sequence = self.commands.append(getattr(apply, "recorded_text", text), recorded)
            return apply(sequence, True)

    def _replay(self) -> None:
        """Rebuild the catalog and restart the persistent queries from the command log."""
        replayed = 0
        for command in self.commands.replay():
            props = {**DEFAULT_PROPERTIES, **command.properties}
            try:
                statement = self.catalog.types.resolve(parse_statement(command.statement))
                self._prepare(statement, command.statement, props)(command.offset, False)
                replayed += 1
            except Exception as exc:  # noqa: BLE001 - one bad command never stops the start of the others
                logger.warning("command log: command at offset %d skipped, it failed on replay (%s: %s): %s",
                               command.offset, type(exc).__name__, exc, command.statement)
        for query in self.queries.values():
            if not self.read_only:
                self._start(query)
        if replayed:
            logger.info("replayed %d command(s); %d persistent queries running", replayed, len(self.queries))

    def _prepare(self, statement: ast.Statement, text: str, props: dict[str, str]) -> Any:
        """Check and plan a command without side effects; return the function that applies it.

        The function takes (sequence number, live): live is False during replay,
        when queries are started only once the whole log is replayed.
        """
        if isinstance(statement, ast.CreateSource):
            return self._prepare_create(statement, text)
        if isinstance(statement, ast.CreateAsSelect):
            return self._prepare_csas(statement, text, props)
        if isinstance(statement, ast.InsertInto):
            return self._prepare_insert(statement, text, props)
        if isinstance(statement, ast.DropSource):
            return self._prepare_drop(statement, text)
        if isinstance(statement, ast.Terminate):
            return self._prepare_terminate(statement, text)
        if isinstance(statement, ast.CreateType):
            self.catalog.types.check_new(statement)
            return lambda sequence, live: current_status(
                text, f"type/`{statement.name}`/create", self.catalog.types.register(statement), sequence=sequence)
        if isinstance(statement, ast.DropType):
            self.catalog.types.check_drop(statement)
            return lambda sequence, live: current_status(
                text, f"type/`{statement.name}`/drop", self.catalog.types.drop(statement), sequence=sequence)
        raise SqlSemanticError(f"{type(statement).__name__} is not a command", statement.pos)

    @property
    def schema_registry(self) -> SchemaRegistry:
        """The registry of AVRO/PROTOBUF/JSON_SR sources: ``ksql.schema.registry.url``'s, else one in this log."""
        with self._lock:
            if self._schema_registry is None:
                url = self.properties.get("ksql.schema.registry.url") or self.properties.get("schema.registry.url")
                self._schema_registry = (RemoteSchemaRegistry(url, user_info=self.properties.get(
                    "ksql.schema.registry.basic.auth.user.info")) if url else local_registry(self.log))
            return self._schema_registry

    def _registry_for(self, props: ast.Properties) -> SchemaRegistry | None:
        names = [props.get(n) for n in ("FORMAT", "KEY_FORMAT", "VALUE_FORMAT")]
        return self.schema_registry if any(uses_registry(str(n.value)) for n in names if n is not None) else None  # type: ignore[attr-defined]

    def _with_registry(self, source: DataSource) -> DataSource:
        if uses_registry(source.key_format) or uses_registry(source.value_format):
            return replace(source, schema_registry=self.schema_registry)
        return source

    def _check_new_name(self, kind: ast.SourceKind, name: str, or_replace: bool, pos: ast.Position) -> bool:
        """False when the name is taken and IF NOT EXISTS lets the statement do nothing."""
        existing = self.catalog.find(name)
        if existing is None or or_replace:
            return True
        noun = "table" if existing.is_table else "stream"
        raise SqlSemanticError(
            f"Cannot add {kind.value.lower()} '{name}': A {noun} with the same name already exists", pos
        )

    def _prepare_create(self, statement: ast.CreateSource, text: str) -> Any:
        existing = self.catalog.find(statement.name)
        if existing is not None and statement.if_not_exists and not statement.or_replace:
            kind = statement.kind.value.capitalize()

            def noop(sequence: int, live: bool) -> Entity:
                return current_status(text, f"{kind.lower()}/`{statement.name}`/create",
                                      f"Cannot add {kind.lower()} `{statement.name}`: A {kind.lower()} with the "
                                      "same name already exists.", sequence=sequence)

            return noop
        self._check_new_name(statement.kind, statement.name, statement.or_replace, statement.pos)
        inferred = infer_columns(statement, self._registry_for(statement.properties))
        if inferred is not statement:  # the command log keeps the columns and schema ids, as ksqlDB does
            statement, text = inferred, statement_text(inferred)
        source = self._with_registry(source_from_create(statement, text, None))
        topic_partitions = self._topic_partitions(source.topic)
        requested = source.properties.get("PARTITIONS")
        if topic_partitions is None and requested is None:
            raise SqlSemanticError(
                f"Topic '{source.topic}' does not exist. If you want to create a new topic for the "
                f"{statement.kind.value.lower()} please re-run the statement providing the required 'PARTITIONS' "
                "configuration in the WITH clause (and optionally 'REPLICAS'). For example: "
                f"CREATE {statement.kind.value} {statement.name} (ID INT) WITH (KAFKA_TOPIC='{source.topic}', "
                "PARTITIONS=2, REPLICAS=1, FORMAT='JSON');",
                statement.pos,
            )
        if topic_partitions is not None and requested is not None and int(requested) != topic_partitions:  # type: ignore[call-overload]
            raise SqlSemanticError(
                f"A Kafka topic with the name '{source.topic}' already exists, with different partition/replica "
                f"configuration than required by KSQL. KSQL requires {requested} partitions (1 replication factor) "
                f"and the existing topic has {topic_partitions} partitions (1 replication factor).",
                statement.pos,
            )
        if topic_partitions is None:
            self._check_new_topic(source.topic, source.partitions, source.properties, statement.pos)
            try:  # a topic this statement makes gets its subjects too, as ksqlDB's SchemaRegisterInjector does
                register_schemas(source, if_absent=True)
            except FormatError as exc:
                raise SqlSemanticError(str(exc), statement.pos) from None
        kind_word = statement.kind.value.capitalize()

        def apply(sequence: int, live: bool) -> Entity:
            partitions = self._ensure_topic(source.topic, source.partitions, source.properties)
            self.catalog.put(_with_partitions(source, partitions))
            return current_status(text, f"{kind_word.lower()}/`{source.name}`/create", f"{kind_word} created",
                                  sequence=sequence)

        apply.recorded_text = text  # type: ignore[attr-defined]
        return apply

    def _prepare_csas(self, statement: ast.CreateAsSelect, text: str, props: dict[str, str]) -> Any:
        aggregating = statement.query.group_by is not None
        produces_table = (aggregating or self._reads_table(statement.query)
                          or join_produces_table(statement.query, self.catalog))
        if statement.kind is ast.SourceKind.STREAM and produces_table:
            raise SqlSemanticError("Invalid result type. Your SELECT query produces a TABLE. Please use CREATE TABLE "
                                   "AS SELECT statement instead.", statement.pos)
        if statement.kind is ast.SourceKind.TABLE and not produces_table:
            raise SqlSemanticError("Invalid result type. Your SELECT query produces a STREAM. Please use CREATE "
                                   "STREAM AS SELECT statement instead.", statement.pos)
        kind_word = statement.kind.value.lower()
        if statement.if_not_exists and statement.name in self.catalog:
            return lambda sequence, live: current_status(text, f"{kind_word}/`{statement.name}`/create",
                                                         f"{kind_word.capitalize()} already exists.", sequence=sequence)
        self._check_new_name(statement.kind, statement.name, statement.or_replace, statement.pos)
        timestamp = statement.properties.get("TIMESTAMP")
        joined: tuple[JoinPlan, DataSource] | None = None
        if isinstance(statement.query.from_, ast.Join) and aggregating:
            joined, plan = self._plan_join_aggregate(statement.query, statement.name, text)
        else:
            plan = self.plan(statement.query, sink_name=statement.name,
                             timestamp_column=str(timestamp.value).upper() if timestamp is not None else None)  # type: ignore[attr-defined]
        wrap = props.get("ksql.persistence.wrap.single.values", "true").lower() != "false"
        sink = self._with_registry(sink_from_select(statement.kind, statement.name, statement.properties, plan, text,
                                                    pos=statement.pos, default_wrap=wrap))
        if isinstance(plan, AggregatePlan) and plan.window is not None:
            sink = replace(sink, window=plan.window.info())
        elif isinstance(plan, SelectPlan | JoinPlan) and plan.source.window is not None:
            sink = replace(sink, window=plan.source.window)  # a windowed source's rows keep their windows
        try:
            register_schemas(sink)  # as ksqlDB: the output's subjects hold its schemas before any record
        except FormatError as exc:
            raise SqlSemanticError(str(exc), statement.pos) from None
        prefix = "CTAS" if produces_table else "CSAS"
        if self._topic_partitions(sink.topic) is None:
            self._check_new_topic(sink.topic, sink.partitions, sink.properties, statement.pos)

        def apply(sequence: int, live: bool) -> Entity:
            query_id = f"{prefix}_{statement.name}_{sequence}"
            partitions = self._ensure_topic(sink.topic, sink.partitions, sink.properties)
            registered = _with_partitions(sink, partitions)
            self.catalog.put(registered)
            final_plan = plan
            if joined is not None:  # the join's half of the statement, into its internal topic
                join_plan, between = joined
                between = replace(between, topic=join_aggregate.internal_topic(self.service_id, query_id))
                between = _with_partitions(between, self._ensure_topic(between.topic, between.partitions, {}))
                self._add_query(f"{query_id}{JOIN_PART}", text, join_plan, between, props, live)
                final_plan = replace(plan, source=between)
            self._add_query(query_id, text, final_plan, registered, props, live)
            return current_status(text, f"{kind_word}/`{sink.name}`/create",
                                  f"Created query with ID {query_id}", query_id, sequence)

        return apply

    def _prepare_insert(self, statement: ast.InsertInto, text: str, props: dict[str, str]) -> Any:
        target = self.catalog.get(statement.target, statement.pos)
        if target.is_table:
            raise SqlSemanticError(f"INSERT INTO can only be used to insert into a stream. {target.name} is a table.",
                                   statement.pos)
        if target.is_source:
            raise SqlSemanticError(f"Cannot insert into read-only stream: {target.name}", statement.pos)
        if statement.query.group_by is not None or self._reads_table(statement.query):
            raise SqlSemanticError(f"Incompatible data sink and query result. Data sink ({target.name}) type is "
                                   "KSTREAM but select query result is KTABLE.", statement.pos)
        plan = self.plan(statement.query, sink_name=target.name)
        produced = [(o.name, o.type, o.namespace) for o in (*plan.key_outputs, *plan.value_outputs)]
        expected = [(c.name, c.type, c.namespace) for c in target.columns if c.namespace.value in ("KEY", "VALUE")]
        if produced != expected:
            raise SqlSemanticError(
                f"Incompatible schema between results and sink.\nResult schema is "
                f"{_schema_text(produced)}\nSink schema is {_schema_text(expected)}",
                statement.pos,
            )
        query_id_literal = statement.properties.get("QUERY_ID")

        def apply(sequence: int, live: bool) -> Entity:
            query_id = str(query_id_literal.value).upper() if query_id_literal is not None else f"INSERTQUERY_{sequence}"  # type: ignore[attr-defined]
            self._add_query(query_id, text, plan, target, props, live)
            return current_status(text, f"stream/`{target.name}`/create",
                                  f"Created query with ID {query_id}", query_id, sequence)

        return apply

    def _prepare_drop(self, statement: ast.DropSource, text: str) -> Any:
        source = self.catalog.find(statement.name)
        kind_word = statement.kind.value.capitalize()
        if source is None:
            if not statement.if_exists:
                raise SqlSemanticError(f"{kind_word} {statement.name} does not exist.", statement.pos)
            return lambda sequence, live: current_status(text, f"{kind_word.lower()}/`{statement.name}`/drop",
                                                         f"Source `{statement.name}` does not exist.", sequence=sequence)
        if source.is_table != (statement.kind is ast.SourceKind.TABLE):
            actual = "table" if source.is_table else "stream"
            raise SqlSemanticError(
                f"Incompatible data source type is {actual.upper()}, but statement was DROP {statement.kind.value}",
                statement.pos,
            )
        if statement.delete_topic and source.is_source:
            raise SqlSemanticError(f"Cannot delete topic for read-only source: {source.name}", statement.pos)
        # DROP terminates the query of the CREATE ... AS that made the source, as ksqlDB does; other writers
        # (INSERT INTO) and readers must be terminated first.
        creators = [q.id for q in self.queries.values() if q.sink.name == source.name and q.id.startswith(("CSAS_", "CTAS_"))]
        creators += [f"{c}{JOIN_PART}" for c in creators if f"{c}{JOIN_PART}" in self.queries]
        writers = [q.id for q in self.queries.values() if q.sink.name == source.name and q.id not in creators]
        readers = [q.id for q in self.queries.values()
                   if source.name in (s.source.name for s in getattr(q.plan, "sources", [q.plan]))]
        if writers or readers:
            parts = []
            if readers:
                parts.append(f"The following queries read from this source: [{', '.join(sorted(readers))}].")
            if writers:
                parts.append(f"The following queries write into this source: [{', '.join(sorted(writers))}].")
            raise SqlSemanticError(
                f"Cannot drop {source.name}.\n" + "\n".join(parts) + "\nYou need to terminate them before dropping "
                f"{source.name}.",
                statement.pos,
            )

        def apply(sequence: int, live: bool) -> Entity:
            for query_id in creators:
                query = self.queries.pop(query_id)
                if live:
                    query.stop()
            self.catalog.remove(source.name)
            if statement.delete_topic and live and source.topic in self.log.list_topics():
                if not self.catalog.by_topic(source.topic):
                    self.log.delete_topic(source.topic)
            return current_status(text, f"{kind_word.lower()}/`{source.name}`/drop",
                                  f"Source `{source.name}` (topic: {source.topic}) was dropped.", sequence=sequence)

        return apply

    def _prepare_terminate(self, statement: ast.Terminate, text: str) -> Any:
        ids = list(self.queries) if statement.query_id is None else [statement.query_id.upper()]
        for query_id in ids:
            if query_id not in self.queries:
                raise SqlSemanticError(f"Unknown queryId: {query_id}", statement.pos)
        ids += [f"{i}{JOIN_PART}" for i in ids if f"{i}{JOIN_PART}" in self.queries and f"{i}{JOIN_PART}" not in ids]

        def apply(sequence: int, live: bool) -> Entity:
            for query_id in ids:
                query = self.queries.pop(query_id)
                if live:
                    query.stop()
            return current_status(text, f"terminate/{'ALL' if statement.query_id is None else ids[0]}/execute",
                                  "Query terminated.", sequence=sequence)

        return apply

    # -- helpers ------------------------------------------------------------------------
    def plan(
        self, query: ast.Query, *, sink_name: str | None, timestamp_column: str | None = None
    ) -> SelectPlan | AggregatePlan | JoinPlan:
        """The plan of a SELECT over this session's catalog (for EXPLAIN, push queries and commands)."""
        relation = query.from_
        if isinstance(relation, ast.Join):
            if query.group_by is not None:  # the aggregation's plan, over the join's rows
                return self._plan_join_aggregate(query, sink_name, "")[1]
            if query.window is not None:
                raise SqlSemanticError("WINDOW and HAVING need a GROUP BY clause.", query.pos)
            return plan_join(query, relation, self.catalog, sink_name=sink_name, timestamp_column=timestamp_column)
        if not isinstance(relation, ast.AliasedRelation):
            raise SqlSemanticError(f"{type(relation).__name__} is not supported in FROM.", relation.pos)
        source = self.catalog.get(relation.name, relation.pos)
        if query.group_by is not None:
            return plan_aggregate(query, source, relation.alias, sink_name=sink_name)
        if query.window is not None or query.having is not None:
            raise SqlSemanticError("WINDOW and HAVING need a GROUP BY clause.", query.pos)
        return plan_select(query, source, relation.alias, sink_name=sink_name, timestamp_column=timestamp_column)

    def _plan_join_aggregate(self, query: ast.Query, sink_name: str | None, text: str) -> tuple[
            tuple[JoinPlan, DataSource], AggregatePlan]:
        """GROUP BY over a join: the join's plan and the internal stream or table it writes, and the
        aggregation's plan over that (see ``sql/join_aggregate.py``); ``sink_name`` None: a push query's."""
        assert isinstance(query.from_, ast.Join)
        if query.window is not None and join_produces_table(query, self.catalog):
            raise SqlSemanticError("Windowing not supported for table aggregations.", query.pos)
        joined_query, aggregation = join_aggregate.split(query, query.from_, self.catalog)
        name = f"{sink_name or 'TRANSIENT'}{JOIN_PART}"
        join_plan = plan_join(joined_query, query.from_, self.catalog, sink_name=name)
        kind = ast.SourceKind.TABLE if join_plan.is_table else ast.SourceKind.STREAM
        between = sink_from_select(kind, name, {}, join_plan, text, pos=query.pos)  # type: ignore[arg-type]
        return (join_plan, between), plan_aggregate(aggregation(between), between, None, sink_name=sink_name)

    def _reads_table(self, query: ast.Query) -> bool:
        """A SELECT over one TABLE (no join) produces a table: CREATE STREAM AS SELECT cannot hold it."""
        relation = query.from_
        if not isinstance(relation, ast.AliasedRelation):
            return False
        source = self.catalog.find(relation.name)
        return source is not None and source.is_table

    def _add_query(self, query_id: str, text: str, plan: SelectPlan | AggregatePlan | JoinPlan, sink: DataSource,
                   props: dict[str, str], live: bool) -> None:
        if query_id in self.queries:
            raise SqlSemanticError(f"Query id {query_id} is already in use.")
        group = f"_confluent-ksql-{self.service_id}query_{query_id}"
        operator = persistent_operator(plan, self.log, query_id=query_id, statement=text, service_id=self.service_id,
                                       group=group, offset_reset=props.get("auto.offset.reset", "latest"))
        query = PersistentQuery(
            query_id, text, operator, sink, self.log, group=group, service_id=self.service_id,
            include_rows=props.get("ksql.logging.processing.rows.include", "false").lower() == "true",
        )
        self.queries[query_id] = query
        if live:
            self._start(query)

    def _start(self, query: PersistentQuery) -> None:
        """Fence any other writer of the query first, so the offsets it then reads are final."""
        query.on_fenced = self._on_fenced
        self.log.init_transactions(query.group)
        query.start()

    def _on_fenced(self, query: PersistentQuery, error: ProducerFencedError) -> None:
        """A query's commit was refused: another process took the service over."""
        self._lose_ownership(f"query {query.id} was fenced by a newer writer (another process took the service over)")

    def _on_taken_over(self, pid: int | None) -> None:
        """Stop the queries now that another process took the service over; their next commit would be refused."""
        owner = f"process {pid}" if pid else "another process"
        for query in list(self.queries.values()):
            query.stop()
            query.fenced(ProducerFencedError(query.group, f"{owner} took service '{self.service_id}' over"))
        self._lose_ownership(f"{owner} took the service over")

    def _lose_ownership(self, reason: str) -> None:
        """Refuse statements that would start queries from now on, and let the new owner have the claim."""
        if self.fenced is None:
            self.fenced = reason
            logger.error("session: service %r: %s; its persistent queries here stop", self.service_id, reason)
        if self.claim is not None:
            self.claim.release()

    def _topic_partitions(self, topic: str) -> int | None:
        if topic not in self.log.list_topics():
            return None
        return self.log.describe_topic(topic).partitions

    def _ensure_topic(self, topic: str, partitions: int, properties: Mapping[str, object]) -> int:
        existing = self._topic_partitions(topic)
        if existing is not None:
            return existing
        return self.log.create_topic(topic, partitions, _topic_config(properties), exist_ok=True).partitions

    def _check_new_topic(self, topic: str, partitions: int, properties: Mapping[str, object],
                         pos: ast.Position) -> None:
        """The topic a statement would create can be created: checked before the statement is recorded,
        so a refused statement never reaches the command log (and never stops the next start)."""
        try:
            validate_topic_name(topic)
            validate_topic_config(topic, partitions, _topic_config(properties))
        except LogError as exc:
            raise SqlSemanticError(f"Could not create topic '{topic}': {exc}", pos) from None


def _topic_config(properties: Mapping[str, object]) -> dict[str, str]:
    config = {}
    if properties.get("RETENTION_MS") is not None:
        config["retention.ms"] = str(properties["RETENTION_MS"])
    if properties.get("CLEANUP_POLICY") is not None:
        config["cleanup.policy"] = str(properties["CLEANUP_POLICY"])
    return config


def _with_partitions(source: DataSource, partitions: int) -> DataSource:
    return replace(source, partitions=partitions)


def _failure_text(queries: list[PersistentQuery]) -> str:
    return "; ".join(f"query {q.id} is in ERROR: {q.stats.last_error}" for q in queries)


def _schema_text(columns: list[tuple[str, Any, Any]]) -> str:
    return ", ".join(f"`{name}` {type_.sql()}{' KEY' if ns.value == 'KEY' else ''}" for name, type_, ns in columns)
