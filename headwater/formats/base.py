"""The format contract: how a record's key or value bytes become typed Arrow columns and back.

A *format* (JSON, DELIMITED, KAFKA, NONE, AVRO, ...) is registered by
name in one registry, the same one a plug-in uses (:func:`register_format`).
:func:`create_format` looks the name up case-insensitively and builds a
:class:`Format` bound to

- the *columns* it carries, in order (the key columns or the value columns of
  a stream or table, as ``(name, SqlType)`` pairs, names as the parser
  normalized them), validated against what the format can carry with
  ksqlDB's error messages;
- its *properties*: the WITH properties that concern it (``VALUE_DELIMITER``,
  ``KEY_DELIMITER``, ``WRAP_SINGLE_VALUE``), names case-insensitive;
- its *role*, ``"key"`` or ``"value"``. A single key column is always
  serialized unwrapped (an anonymous value), as ksqlDB does; a single value
  column is wrapped in an object unless ``WRAP_SINGLE_VALUE`` is false.

When each method is called, and what it guarantees:

- :meth:`Format.decode` is called once per input batch with the binary key or
  value column of the log's records, and the columns the query uses
  (projection pushdown: only those are decoded). It returns a
  :class:`Decoded` whose table has exactly those columns, typed as
  ``SqlType.to_arrow()``, one row per input row. A row that cannot be
  decoded is never silently nulled: it is listed in ``error_rows`` with its
  reason (ksqlDB's processing-log wording), its columns are null, and every
  other row decodes. A null input (a tombstone) decodes to a row of nulls and
  is listed in ``null_rows``, not as an error: the caller decides (a stream
  drops it, a table deletes the key).
- :meth:`Format.encode` is called once per output batch with a table holding
  the format's columns (by name, any order); it returns one binary value per
  row, the bytes ksqlDB would write.

Formats are safe to use from several threads at once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Literal, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from headwater.errors import FormatError
from headwater.sql.types import SqlType

Column = tuple[str, SqlType]
Role = Literal["key", "value"]


@dataclass(frozen=True)
class Decoded:
    """The result of :meth:`Format.decode` for a batch of ``table.num_rows`` records.

    ``error_rows`` are the positions (ascending, int64) of the rows that failed,
    ``error_reasons[i]`` the reason for ``error_rows[i]``; those rows are null
    in ``table``. ``null_rows`` are the positions whose serialized form was
    null (a tombstone, or a JSON ``null``); they are null in ``table`` too.
    """

    table: pa.Table
    error_rows: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    error_reasons: tuple[str, ...] = ()
    null_rows: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))

    @property
    def num_errors(self) -> int:
        return len(self.error_reasons)

    def error_mask(self) -> np.ndarray:
        """A boolean array, true for each row that failed to decode."""
        mask = np.zeros(self.table.num_rows, dtype=bool)
        mask[self.error_rows] = True
        return mask

    def null_mask(self) -> np.ndarray:
        """A boolean array, true for each row whose serialized form was null."""
        mask = np.zeros(self.table.num_rows, dtype=bool)
        mask[self.null_rows] = True
        return mask

    def errors(self) -> list[tuple[int, str]]:
        """``(row, reason)`` for each failed row."""
        return list(zip(self.error_rows.tolist(), self.error_reasons))


def deserialize_error(role: Role, topic: str, detail: str) -> str:
    """ksqlDB's processing-log wording for a record that failed to deserialize."""
    return f"Failed to deserialize {role} from topic: {topic}. {detail}"


def format_columns(columns: Sequence[Column]) -> str:
    """Columns as ksqlDB lists them in errors: ``[`A` INTEGER, `B` STRING]``."""
    return "[" + ", ".join(f"`{name}` {sql_type.sql()}" for name, sql_type in columns) + "]"


class Format(ABC):
    """A serialization format bound to the columns it carries; see the module docstring."""

    #: The registered name, upper-case.
    name: ClassVar[str] = ""
    #: Whether a single value column may be wrapped in a record (WRAP_SINGLE_VALUE true or false).
    supports_wrapping: ClassVar[bool] = False
    #: Whether the format can carry more than one column.
    supports_multiple_columns: ClassVar[bool] = True
    #: Whether the format talks to a schema registry: the engine then passes the properties
    #: ``SCHEMA_REGISTRY`` (a ``headwater.registry.SchemaRegistry``) and ``KAFKA_TOPIC`` (for the subject),
    #: and the WITH clause's ``KEY_SCHEMA_ID``/``VALUE_SCHEMA_ID``/``*_SCHEMA_FULL_NAME``.
    uses_registry: ClassVar[bool] = False

    def __init__(self, columns: Sequence[Column], properties: Mapping[str, object], role: Role) -> None:
        if role not in ("key", "value"):
            raise FormatError(f"formats: role must be 'key' or 'value', got {role!r}")
        self.role: Role = role
        self.columns: tuple[Column, ...] = tuple(columns)
        self.properties: dict[str, object] = {str(k).upper(): v for k, v in properties.items()}
        self._by_name = {name: (i, sql_type) for i, (name, sql_type) in enumerate(self.columns)}
        if len(self._by_name) != len(self.columns):
            raise FormatError(f"formats: duplicate column names in {format_columns(self.columns)}")
        self.wrapped = self._wrapping()
        self.validate()

    @property
    def format_property(self) -> str:
        return "KEY_FORMAT" if self.role == "key" else "VALUE_FORMAT"

    def accepted_properties(self) -> frozenset[str]:
        """The property names this format takes for its role (upper-case)."""
        return frozenset({"WRAP_SINGLE_VALUE"} if self.role == "value" else set())

    def validate(self) -> None:
        """Raise :class:`FormatError` if the format cannot carry its columns or properties."""
        for name in self.properties:
            if name not in self.accepted_properties():
                if name.endswith("_DELIMITER"):
                    raise FormatError(f"{name} is only supported with the DELIMITED format; {self.format_property} is {self.name}")
                accepted = ", ".join(sorted(self.accepted_properties())) or "none"
                raise FormatError(f"The '{self.name}' {self.role} format does not take the property {name} (it takes: {accepted})")
        if not self.supports_multiple_columns and len(self.columns) > 1:
            raise FormatError(f"The '{self.name}' format only supports a single field. Got: {format_columns(self.columns)}")

    def _wrapping(self) -> bool:
        """Whether the columns are written as fields of a record (object, CSV line) or as one anonymous value."""
        setting = self.properties.get("WRAP_SINGLE_VALUE")
        if setting is None:
            return not (len(self.columns) == 1 and (self.role == "key" or not self.supports_wrapping))
        if self.role == "key":
            raise FormatError("'WRAP_SINGLE_VALUE' is only valid for value formats; a single key column is never wrapped")
        wrap = parse_bool("WRAP_SINGLE_VALUE", setting)
        if not self.supports_wrapping:
            raise FormatError(f"Format '{self.name}' does not support 'WRAP_SINGLE_VALUE' set to '{str(wrap).lower()}'.")
        if len(self.columns) != 1:
            raise FormatError("'WRAP_SINGLE_VALUE' is only valid for single-field value schemas")
        return wrap

    def select(self, columns: Sequence[Column] | None) -> list[tuple[int, str, SqlType]]:
        """``(position, name, type)`` of the requested columns; all columns when None."""
        if columns is None:
            columns = self.columns
        selected = []
        for name, sql_type in columns:
            found = self._by_name.get(name)
            if found is None:
                known = ", ".join(n for n, _ in self.columns) or "none"
                raise FormatError(f"formats: the {self.role} format {self.name} carries no column {name!r} (it carries: {known})")
            selected.append((found[0], name, sql_type))
        return selected

    @abstractmethod
    def decode(self, data: pa.Array, columns: Sequence[Column] | None = None, *, topic: str = "") -> Decoded:
        """Decode a binary column into the requested columns (all when None); ``topic`` names the source in errors."""

    @abstractmethod
    def encode(self, table: pa.Table) -> pa.Array:
        """Encode the format's columns of ``table`` into one binary value per row."""

    def register_schema(self, *, if_absent: bool = False) -> int | None:
        """Register the schema this format writes under its subject and return its id (None: no registry).

        With ``if_absent``, a subject that already holds a schema is left alone (None).
        """
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.role} {format_columns(self.columns)} {self.properties}>"


def parse_bool(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "false"):
        return text == "true"
    raise FormatError(f"Property {name} must be true or false, got {value!r}")


def binary_input(data: pa.Array | pa.ChunkedArray) -> pa.BinaryArray:
    """``data`` as one binary array (the log's key or value column), or a clear error."""
    if isinstance(data, pa.ChunkedArray):
        data = data.combine_chunks() if data.num_chunks != 1 else data.chunk(0)
    if pa.types.is_large_binary(data.type) or pa.types.is_large_string(data.type) or pa.types.is_string(data.type):
        data = data.cast(pa.binary())
    if not pa.types.is_binary(data.type):
        raise FormatError(f"formats: decode expects a binary column, got {data.type}")
    return data


def binary_offsets(data: pa.BinaryArray) -> np.ndarray:
    """The ``len(data) + 1`` int32 offsets of a binary array into its data buffer (slicing honoured)."""
    if len(data) == 0:
        return np.zeros(1, np.int32)
    return np.frombuffer(data.buffers()[1], np.int32)[data.offset : data.offset + len(data) + 1]


def binary_bytes(data: pa.BinaryArray) -> np.ndarray:
    """The data buffer of a binary array as uint8 (index it with :func:`binary_offsets`)."""
    buffer = data.buffers()[2] if len(data) else None
    return np.frombuffer(buffer, np.uint8) if buffer is not None else np.empty(0, np.uint8)


def keep_only(data: pa.Array, keep: np.ndarray) -> pa.Array:
    """A string or binary array with the rows where ``keep`` is false made null, sharing ``data``'s buffers."""
    valid = keep & data.is_valid().to_numpy(zero_copy_only=False) if data.null_count else keep
    bits = np.packbits(np.concatenate([np.zeros(data.offset, bool), valid]), bitorder="little")
    return pa.Array.from_buffers(
        data.type, len(data), [pa.py_buffer(bits.tobytes()), *data.buffers()[1:]], offset=data.offset
    )


def column_of(table: pa.Table, name: str) -> pa.Array:
    """The column ``name`` of ``table`` as one array, or a clear error."""
    if name not in table.column_names:
        raise FormatError(f"formats: encode expects a column {name!r}; the table has {table.column_names}")
    column = table.column(name)
    return column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)


def replace_rows(array: pa.Array, rows: np.ndarray, values: pa.Array) -> pa.Array:
    """``array`` with ``array[rows[i]]`` replaced by ``values[i]`` (any type, nested included)."""
    if len(rows) == 0:
        return array
    values = values.cast(array.type)
    order = np.argsort(rows, kind="stable")
    rows, values = rows[order], values.take(pa.array(order))
    if not pa.types.is_nested(array.type):
        mask = np.zeros(len(array), dtype=bool)
        mask[rows] = True
        return pc.replace_with_mask(array, pa.array(mask), values)
    # replace_with_mask has no kernel for nested types: gather from the array and the values.
    positions = np.arange(len(array), dtype=np.int64)
    positions[rows] = len(array) + np.arange(len(rows), dtype=np.int64)
    return pa.concat_arrays([array, values]).take(pa.array(positions))


def null_rows_of(array: pa.Array, rows: np.ndarray) -> pa.Array:
    """``array`` with the given rows set to null."""
    return replace_rows(array, rows, pa.nulls(len(rows), array.type))


def table_of(columns: Sequence[tuple[str, pa.Array]], num_rows: int) -> pa.Table:
    """A table of the named arrays; with no columns, a table of ``num_rows`` empty rows."""
    if not columns:
        return pa.Table.from_batches([pa.RecordBatch.from_struct_array(pa.array([{}] * num_rows, pa.struct([])))])
    return pa.table(dict(columns))


def registry_properties(source: object, role: Role) -> dict[str, object]:
    """The properties a registry format gets from a stream or table (a ``DataSource``): see ``uses_registry``."""
    declared = dict(getattr(source, "properties", {}) or {})
    props: dict[str, object] = {"KAFKA_TOPIC": getattr(source, "topic", "")}
    registry = getattr(source, "schema_registry", None)
    if registry is not None:
        props["SCHEMA_REGISTRY"] = registry
    names = (("KEY_SCHEMA_ID", "KEY_SCHEMA_FULL_NAME") if role == "key"
             else ("VALUE_SCHEMA_ID", "VALUE_SCHEMA_FULL_NAME", "VALUE_AVRO_SCHEMA_FULL_NAME"))
    for name in names:
        if declared.get(name) is not None:
            props[name] = declared[name]
    return props


_FormatT = TypeVar("_FormatT", bound=type[Format])
_REGISTRY: dict[str, type[Format]] = {}


def register_format(cls: _FormatT) -> _FormatT:
    """Register a format class under its ``name`` (a class decorator; plug-ins use it too)."""
    if not cls.name:
        raise FormatError(f"formats: {cls.__name__} has no name")
    _REGISTRY[cls.name.upper()] = cls
    return cls


def format_names() -> list[str]:
    """The registered format names, sorted."""
    return sorted(_REGISTRY)


def format_class(name: str) -> type[Format]:
    """The format registered under ``name`` (case-insensitive)."""
    found = _REGISTRY.get(name.strip().upper())
    if found is None:
        raise FormatError(f"Unknown format: {name}. Known formats: {', '.join(format_names())}")
    return found


def uses_registry(name: str) -> bool:
    """Whether the format ``name`` talks to a schema registry (False for an unknown name)."""
    found = _REGISTRY.get(name.strip().upper())
    return found is not None and found.uses_registry


def create_format(
    name: str,
    columns: Sequence[Column] = (),
    properties: Mapping[str, object] | None = None,
    *,
    role: Role = "value",
) -> Format:
    """Build the format ``name`` for ``columns``, validated (raises :class:`FormatError`)."""
    return format_class(name)(columns, properties or {}, role)

