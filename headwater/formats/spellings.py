"""The spellings of JSON field names, learned per column, for ksqlDB's case-insensitive match.

ksqlDB matches a JSON key to a column when it is spelled exactly as the
column, or when its upper-case is the column name (so ``USERID`` reads
``"userid"`` and ``"UserId"``; a quoted ``"userId"`` reads only ``"userId"``).
DuckDB's ``json_transform`` matches keys exactly, so the JSON format asks it
for the spellings seen so far: learned from a sample of each batch, and from
any record the exact path reads. A spelling not learned yet makes a field
come out null, so its row is a suspect and the exact path reads it (and
teaches its spelling here, for the next batch).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import pyarrow as pa

from headwater.sql.types import ArrayType, MapType, SqlType, StructType

SAMPLE_ROWS = 64


class Spellings:
    """Spellings per struct path: ``(column,)`` or ``(column, field, ...)``; the exact spelling first."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, ...], list[str]] = {}
        self._lock = threading.Lock()

    def top(self, name: str) -> list[str]:
        """The spellings to extract for column ``name``: those learned, else the name itself."""
        return self._known.get((name,)) or [name]

    def nested(self, path: tuple[str, ...]) -> str:
        """The one spelling to extract for a struct field (the others go to the exact path)."""
        learned = self._known.get(path)
        return learned[0] if learned else path[-1]

    def learn_sample(self, data: pa.BinaryArray, columns: Sequence[tuple[str, SqlType]]) -> None:
        """Learn from the first :data:`SAMPLE_ROWS` records of a batch."""
        for raw in data.slice(0, SAMPLE_ROWS).to_pylist():
            if raw:
                try:
                    self.learn(orjson.loads(raw), columns)
                except orjson.JSONDecodeError:
                    continue

    def learn(self, value: Any, columns: Sequence[tuple[str, SqlType]]) -> None:
        """Learn from one parsed record."""
        if isinstance(value, dict):
            with self._lock:
                for name, sql_type in columns:
                    self._learn_field(value, (name,), sql_type)

    def _learn_field(self, obj: dict[str, Any], path: tuple[str, ...], sql_type: SqlType) -> None:
        name = path[-1]
        known = self._known.setdefault(path, [])
        for key in obj:
            if key in known:
                continue
            if key == name:
                known.insert(0, key)  # the exact spelling comes first: ksqlDB prefers it
            elif key.upper() == name:
                known.append(key)
        for key in known:
            if key in obj:
                for struct, nested in _structs_in(obj[key], sql_type):
                    for field in struct.fields:
                        self._learn_field(nested, path + (field.name,), field.type)


def _structs_in(value: Any, sql_type: SqlType) -> Iterable[tuple[StructType, dict[str, Any]]]:
    """The JSON objects inside ``value`` that stand for STRUCT values of ``sql_type``."""
    if isinstance(sql_type, StructType) and isinstance(value, dict):
        yield sql_type, value
    elif isinstance(sql_type, ArrayType) and isinstance(value, list):
        for item in value[:SAMPLE_ROWS]:
            yield from _structs_in(item, sql_type.element)
    elif isinstance(sql_type, MapType) and isinstance(value, dict):
        for item in list(value.values())[:SAMPLE_ROWS]:
            yield from _structs_in(item, sql_type.value)
