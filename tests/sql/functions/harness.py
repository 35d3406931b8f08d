"""Evaluate ksqlDB expressions for real: compile, run in DuckDB over a one-row Arrow table, compare.

Every case runs against :data:`ROW`, a row holding one column of each type
(and a NULL column of each, named ``N<name>``); a case may override columns.
Results come back as Python values (maps as dicts), and their Arrow type must
be the compiled ksqlDB type: the SQL produces exactly what it declares.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from headwater.errors import SqlError
from headwater.sql import types as ty
from headwater.sql.compile import Compiled, TableScope, compile_expression
from headwater.sql.functions import install_functions
from headwater.sql.parser import parse_expression
from headwater.sql.types import SqlType, from_arrow

STRUCT = ty.StructType((ty.StructField("A", ty.INTEGER), ty.StructField("B", ty.STRING)))
NESTED = ty.StructType((ty.StructField("SUB", STRUCT), ty.StructField("L", ty.ArrayType(ty.INTEGER))))

#: name -> (type, value) of the standard input row.
ROW: dict[str, tuple[SqlType, Any]] = {
    "S": (ty.STRING, "hello world"),
    "I": (ty.INTEGER, 7),
    "B": (ty.BIGINT, 10),
    "D": (ty.DOUBLE, 2.5),
    "DEC": (ty.DecimalType(4, 2), Decimal("12.34")),
    "FLAG": (ty.BOOLEAN, True),
    "TS": (ty.TIMESTAMP, datetime(2021, 1, 2, 3, 4, 5, 678000)),
    "DT": (ty.DATE, date(2021, 1, 2)),
    "TM": (ty.TIME, time(3, 4, 5, 678000)),
    "BYT": (ty.BYTES, b"\x00\x01\xff"),
    "ARR": (ty.ArrayType(ty.INTEGER), [3, 1, 2]),
    "SARR": (ty.ArrayType(ty.STRING), ["b", "a", None]),
    "M": (ty.MapType(ty.STRING, ty.INTEGER), {"a": 1, "b": 2}),
    "ST": (STRUCT, {"A": 1, "B": "x"}),
    "NEST": (NESTED, {"SUB": {"A": 5, "B": "y"}, "L": [1, 2]}),
    "URL": (ty.STRING, "https://user@www.example.com:8080/a%20b/c?q=1&x=a+b%26c#frag%21"),
    "J": (ty.STRING, '{"a":{"b":[1,2,{"c":"d"}]},"s":"str","n":null}'),
    "MIXED": (ty.STRING, "Hello World 42!"),
}
for _name, (_type, _) in list(ROW.items()):
    ROW["N" + _name] = (_type, None)


def _arrow_value(t: SqlType, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(t, ty.MapType):
        return [(k, _arrow_value(t.value, v)) for k, v in value.items()]
    return value


def table(columns: dict[str, tuple[SqlType, Any]]) -> pa.Table:
    fields = [pa.field(name, t.to_arrow()) for name, (t, _) in columns.items()]
    arrays = [pa.array([_arrow_value(t, v)], type=t.to_arrow()) for t, v in columns.values()]
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def connection() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    install_functions(con)
    con.register("standard_row", table(ROW))
    return con


def compile_text(expression: str, columns: dict[str, tuple[SqlType, Any]] | None = None) -> Compiled:
    scope = TableScope({name: t for name, (t, _) in (columns or ROW).items()})
    return compile_expression(parse_expression(expression), scope)


def _python(t: SqlType | None, value: Any) -> Any:
    """Arrow's Python form normalized: maps as dicts, recursively."""
    if value is None or t is None:
        return value
    if isinstance(t, ty.MapType):
        return {k: _python(t.value, v) for k, v in value}
    if isinstance(t, ty.ArrayType):
        return [_python(t.element, v) for v in value]
    if isinstance(t, ty.StructType):
        return {f.name: _python(f.type, value[f.name]) for f in t.fields}
    return value


def evaluate(
    con: duckdb.DuckDBPyConnection, expression: str, overrides: dict[str, tuple[SqlType, Any]] | None = None
) -> tuple[Any, SqlType | None]:
    """The value of ``expression`` over the standard row (with ``overrides``), and its type."""
    columns = dict(ROW)
    source = "standard_row"
    if overrides:
        columns.update(overrides)
        con.register("case_row", table(columns))
        source = "case_row"
    compiled = compile_text(expression, columns)
    result = con.sql(f"SELECT {compiled.sql} AS r FROM {source}").to_arrow_table()
    if compiled.type is not None:
        produced = from_arrow(result.schema.field("r").type)
        assert produced == compiled.type, f"SQL produced {produced}, compiled type is {compiled.type}: {compiled.sql}"
    return _python(compiled.type, result.column("r").to_pylist()[0]), compiled.type


def check(con: duckdb.DuckDBPyConnection, expression: str, expected: Any, overrides: dict | None = None) -> None:
    value, _ = evaluate(con, expression, overrides)
    assert same(value, expected), f"{expression}: got {value!r}, expected {expected!r}"


def same(value: Any, expected: Any) -> bool:
    if isinstance(expected, float) and isinstance(value, (float, int, Decimal)):
        if math.isnan(expected):
            return isinstance(value, float) and math.isnan(value)
        return float(value) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    if isinstance(expected, (list, tuple)) and isinstance(value, list):
        return len(value) == len(expected) and all(same(v, e) for v, e in zip(value, expected))
    if isinstance(expected, dict) and isinstance(value, dict):
        return list(value) == list(expected) and all(same(value[k], expected[k]) for k in expected)
    return type(value) is type(expected) and value == expected or (value is None and expected is None)


def check_error(expression: str, line: int, column: int, fragment: str, columns: dict | None = None) -> None:
    """Compiling ``expression`` fails with ``line L:C: ...`` containing ``fragment``."""
    with pytest.raises(SqlError) as caught:
        compile_text(expression, columns)
    message = str(caught.value)
    assert message.startswith(f"line {line}:{column}: "), message
    assert fragment in message, message


def ids(cases: list[tuple[Any, ...]]) -> list[str]:
    return [re.sub(r"\s+", " ", str(case[0]))[:80] for case in cases]
