"""Golden SQL cases in the shape of ksqlDB's query-translation tests (QTT).

A case file (``cases/*.json``) holds ``{"tests": [...]}``; each test has
``name``, ``statements``, and either ``inputs`` + ``outputs`` or
``expectedException`` (``type``: an exception class name, ``message``: a
substring of its message, optional ``position``: ``"line:column"`` of the
culprit, checked against the exception's ``line`` and ``column``). Optional
``properties`` are session properties (``auto.offset.reset`` is ``earliest``
unless a case says otherwise). A case with ``pending`` (a reason) is skipped
with that reason: it states ksqlDB's behaviour that Headwater does not have
yet, so the defect stays visible while the suite stays green.

Records are ``{"topic", "key", "value", "timestamp", "partition", "headers"}``
(all but ``topic`` optional). Input keys and values are serialized with the
formats of the stream declared on that topic:

- a string is sent as its UTF-8 text, whatever the format: a DELIMITED
  line (``"1,Alice,3.5"``), a KAFKA STRING, a JSON text given literally (a
  JSON string value is ``"\\"text\\""``), or malformed input.
- JSON: an object, array, number or boolean is sent as its JSON text.
- KAFKA: a number by the type of the one column: INT 4 bytes and BIGINT 8
  bytes big-endian, DOUBLE 8 bytes IEEE 754.
- AVRO: a key, or a value that is not a string, is written in Confluent's wire format by fastavro, with the
  latest schema of the subject ``<topic>-value`` / ``<topic>-key`` (a case's ``schemas``, ``{subject:
  avro schema}``, are registered before its statements) or else the schema the source registers. Output
  Avro is read back by fastavro with the schema its id names (logical types as their ``str``).
- JSON_SR: the same framing with the subject's JSON schema id, then the JSON text.
- PROTOBUF / PROTOBUF_NOSR: written and read by protobuf's ``json_format`` (so int64 values read back as
  strings); PROTOBUF framed with the subject's schema id and message index [0].
- ``null`` is a null key or value (a tombstone).

``partition`` sends the record to that partition; otherwise a keyed record
on a multi-partition topic goes where the log's partitioner puts it.
``headers`` are ``[{"KEY": "k", "VALUE": "<base64>"}]`` as in QTT (VALUE may
be null).

A windowed table's output key carries its window, as ksqlDB's windowed
serdes write it; the runner splits it off: ``key`` is the key proper and
``window`` is ``{"start": ms, "end": ms}`` (compared when a case lists it).
An input record with a ``window`` gets it appended to its key the same way
(for a source declared with WINDOW_TYPE).

``valueText`` / ``keyText`` on an expected output record compare the exact
bytes written (as UTF-8 text, the key without its window): how a number or
a string is spelled, not only its value. ``headers`` on an expected output
record compares the record's headers (``[{"KEY", "VALUE": base64}]``).

Outputs are compared per topic, in order (per partition, partitions in
order), after decoding with the sink's formats (the inverse of the above).
Every record of a listed topic must be listed (nothing missing, nothing
extra), and the topic of every persistent query's sink that is not listed
must stay empty (terminated queries included). Output timestamps and
partitions are compared when a case gives them. Records of the processing
log topic (``default_ksql_processing_log``) are decoded as JSON and their
expected value is matched as a *subset* (the keys a case lists must be
equal; the entry's ``time``, say, is not compared).

``queries`` (optional) run once the inputs are processed: ``[{"sql": ...,
"rows": [[...], ...]}]``. A pull query's rows are compared as returned; a
push query (``EMIT CHANGES``) is read until its LIMIT or until it has been
quiet for a second, and its rows are compared in order.

``responses`` (optional) checks what ``Session.execute`` returned: a list
aligned with ``statements``; ``null`` skips a statement, an object must
match (as a subset, see :func:`matches`) the one entity the statement
returned, and a list matches all the entities it returned.
"""

from __future__ import annotations

import base64
import io
import json
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import fastavro
import orjson
from google.protobuf import json_format, message_factory

from headwater.engine import push as engine_push
from headwater.engine import query as engine_query
from headwater.engine.codec import key_format, value_format
from headwater.formats.protobuf_schema import build, proto_text
from headwater.formats.registered import wire_header
from headwater.registry import RegistryError
from headwater.registry.base import Schema as RegistrySchema
from headwater.log import Record
from headwater.session import Session
from headwater.sql.catalog import DataSource
from headwater.sql.types import BaseType

CASES = Path(__file__).parent / "cases"
PROCESSING_LOG = "default_ksql_processing_log"

#: In-memory databases with the SQL functions installed, shared by the cases (see ``_quick_engine``).
_databases: list[Any] = []


@contextmanager
def _quick_engine() -> Iterator[None]:
    """Engine settings that make a case fast, restored afterwards (other tests see the defaults).

    A query thread notices a stop request between polls, so with the default
    poll timeout every ``Session.close()`` waits ~0.2 s per query; polls wake
    on new data either way. And installing the SQL functions on a fresh
    DuckDB connection takes ~0.1 s per query: the cases reuse databases with
    the functions installed, each connection of a case (a query's) a cursor of
    a database of its own, so queries never share state tables (a query's
    ``state`` or ``t1`` is a table of its database, and cursors of one
    database see the same tables).
    """
    saved = engine_query.POLL_TIMEOUT_S, engine_query.new_connection
    handed = 0

    def connection() -> Any:
        nonlocal handed
        if handed == len(_databases):
            _databases.append(saved[1]())
        handed += 1
        return _databases[handed - 1].cursor()

    engine_query.POLL_TIMEOUT_S = 0.02
    engine_query.new_connection = connection
    try:
        yield
    finally:
        engine_query.POLL_TIMEOUT_S, engine_query.new_connection = saved


# KAFKA format: struct codes of the fixed-size types (Kafka's Integer/Long/Double serializers).
_KAFKA_CODES = {BaseType.INTEGER: ">i", BaseType.BIGINT: ">q", BaseType.DOUBLE: ">d"}


def load_cases() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(CASES.glob("*.json")):
        for test in json.loads(path.read_text())["tests"]:
            found.append((f"{path.stem}: {test['name']}", test))
    return found


def _source_for(session: Session, topic: str) -> DataSource | None:
    sources = session.catalog.by_topic(topic)
    return sources[0] if sources else None


def _kafka_base(source: DataSource, role: str) -> BaseType | None:
    columns = source.key_columns if role == "key" else source.value_columns
    return columns[0].type.base if len(columns) == 1 else None


def _avro_encode(session: Session, source: DataSource | None, topic: str, role: str, data: Any) -> bytes:
    """``data`` in Confluent's Avro wire format, written by fastavro with the subject's latest schema (or, when
    the subject has none yet, the schema the source's format registers)."""
    registry = session.schema_registry
    try:
        found = registry.version(f"{topic}-{role}")
        schema_id, text = found.schema_id, found.schema.text
    except RegistryError:
        assert source is not None, f"no schema for {topic}-{role} and no source to make one"
        fmt = key_format(source) if role == "key" else value_format(source)
        schema_id = fmt.register_schema()
        text = registry.schema(schema_id).text
    out = io.BytesIO()
    out.write(wire_header(schema_id))
    if registry.schema(schema_id).schema_type == "JSON":
        out.write(orjson.dumps(data))
    else:
        fastavro.schemaless_writer(out, fastavro.parse_schema(json.loads(text)), data)
    return out.getvalue()


def _avro_decode(session: Session, raw: bytes) -> Any:
    """A wire-format Avro record read by stock fastavro with the schema its id names."""
    assert raw[0] == 0, f"not Avro wire format: {raw!r}"
    schema = session.schema_registry.schema(int.from_bytes(raw[1:5], "big"))
    if schema.schema_type == "JSON":
        return orjson.loads(raw[5:])
    decoded = fastavro.schemaless_reader(io.BytesIO(raw[5:]), fastavro.parse_schema(json.loads(schema.text)), None)
    return json.loads(json.dumps(decoded, default=str))


def _nosr_descriptor(source: DataSource, role: str) -> Any:
    columns = [(c.name, c.type) for c in (source.key_columns if role == "key" else source.value_columns)]
    wrapped = role == "value" and (len(columns) != 1 or source.wrap_single_value is not False)
    return build(proto_text(columns if wrapped else [("VALUE", columns[0][1])], None))[0]


def _protobuf_encode(session: Session, source: DataSource | None, topic: str, role: str, data: Any) -> bytes:
    """``data`` as a Protobuf message by protobuf's own json_format (PROTOBUF: Confluent-framed, with the
    subject's latest schema or the one the source registers; PROTOBUF_NOSR: the columns' message)."""
    assert source is not None
    fmt = source.key_format if role == "key" else source.value_format
    if fmt == "PROTOBUF_NOSR":
        descriptor = _nosr_descriptor(source, role)
        header = b""
    else:
        registry = session.schema_registry
        try:
            found = registry.version(f"{topic}-{role}")
            schema_id, text = found.schema_id, found.schema.text
        except RegistryError:
            encoder = key_format(source) if role == "key" else value_format(source)
            schema_id = encoder.register_schema()
            text = registry.schema(schema_id).text
        descriptor = build(text)[0]
        header = wire_header(schema_id) + b"\x00"
    message = message_factory.GetMessageClass(descriptor)()
    json_format.ParseDict(data if isinstance(data, dict) else {descriptor.fields[0].name: data}, message)
    return header + message.SerializeToString()


def _protobuf_decode(session: Session, source: DataSource, role: str, raw: bytes) -> Any:
    fmt = source.key_format if role == "key" else source.value_format
    if fmt == "PROTOBUF_NOSR":
        descriptor, body = _nosr_descriptor(source, role), raw
    else:
        assert raw[0] == 0 and raw[5] == 0, f"not Confluent Protobuf framing: {raw!r}"
        descriptor = build(session.schema_registry.schema(int.from_bytes(raw[1:5], "big")).text)[0]
        body = raw[6:]
    message = message_factory.GetMessageClass(descriptor).FromString(body)
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def _encode(source: DataSource | None, role: str, data: Any, session: Session | None = None,
            topic: str = "") -> bytes | None:
    if data is None:
        return None
    fmt = None if source is None else (source.key_format if role == "key" else source.value_format)
    if session is not None and fmt in ("PROTOBUF", "PROTOBUF_NOSR") and (role == "key" or not isinstance(data, str)):
        return _protobuf_encode(session, source, topic, role, data)
    if session is not None and fmt in ("AVRO", "JSON_SR") and (role == "key" or not isinstance(data, str)):
        return _avro_encode(session, source, topic, role, data)
    if source is not None and fmt == "KAFKA" and not isinstance(data, str):
        code = _KAFKA_CODES.get(_kafka_base(source, role))  # type: ignore[arg-type]
        if code is not None:
            return struct.pack(code, data)
    if isinstance(data, str):
        return data.encode()
    return orjson.dumps(data)


def _decode(source: DataSource | None, role: str, raw: bytes | None, session: Session | None = None) -> Any:
    if raw is None:
        return None
    fmt = None if source is None else (source.key_format if role == "key" else source.value_format)
    if session is not None and fmt in ("AVRO", "JSON_SR"):
        return _avro_decode(session, raw)
    if session is not None and source is not None and fmt in ("PROTOBUF", "PROTOBUF_NOSR"):
        return _protobuf_decode(session, source, role, raw)
    if source is not None and fmt == "KAFKA":
        code = _KAFKA_CODES.get(_kafka_base(source, role))  # type: ignore[arg-type]
        if code is not None and len(raw) == struct.calcsize(code):
            return struct.unpack(code, raw)[0]
    if fmt == "JSON":
        return orjson.loads(raw)
    return raw.decode(errors="replace")


def matches(expected: Any, actual: Any, *, subset: bool = True) -> bool:
    """``expected`` equals ``actual``; with ``subset``, a dict only needs the keys ``expected`` lists.

    Lists compare elementwise and must have the same length. Numbers compare by
    value (JSON ``1`` equals ``1.0``), but a boolean never equals a number.
    """
    if isinstance(expected, dict):
        return (isinstance(actual, dict) and (subset or expected.keys() == actual.keys())
                and all(k in actual and matches(v, actual[k], subset=subset) for k, v in expected.items()))
    if isinstance(expected, list):
        return (isinstance(actual, list) and len(expected) == len(actual)
                and all(matches(e, a, subset=subset) for e, a in zip(expected, actual, strict=True)))
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    return bool(expected == actual)


def run_case(test: dict[str, Any], log_dir: str) -> None:
    properties = {"auto.offset.reset": "earliest", **test.get("properties", {})}
    expected_error = test.get("expectedException")
    with _quick_engine(), Session(log_dir, properties=properties) as session:
        for subject, schema in test.get("schemas", {}).items():
            session.schema_registry.register(subject, RegistrySchema(json.dumps(schema)))
        responses: list[list[dict[str, Any]]] = []
        sinks: set[str] = set()  # topics of every persistent query started, terminated ones included
        try:
            for statement in test["statements"]:
                responses.append(session.execute(statement))
                sinks.update(q.sink.topic for q in session.queries.values())
        except Exception as exc:
            if expected_error is None:
                raise
            _check_error(expected_error, exc)
            return
        assert expected_error is None, f"expected {expected_error}, but every statement succeeded"
        _check_responses(test.get("responses"), responses)
        _produce(session, test.get("inputs", []))
        session.wait_until_processed(timeout_s=20)
        _check_outputs(session, test.get("outputs", []), sinks)
        _check_queries(session, test.get("queries", []))


def _check_queries(session: Session, queries: list[dict[str, Any]]) -> None:
    for query in queries:
        result = session.query(query["sql"])
        if isinstance(result, engine_push.PushQuery):
            try:
                rows = list(result.rows(timeout_s=1.0))
            finally:
                result.close()
        else:
            rows = result.rows
        assert matches(query["rows"], rows, subset=False), f"{query['sql']}\n expected {query['rows']}\n got {rows}"


def _check_error(expected: dict[str, Any], exc: Exception) -> None:
    assert type(exc).__name__ == expected.get("type", type(exc).__name__), f"{type(exc).__name__}: {exc}"
    assert expected["message"] in str(exc), f"{exc!s}\n does not contain {expected['message']!r}"
    if "position" in expected:
        got = f"{getattr(exc, 'line', '?')}:{getattr(exc, 'column', '?')}"
        assert got == expected["position"], f"error at {got}, expected at {expected['position']}: {exc}"


def _check_responses(expected: list[Any] | None, actual: list[list[dict[str, Any]]]) -> None:
    if expected is None:
        return
    assert len(expected) == len(actual), f"{len(expected)} responses listed for {len(actual)} statements"
    for i, (want, got) in enumerate(zip(expected, actual, strict=True)):
        if want is None:
            continue
        entity: Any = got if isinstance(want, list) else (got[0] if len(got) == 1 else got)
        assert matches(want, entity), f"statement {i}: response\n {entity}\n does not match\n {want}"


def _produce(session: Session, inputs: list[dict[str, Any]]) -> None:
    for record in inputs:
        topic = record["topic"]
        source = _source_for(session, topic)
        headers = tuple(
            (h["KEY"], None if h.get("VALUE") is None else base64.b64decode(h["VALUE"]))
            for h in record.get("headers", [])
        )
        key = _encode(source, "key", record.get("key"), session, topic)
        if key is not None and "window" in record:
            key += _window_suffix(source, record["window"])
        rec = Record(_encode(source, "value", record.get("value"), session, topic), key,
                     record.get("timestamp", 0), headers)
        partitions = session.log.describe_topic(topic).partitions
        if "partition" in record or partitions == 1 or rec.key is None:
            session.log.append(topic, record.get("partition", 0), [rec])
        else:
            session.log.produce(topic, [rec])


def _check_outputs(session: Session, outputs: list[dict[str, Any]], sinks: set[str]) -> None:
    expected_by_topic: dict[str, list[dict[str, Any]]] = {}
    for record in outputs:
        expected_by_topic.setdefault(record["topic"], []).append(record)
    for topic in sorted(sinks):
        if not topic.startswith("_confluent-ksql-"):  # internal topics are not outputs (as in QTT)
            expected_by_topic.setdefault(topic, [])
    topics = session.log.list_topics()
    for topic, expected in expected_by_topic.items():
        if topic not in topics and not expected:
            continue  # a sink topic deleted by DROP ... DELETE TOPIC
        assert topic in topics, f"output topic {topic} does not exist (topics: {sorted(topics)})"
        sink = _source_for(session, topic)
        got = [
            {
                "key": _decode(sink, "key", _unwindowed(sink, r["key"]), session),
                "window": _window(sink, r["key"]),
                "value": orjson.loads(r["value"]) if topic == PROCESSING_LOG else _decode(sink, "value", r["value"], session),
                "timestamp": r["timestamp"],
                "partition": r["partition"],
                "valueText": None if r["value"] is None else r["value"].decode(errors="replace"),
                "keyText": None if r["key"] is None else _unwindowed(sink, r["key"]).decode(errors="replace"),  # type: ignore[union-attr]
                "headers": [{"KEY": h["key"], "VALUE": None if h["value"] is None else base64.b64encode(h["value"]).decode()}
                            for h in r["headers"] or []],
            }
            for r in _read_all(session, topic)
        ]
        fields = ("key", "value", "timestamp", "partition", "window", "valueText", "keyText", "headers")
        want = [{k: r.get(k) for k in ("key", "value")} | {k: r[k] for k in fields[2:] if k in r} for r in expected]
        subset = topic == PROCESSING_LOG
        ok = len(got) == len(want) and all(
            matches(w["value"], g["value"], subset=subset) and all(matches(w[k], g[k], subset=False) for k in w if k != "value")
            for w, g in zip(want, got, strict=True)
        )
        assert ok, f"topic {topic}:\n expected {want}\n got      {got}"


def _window_suffix(source: DataSource | None, window: dict[str, int]) -> bytes:
    """What ksqlDB's windowed serdes append to a key: the start, or for a session the end then the start."""
    if source is not None and source.window is not None and source.window.kind == "SESSION":
        return struct.pack(">qq", window["end"], window["start"])
    return struct.pack(">q", window["start"])


def _window_bytes(sink: DataSource | None) -> int:
    if sink is None or sink.window is None:
        return 0
    return 16 if sink.window.kind == "SESSION" else 8


def _unwindowed(sink: DataSource | None, raw: bytes | None) -> bytes | None:
    n = _window_bytes(sink)
    return raw if raw is None or not n else raw[:-n]


def _window(sink: DataSource | None, raw: bytes | None) -> dict[str, int] | None:
    """The window a windowed key ends with: start (8 bytes, big-endian) for time windows, end then start for sessions."""
    n = _window_bytes(sink)
    if raw is None or not n:
        return None
    assert sink is not None and sink.window is not None
    if n == 16:
        end, start = struct.unpack(">qq", raw[-16:])
        return {"start": start, "end": end}
    (start,) = struct.unpack(">q", raw[-8:])
    return {"start": start, "end": start + (sink.window.size_ms or 0)}


def _read_all(session: Session, topic: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for partition in range(session.log.describe_topic(topic).partitions):
        offset = session.log.beginning_offset(topic, partition)
        while offset < session.log.end_offset(topic, partition):
            fetched = session.log.read(topic, partition, offset)
            rows = fetched.records.select(["key", "value", "timestamp", "headers"]).to_pylist()
            out.extend(row | {"partition": partition} for row in rows)
            offset = fetched.next_offset
    return out


__all__ = ["PROCESSING_LOG", "load_cases", "matches", "run_case"]
