"""An index mapping from a Connect schema, as Confluent's Elasticsearch sink builds it (``Mapping.java``),
for ``schema.ignore=false``.

Connect types map to Elasticsearch's: boolean ``boolean``, int8 ``byte``, int16 ``short``, int32
``integer``, int64 ``long``, float32 ``float``, float64 ``double``, string ``text`` with a ``keyword``
sub-field (``ignore_above`` 256), bytes ``binary``; the logical types Date, Time and Timestamp ``date``,
Decimal ``double``; a struct an object of ``properties``; an array its element's mapping (Elasticsearch
arrays are implicit); a map an object with ``key`` and ``value`` properties. A field with a default gets
it as ``null_value`` where Elasticsearch accepts one (numbers, booleans, dates as epoch milliseconds).
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

from headwater.connect.api import ConnectError
from headwater.connect.converters import DATE, DECIMAL, TIME, TIMESTAMP
from headwater.connect.data import ConnectSchema

_PRIMITIVES = {"boolean": "boolean", "int8": "byte", "int16": "short", "int32": "integer", "int64": "long",
               "float32": "float", "float64": "double", "string": "text", "bytes": "binary"}
_LOGICAL = {DATE: "date", TIME: "date", TIMESTAMP: "date", DECIMAL: "double"}
_NULL_VALUE_TYPES = frozenset({"boolean", "byte", "short", "integer", "long", "float", "double", "date"})


def index_mapping(schema: ConnectSchema) -> dict[str, Any]:
    """The body of ``PUT /<index>/_mapping`` for documents of ``schema`` (a struct)."""
    if schema.type != "struct":
        raise ConnectError(f"Elasticsearch sink: cannot map a {schema.type} value schema to an index: documents "
                           "must be structs (or set schema.ignore=true)")
    return _field(schema)


def _field(schema: ConnectSchema) -> dict[str, Any]:
    if schema.name in _LOGICAL:
        return _primitive(_LOGICAL[schema.name], schema.default)
    if schema.type == "struct":
        return {"properties": {f.name: _field(f.schema) for f in schema.fields}}
    if schema.type == "array" and schema.value_schema is not None:
        return _field(schema.value_schema)
    if schema.type == "map" and schema.key_schema is not None and schema.value_schema is not None:
        return {"properties": {"key": _field(schema.key_schema), "value": _field(schema.value_schema)}}
    if schema.type in _PRIMITIVES:
        return _primitive(_PRIMITIVES[schema.type], schema.default)
    raise ConnectError(f"Elasticsearch sink: no mapping for the Connect schema type {schema.type!r}")


def _primitive(kind: str, default: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind}
    if kind == "text":
        out["fields"] = {"keyword": {"type": "keyword", "ignore_above": 256}}
    if default is not None and kind in _NULL_VALUE_TYPES:
        if isinstance(default, dt.datetime):
            default = int(default.timestamp() * 1000)
        elif isinstance(default, dt.date):
            default = (default - dt.date(1970, 1, 1)).days * 86_400_000
        elif isinstance(default, dt.time):
            default = ((default.hour * 60 + default.minute) * 60 + default.second) * 1000 + default.microsecond // 1000
        elif isinstance(default, decimal.Decimal):
            default = float(default)
        out["null_value"] = default
    return out
