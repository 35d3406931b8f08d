"""SQL types: parsing, ksqlDB's names, and the Arrow and DuckDB forms."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from headwater.errors import SqlError
from headwater.sql import parse_type
from headwater.sql import types as ty

ADDRESS = ty.StructType((ty.StructField("NUMBER", ty.INTEGER), ty.StructField("street", ty.STRING)))

#: (SQL text, type, canonical SQL, DESCRIBE display, Arrow type, DuckDB type)
TYPES: list[tuple[str, ty.SqlType, str, str, pa.DataType, str]] = [
    ("BOOLEAN", ty.BOOLEAN, "BOOLEAN", "BOOLEAN", pa.bool_(), "BOOLEAN"),
    ("int", ty.INTEGER, "INTEGER", "INTEGER", pa.int32(), "INTEGER"),
    ("INTEGER", ty.INTEGER, "INTEGER", "INTEGER", pa.int32(), "INTEGER"),
    ("BIGINT", ty.BIGINT, "BIGINT", "BIGINT", pa.int64(), "BIGINT"),
    ("DOUBLE", ty.DOUBLE, "DOUBLE", "DOUBLE", pa.float64(), "DOUBLE"),
    ("decimal(4, 2)", ty.DecimalType(4, 2), "DECIMAL(4, 2)", "DECIMAL(4, 2)", pa.decimal128(4, 2), "DECIMAL(4, 2)"),
    ("VARCHAR", ty.STRING, "STRING", "VARCHAR(STRING)", pa.string(), "VARCHAR"),
    ("STRING", ty.STRING, "STRING", "VARCHAR(STRING)", pa.string(), "VARCHAR"),
    ("BYTES", ty.BYTES, "BYTES", "BYTES", pa.binary(), "BLOB"),
    ("DATE", ty.DATE, "DATE", "DATE", pa.date32(), "DATE"),
    ("TIME", ty.TIME, "TIME", "TIME", pa.time32("ms"), "TIME"),
    ("TIMESTAMP", ty.TIMESTAMP, "TIMESTAMP", "TIMESTAMP", pa.timestamp("ms"), "TIMESTAMP_MS"),
    ("ARRAY<VARCHAR>", ty.ArrayType(ty.STRING), "ARRAY<STRING>", "ARRAY<VARCHAR(STRING)>", pa.list_(pa.string()),
     "VARCHAR[]"),
    ("BIGINT ARRAY", ty.ArrayType(ty.BIGINT), "ARRAY<BIGINT>", "ARRAY<BIGINT>", pa.list_(pa.int64()), "BIGINT[]"),
    ("MAP<STRING, INT>", ty.MapType(ty.STRING, ty.INTEGER), "MAP<STRING, INTEGER>",
     "MAP<VARCHAR(STRING), INTEGER>", pa.map_(pa.string(), pa.int32()), "MAP(VARCHAR, INTEGER)"),
    ("STRUCT<number INT, `street` STRING>", ADDRESS, "STRUCT<`NUMBER` INTEGER, `street` STRING>",
     "STRUCT<NUMBER INTEGER, `street` VARCHAR(STRING)>",
     pa.struct([pa.field("NUMBER", pa.int32()), pa.field("street", pa.string())]),
     'STRUCT("NUMBER" INTEGER, "street" VARCHAR)'),
    ("STRUCT<>", ty.StructType(()), "STRUCT<>", "STRUCT<>", pa.struct([]), "STRUCT()"),
    (
        "MAP<STRING, ARRAY<STRUCT<a DECIMAL(38, 10)>>>",
        ty.MapType(ty.STRING, ty.ArrayType(ty.StructType((ty.StructField("A", ty.DecimalType(38, 10)),)))),
        "MAP<STRING, ARRAY<STRUCT<`A` DECIMAL(38, 10)>>>",
        "MAP<VARCHAR(STRING), ARRAY<STRUCT<A DECIMAL(38, 10)>>>",
        pa.map_(pa.string(), pa.list_(pa.struct([pa.field("A", pa.decimal128(38, 10))]))),
        'MAP(VARCHAR, STRUCT("A" DECIMAL(38, 10))[])',
    ),
]


@pytest.mark.parametrize(("text", "expected", "sql", "display", "arrow", "duck"), TYPES, ids=[t[0] for t in TYPES])
def test_type(text: str, expected: ty.SqlType, sql: str, display: str, arrow: pa.DataType, duck: str) -> None:
    parsed = parse_type(text)
    assert parsed == expected
    assert parsed.sql() == sql
    assert str(parsed) == sql
    assert parsed.display() == display
    assert parsed.to_arrow() == arrow
    assert parsed.to_duckdb() == duck
    assert parse_type(parsed.sql()) == parsed
    assert ty.from_arrow(arrow) == parsed


@pytest.mark.parametrize("duck", sorted({t[5] for t in TYPES if t[5] != "STRUCT()"}))
def test_duckdb_accepts_the_type_names(duck: str) -> None:
    result = duckdb.sql(f"SELECT CAST(NULL AS {duck}) AS v")
    assert result.fetchall() == [(None,)]


def test_arrow_columns_of_the_type_load_into_duckdb_as_that_type() -> None:
    columns = {"ts": ty.TIMESTAMP, "tm": ty.TIME, "d": ty.DecimalType(4, 2), "b": ty.BYTES}
    batch = pa.table({name: pa.array([None], t.to_arrow()) for name, t in columns.items()})
    connection = duckdb.connect()
    connection.register("batch", batch)
    loaded = [row[1] for row in connection.sql("DESCRIBE SELECT * FROM batch").fetchall()]
    assert loaded == [t.to_duckdb().replace(", ", ",") for t in columns.values()]


def test_custom_types_are_references_until_resolved() -> None:
    address = parse_type("ADDRESS")
    assert address == ty.CustomType("ADDRESS")
    assert address.sql() == "ADDRESS"
    with pytest.raises(SqlError, match="must be resolved"):
        address.to_arrow()


@pytest.mark.parametrize(("precision", "scale"), [(0, 0), (2, 3), (5, -1)])
def test_bad_decimals_are_rejected(precision: int, scale: int) -> None:
    with pytest.raises(SqlError, match="DECIMAL"):
        ty.DecimalType(precision, scale)


def test_type_properties() -> None:
    assert ty.DecimalType(10, 0).is_numeric and ty.BIGINT.is_numeric and not ty.STRING.is_numeric
    assert ty.STRING.is_primitive and not ty.ArrayType(ty.STRING).is_primitive
    assert ADDRESS.field("street") == ty.StructField("street", ty.STRING)
    assert ADDRESS.field("STREET") is None
    assert hash(parse_type("ARRAY<INT>")) == hash(ty.ArrayType(ty.INTEGER))
