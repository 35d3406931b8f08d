"""CREATE STREAM / TABLE: WITH properties checked as ksqlDB checks them, and the DataSource built.

Pure functions of the statement (and, for CSAS, the plan): no I/O. Creating the
topic is the session's job.
"""

from __future__ import annotations

from collections.abc import Mapping

from headwater.errors import SqlSemanticError
from headwater.formats import create_format, format_class
from headwater.formats.base import FormatError, registry_properties
from headwater.sql import ast
from headwater.sql.catalog import Column, DataSource, Namespace, WindowInfo
from headwater.sql.expressions import NO_POSITION, TIME_UNITS, Position
from headwater.sql.planner import SelectPlan
from headwater.sql.types import BYTES, STRING, ArrayType, BaseType, CustomType, StructField, StructType

#: WITH properties of CREATE STREAM/TABLE and CSAS/CTAS that Headwater acts on or accepts.
SOURCE_PROPERTIES = frozenset(
    {
        "KAFKA_TOPIC", "VALUE_FORMAT", "KEY_FORMAT", "FORMAT", "PARTITIONS", "REPLICAS", "TIMESTAMP",
        "TIMESTAMP_FORMAT", "VALUE_DELIMITER", "KEY_DELIMITER", "WRAP_SINGLE_VALUE", "RETENTION_MS",
        "CLEANUP_POLICY", "WINDOW_TYPE", "WINDOW_SIZE", "KEY_SCHEMA_ID", "VALUE_SCHEMA_ID",
        "KEY_SCHEMA_FULL_NAME", "VALUE_SCHEMA_FULL_NAME", "VALUE_AVRO_SCHEMA_FULL_NAME",
        "SOURCE_CONNECTOR", "SOURCED_BY_CONNECTOR",
    }
)

HEADERS_TYPE = ArrayType(StructType((StructField("KEY", STRING), StructField("VALUE", BYTES))))

#: Names ksqlDB reserves for pseudo columns; a source cannot declare them.
RESERVED_COLUMNS = frozenset({"ROWTIME", "ROWPARTITION", "ROWOFFSET", "WINDOWSTART", "WINDOWEND"})


def _value(props: ast.Properties, name: str) -> object:
    literal = props.get(name)
    return None if literal is None else literal.value  # type: ignore[attr-defined]


def _pos(props: ast.Properties, name: str, default: Position) -> Position:
    literal = props.get(name)
    return literal.pos if literal is not None else default


def check_properties(props: ast.Properties, pos: Position) -> None:
    unknown = [name for name in props if name not in SOURCE_PROPERTIES]
    if unknown:
        raise SqlSemanticError(
            f"Invalid config variable(s) in the WITH clause: {','.join(unknown)}", _pos(props, unknown[0], pos)
        )
    if "FORMAT" in props and ("KEY_FORMAT" in props or "VALUE_FORMAT" in props):
        raise SqlSemanticError(
            "Cannot supply both 'KEY_FORMAT' and 'FORMAT' properties, as 'FORMAT' sets both key and value formats."
            if "KEY_FORMAT" in props
            else "Cannot supply both 'VALUE_FORMAT' and 'FORMAT' properties, as 'FORMAT' sets both key and value formats.",
            _pos(props, "FORMAT", pos),
        )
    partitions = _value(props, "PARTITIONS")
    if partitions is not None and (not isinstance(partitions, int) or isinstance(partitions, bool) or partitions < 1):
        raise SqlSemanticError(
            f"Invalid value for PARTITIONS: expected a positive integer, got {partitions!r}", _pos(props, "PARTITIONS", pos)
        )


def formats_of(props: ast.Properties, defaults: Mapping[str, str], pos: Position) -> tuple[str, str]:
    fmt = _value(props, "FORMAT")
    key = str(fmt or _value(props, "KEY_FORMAT") or defaults.get("key") or "KAFKA").upper()
    value = fmt or _value(props, "VALUE_FORMAT") or defaults.get("value")
    if value is None:
        raise SqlSemanticError(
            "Statement is missing the 'VALUE_FORMAT' property from the WITH clause. Either provide one or set a "
            "default via the 'ksql.persistence.default.format.value' config.",
            pos,
        )
    return key, str(value).upper()


def source_from_create(statement: ast.CreateSource, text: str, default_partitions: int | None) -> DataSource:
    """The stream or table a CREATE STREAM/TABLE statement declares (topic checks are the caller's)."""
    props = statement.properties
    check_properties(props, statement.pos)
    topic = _value(props, "KAFKA_TOPIC")
    if topic is None:
        raise SqlSemanticError('Missing required property "KAFKA_TOPIC" which has no default value.', statement.pos)
    key_fmt, value_fmt = formats_of(props, {}, statement.pos)
    if not statement.elements:
        raise SqlSemanticError("The statement does not define any columns.", statement.pos)
    columns = []
    names: set[str] = set()
    for element in statement.elements:
        if element.name in RESERVED_COLUMNS:
            raise SqlSemanticError(f"'{element.name}' is a reserved column name. You cannot use it as a name "
                                   "for a column.", element.pos)
        if any(isinstance(t, CustomType) for t in _types_in(element.type)):
            unknown = next(t for t in _types_in(element.type) if isinstance(t, CustomType))
            raise SqlSemanticError(f"Unknown type: {unknown.sql()}", element.pos)
        if element.name in names:
            raise SqlSemanticError(f"Duplicate column names: {element.name}", element.pos)
        names.add(element.name)
        columns.append(_column(statement.kind, element))
    if statement.kind is ast.SourceKind.TABLE and not any(c.namespace is Namespace.KEY for c in columns):
        raise SqlSemanticError("Tables require a PRIMARY KEY. Please define the PRIMARY KEY.", statement.pos)
    source = DataSource(
        name=statement.name,
        kind=statement.kind,
        columns=tuple(columns),
        topic=str(topic),
        key_format=key_fmt,
        value_format=value_fmt,
        value_delimiter=_str_or_none(_value(props, "VALUE_DELIMITER")),
        wrap_single_value=_bool_or_none(_value(props, "WRAP_SINGLE_VALUE")),
        timestamp=_upper_or_none(_value(props, "TIMESTAMP")),
        timestamp_format=_str_or_none(_value(props, "TIMESTAMP_FORMAT")),
        sql=text,
        is_source=statement.is_source,
        partitions=int(_value(props, "PARTITIONS") or default_partitions or 1),  # type: ignore[call-overload]
        properties={k: _value(props, k) for k in props},
        window=_declared_window(props, statement.pos),
    )
    check_source(source, statement.pos)
    return source


def _declared_window(props: ast.Properties, pos: Position) -> WindowInfo | None:
    """WINDOW_TYPE / WINDOW_SIZE: the source's keys carry a window (written by a windowed aggregation)."""
    kind = _value(props, "WINDOW_TYPE")
    size = _value(props, "WINDOW_SIZE")
    if kind is None:
        if size is not None:
            raise SqlSemanticError("WINDOW_SIZE set without WINDOW_TYPE.", _pos(props, "WINDOW_SIZE", pos))
        return None
    kind = str(kind).upper()
    if kind not in ("TUMBLING", "HOPPING", "SESSION"):
        raise SqlSemanticError(f"Invalid value for WINDOW_TYPE: {kind}. Valid values are SESSION, HOPPING, TUMBLING.",
                               _pos(props, "WINDOW_TYPE", pos))
    if kind == "SESSION":
        if size is not None:
            raise SqlSemanticError("'WINDOW_SIZE' should not be set for SESSION windows.",
                                   _pos(props, "WINDOW_SIZE", pos))
        return WindowInfo(kind)
    if size is None:
        raise SqlSemanticError(f"{kind} windows require 'WINDOW_SIZE' to be provided in the WITH clause. "
                               "For example: 'WINDOW_SIZE'='10 SECONDS'", pos)
    parts = str(size).upper().split()
    unit = TIME_UNITS.get(parts[-1]) if len(parts) == 2 and parts[0].isdecimal() else None
    if unit is None:
        raise SqlSemanticError(f"Invalid value for WINDOW_SIZE: '{size}'. Expected a duration such as '10 SECONDS'.",
                               _pos(props, "WINDOW_SIZE", pos))
    return WindowInfo(kind, int(parts[0]) * unit.millis)


def _types_in(sql_type: object) -> list[object]:
    """``sql_type`` and every type nested in it."""
    found = [sql_type]
    for attr in ("element", "key", "value"):
        inner = getattr(sql_type, attr, None)
        if inner is not None:
            found += _types_in(inner)
    for f in getattr(sql_type, "fields", ()) or ():
        found += _types_in(f.type)
    return found


def _column(kind: ast.SourceKind, element: ast.TableElement) -> Column:
    constraint = element.constraint
    if constraint is ast.ColumnConstraint.PRIMARY_KEY and kind is ast.SourceKind.STREAM:
        raise SqlSemanticError(
            f"Column `{element.name}` is a 'PRIMARY KEY' column: please use 'KEY' for streams.\n"
            "Tables have PRIMARY KEYs, which are unique and NON NULL.\n"
            "Streams have KEYs, which have no uniqueness or NON NULL constraints.",
            element.pos,
        )
    if constraint is ast.ColumnConstraint.KEY and kind is ast.SourceKind.TABLE:
        raise SqlSemanticError(
            f"Column `{element.name}` is a 'KEY' column: please use 'PRIMARY KEY' for tables.\n"
            "Tables have PRIMARY KEYs, which are unique and NON NULL.\n"
            "Streams have KEYs, which have no uniqueness or NON NULL constraints.",
            element.pos,
        )
    if constraint in (ast.ColumnConstraint.KEY, ast.ColumnConstraint.PRIMARY_KEY):
        return Column(element.name, element.type, Namespace.KEY)
    if constraint is ast.ColumnConstraint.HEADERS:
        if element.type != HEADERS_TYPE:
            raise SqlSemanticError(
                f"Invalid type for HEADERS column: expected {HEADERS_TYPE.sql()}, got {element.type.sql()}", element.pos
            )
        return Column(element.name, element.type, Namespace.HEADERS)
    if constraint is ast.ColumnConstraint.HEADER:
        if element.type.base is not BaseType.BYTES:
            raise SqlSemanticError(
                f"Invalid type for HEADER('{element.header_key}') column: expected BYTES, got {element.type.sql()}",
                element.pos,
            )
        return Column(element.name, element.type, Namespace.HEADER, element.header_key)
    return Column(element.name, element.type, Namespace.VALUE)


def check_source(source: DataSource, pos: Position = NO_POSITION) -> None:
    """The formats can carry the columns; the TIMESTAMP column exists and has a usable type."""
    try:
        keys = [(c.name, c.type) for c in source.key_columns]
        if keys:
            key_props = registry_properties(source, "key") if format_class(source.key_format).uses_registry else {}
            create_format(source.key_format, keys, key_props, role="key")
        else:
            format_class(source.key_format)  # a keyless source's KEY_FORMAT must still name a format
        props: dict[str, object] = (registry_properties(source, "value")
                                    if format_class(source.value_format).uses_registry else {})
        if source.value_delimiter is not None:
            props["VALUE_DELIMITER"] = source.value_delimiter
        if source.wrap_single_value is not None:
            props["WRAP_SINGLE_VALUE"] = source.wrap_single_value
        create_format(source.value_format, [(c.name, c.type) for c in source.value_columns], props, role="value")
    except FormatError as exc:
        raise SqlSemanticError(str(exc), pos) from None
    if source.timestamp is not None:
        column = source.column(source.timestamp)
        if column is None:
            raise SqlSemanticError(
                f"The TIMESTAMP column set in the WITH clause does not exist in the schema: '{source.timestamp}'", pos
            )
        if column.type.base not in (BaseType.BIGINT, BaseType.TIMESTAMP, BaseType.STRING):
            raise SqlSemanticError(
                f"Timestamp column, `{source.timestamp}`, should be LONG(INT64), TIMESTAMP, or a String with a "
                f"timestamp_format specified.",
                pos,
            )
        if column.type.base is BaseType.STRING and source.timestamp_format is None:
            raise SqlSemanticError(
                f"A String timestamp field has been specified without also specifying the timestamp_format "
                f"property ({source.timestamp}).",
                pos,
            )


def sink_from_select(
    kind: ast.SourceKind,
    name: str,
    props: ast.Properties,
    plan: SelectPlan,
    text: str,
    *,
    pos: Position,
    default_wrap: bool | None = None,
) -> DataSource:
    """The stream a CSAS (or the table a CTAS) writes, from the plan's output schema."""
    check_properties(props, pos)
    source = plan.source
    key_fmt, value_fmt = formats_of(props, {"key": source.key_format, "value": source.value_format}, pos)
    # Key columns first, as ksqlDB's schemas (and so DESCRIBE and SELECT *) list them.
    columns = tuple(Column(o.name, o.type, o.namespace) for o in (*plan.key_outputs, *plan.value_outputs))
    wrap = _bool_or_none(_value(props, "WRAP_SINGLE_VALUE"))
    if wrap is None and default_wrap is False and sum(c.namespace is Namespace.VALUE for c in columns) == 1:
        wrap = False  # ksql.persistence.wrap.single.values=false
    sink = DataSource(
        name=name,
        kind=kind,
        columns=columns,
        topic=str(_value(props, "KAFKA_TOPIC") or name),
        key_format=key_fmt,
        value_format=value_fmt,
        value_delimiter=_str_or_none(_value(props, "VALUE_DELIMITER")),
        wrap_single_value=wrap,
        timestamp=_upper_or_none(_value(props, "TIMESTAMP")),
        timestamp_format=_str_or_none(_value(props, "TIMESTAMP_FORMAT")),
        sql=text,
        partitions=int(_value(props, "PARTITIONS") or source.partitions),  # type: ignore[call-overload]
        properties={k: _value(props, k) for k in props},
    )
    check_source(sink, pos)
    return sink


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def _upper_or_none(value: object) -> str | None:
    return None if value is None else str(value).upper()


def _bool_or_none(value: object) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true"
