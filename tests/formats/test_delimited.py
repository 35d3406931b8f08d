"""The DELIMITED format: CSV lines as ksqlDB reads and writes them."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from headwater.formats import create_format
from headwater.sql.types import (
    BIGINT,
    BOOLEAN,
    BYTES,
    DATE,
    DOUBLE,
    INTEGER,
    STRING,
    TIME,
    TIMESTAMP,
    DecimalType,
    SqlType,
)
from tests.formats.cases import decode_one, values

PREFIX = "Failed to deserialize value from topic: t. "


# (type, field text, value read)
FIELDS: list[tuple[SqlType, str, Any]] = [
    (INTEGER, "404", 404),
    (INTEGER, "+5", 5),
    (INTEGER, "-12", -12),
    (INTEGER, "", None),
    (BIGINT, "9007199254740993", 9007199254740993),
    (DOUBLE, "1.5", 1.5),
    (DOUBLE, "1e3", 1000.0),
    (DOUBLE, "2.5f", 2.5),
    (DOUBLE, " 3 ", 3.0),
    (STRING, "abc", "abc"),
    (STRING, '"a,b"', "a,b"),
    (STRING, '"say ""hi"""', 'say "hi"'),
    (STRING, '""', None),
    (BOOLEAN, "true", True),
    (BOOLEAN, "TRUE", True),
    (BOOLEAN, "yes", False),  # Java's Boolean.parseBoolean
    (DecimalType(5, 2), "1.505", Decimal("1.51")),
    (DecimalType(5, 2), "-3", Decimal("-3.00")),
    (TIMESTAMP, "1700000000123", datetime.datetime(2023, 11, 14, 22, 13, 20, 123000)),
    (DATE, "19000", datetime.date(2022, 1, 8)),
    (TIME, "3723004", datetime.time(1, 2, 3, 4000)),
    (BYTES, "AAEC", b"\x00\x01\x02"),
]


@pytest.mark.parametrize(("sql_type", "field", "expected"), FIELDS)
def test_a_field_is_read_as_ksqldb_reads_it(sql_type: SqlType, field: str, expected: Any) -> None:
    decoded = decode_one("DELIMITED", [("ID", INTEGER), ("F", sql_type)], f"1,{field}")
    assert decoded.errors() == []
    assert values(decoded) == [{"ID": 1, "F": expected}]


# (type, field text, reason after the topic)
BAD_FIELDS: list[tuple[SqlType, str, str]] = [
    (INTEGER, "abc", 'Error deserializing delimited row, column F: For input string: "abc"'),
    (INTEGER, "2147483648", 'Error deserializing delimited row, column F: For input string: "2147483648"'),
    (INTEGER, "1.0", 'Error deserializing delimited row, column F: For input string: "1.0"'),
    (BIGINT, "1e3", 'Error deserializing delimited row, column F: For input string: "1e3"'),
    (DOUBLE, "inf", 'Error deserializing delimited row, column F: For input string: "inf"'),
    (DOUBLE, "x1", 'Error deserializing delimited row, column F: For input string: "x1"'),
    (DecimalType(3, 1), "123.4", ("Error deserializing delimited row, column F: Numeric field overflow: A field with "
     "precision 3 and scale 1 must round to an absolute value less than 10^2. Got 123.4")),
    (BYTES, "@@", "Error deserializing delimited row, column F: Illegal base64 character"),
]


@pytest.mark.parametrize(("sql_type", "field", "reason"), BAD_FIELDS)
def test_a_field_that_does_not_parse_fails_its_record_only(sql_type: SqlType, field: str, reason: str) -> None:
    fmt = create_format("DELIMITED", [("ID", INTEGER), ("F", sql_type)])
    decoded = fmt.decode(pa.array([b"1,", f"2,{field}".encode(), b"3,"]), topic="t")
    assert decoded.errors() == [(1, PREFIX + reason)]
    assert [row["ID"] for row in values(decoded)] == [1, None, 3]


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ("1,2", "Column count mismatch on deserialization. topic: t, expected: 3, got: 2"),
        ("1,2,3,4", "Column count mismatch on deserialization. topic: t, expected: 3, got: 4"),
        ('1,"a\nb",3,4', "Column count mismatch on deserialization. topic: t, expected: 3, got: 4"),
        ("", "No fields in record"),
    ],
)
def test_a_record_with_the_wrong_field_count_fails_alone(record: str, reason: str) -> None:
    fmt = create_format("DELIMITED", [("A", INTEGER), ("B", STRING), ("C", INTEGER)])
    decoded = fmt.decode(pa.array([b"1,x,2", record.encode(), b"3,y,4"]), topic="t")
    assert decoded.errors() == [(1, PREFIX + reason)]
    assert values(decoded) == [{"A": 1, "B": "x", "C": 2}, {"A": None, "B": None, "C": None}, {"A": 3, "B": "y", "C": 4}]


def test_quoted_line_breaks_and_tombstones() -> None:
    fmt = create_format("DELIMITED", [("A", INTEGER), ("B", STRING)])
    decoded = fmt.decode(pa.array([b'1,"two\nlines"', None, b'2,"cr\rhere"', b"3,z"]), topic="t")
    assert decoded.errors() == []
    assert decoded.null_rows.tolist() == [1]
    assert values(decoded) == [{"A": 1, "B": "two\nlines"}, {"A": None, "B": None}, {"A": 2, "B": "cr\rhere"}, {"A": 3, "B": "z"}]


@pytest.mark.parametrize(("delimiter", "char"), [("TAB", "\t"), ("SPACE", " "), ("|", "|"), (";", ";")])
def test_delimiters(delimiter: str, char: str) -> None:
    fmt = create_format("DELIMITED", [("A", INTEGER), ("B", STRING)], {"VALUE_DELIMITER": delimiter})
    decoded = fmt.decode(pa.array([f"1{char}x".encode()]))
    assert values(decoded) == [{"A": 1, "B": "x"}]
    table = pa.table({"A": pa.array([2], pa.int32()), "B": [f"has{char}it"]})
    assert fmt.encode(table).to_pylist() == [f'2{char}"has{char}it"'.encode()]


def test_only_requested_columns_are_returned_but_the_field_count_is_checked() -> None:
    fmt = create_format("DELIMITED", [("A", INTEGER), ("B", STRING), ("C", DOUBLE)])
    decoded = fmt.decode(pa.array([b"1,x,2.5", b"1,x"]), [("C", DOUBLE)], topic="t")
    assert decoded.table.column_names == ["C"]
    assert values(decoded) == [{"C": 2.5}, {"C": None}]
    assert decoded.error_rows.tolist() == [1]


# (type, value, field text written)
WRITTEN: list[tuple[SqlType, Any, str]] = [
    (INTEGER, 7, "7"),
    (BIGINT, None, ""),
    (DOUBLE, 100.0, "100.0"),
    (DOUBLE, 1e20, "1.0E20"),
    (DOUBLE, 1.5e-7, "1.5E-7"),
    (DOUBLE, 0.0, "0.0"),
    (BOOLEAN, True, "true"),
    (STRING, "plain", "plain"),
    (STRING, 'q"uote', '"q""uote"'),
    (STRING, "a,b", '"a,b"'),
    (STRING, " lead", '" lead"'),
    (STRING, "line\nbreak", '"line\nbreak"'),
    (DecimalType(5, 2), Decimal("1.50"), "1.50"),
    (TIMESTAMP, datetime.datetime(2023, 11, 14, 22, 13, 20, 123000), "1700000000123"),
    (DATE, datetime.date(2022, 1, 8), "19000"),
    (TIME, datetime.time(1, 2, 3, 4000), "3723004"),
    (BYTES, b"\x00\x01\x02", "AAEC"),
]


@pytest.mark.parametrize(("sql_type", "value", "text"), WRITTEN)
def test_encoding_writes_what_ksqldb_writes_and_reads_back(sql_type: SqlType, value: Any, text: str) -> None:
    fmt = create_format("DELIMITED", [("ID", INTEGER), ("F", sql_type)])
    table = pa.table({"ID": pa.array([1], pa.int32()), "F": pa.array([value], sql_type.to_arrow())})
    encoded = fmt.encode(table)
    assert encoded.to_pylist() == [f"1,{text}".encode()]
    decoded = fmt.decode(encoded)
    assert decoded.errors() == []
    assert values(decoded) == [{"ID": 1, "F": value}]


# (type, value, first field text written): Commons CSV 1.4 quotes a first field that is empty or does not start
# with an ASCII letter or digit, whatever its type.
WRITTEN_FIRST: list[tuple[SqlType, Any, str]] = [
    (INTEGER, -5, '"-5"'),
    (INTEGER, 5, "5"),
    (DOUBLE, -1.5, '"-1.5"'),
    (DecimalType(5, 2), Decimal("-1.50"), '"-1.50"'),
    (BOOLEAN, False, "false"),
    (STRING, "-x", '"-x"'),
    (STRING, "_x", '"_x"'),
    (STRING, "été", '"été"'),
    (STRING, "", '""'),
    (STRING, None, ""),
    (BYTES, b"\xfb\xff", '"+/8="'),
]


@pytest.mark.parametrize(("sql_type", "value", "text"), WRITTEN_FIRST)
def test_the_first_field_is_quoted_as_commons_csv_does(sql_type: SqlType, value: Any, text: str) -> None:
    fmt = create_format("DELIMITED", [("F", sql_type), ("ID", INTEGER)])
    table = pa.table({"F": pa.array([value], sql_type.to_arrow()), "ID": pa.array([1], pa.int32())})
    encoded = fmt.encode(table)
    assert encoded.to_pylist() == [f"{text},1".encode()]
    if value != "":  # an empty field reads back as null
        assert values(fmt.decode(encoded)) == [{"F": value, "ID": 1}]


def test_a_large_batch_decodes_and_isolates_bad_rows() -> None:
    n = 200_000
    rows = [f"{i},GET /{i},{400 + i % 7}".encode() for i in range(n)]
    rows[10] = b"10,short"
    rows[190_000] = b"x,GET /,404"
    fmt = create_format("DELIMITED", [("USERID", INTEGER), ("REQUEST", STRING), ("STATUS", INTEGER)])
    decoded = fmt.decode(pa.array(rows, pa.binary()), topic="t")
    assert decoded.error_rows.tolist() == [10, 190_000]
    userid = decoded.table.column("USERID").to_pylist()
    assert len(userid) == n and userid[11] == 11 and userid[-1] == n - 1 and userid[10] is None
