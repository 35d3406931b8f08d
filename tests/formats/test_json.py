"""The JSON format against ksqlDB's behaviour: coercions, errors, nulls, nesting, spellings, wrapping."""

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
    ArrayType,
    DecimalType,
    MapType,
    SqlType,
    StructField,
    StructType,
)
from tests.formats.cases import decode_one, values

PREFIX = "Failed to deserialize value from topic: t. "

# (type, JSON field text, value ksqlDB reads)
COERCIONS: list[tuple[SqlType, str, Any]] = [
    (INTEGER, "404", 404),
    (INTEGER, '"404"', 404),
    (INTEGER, '"-7"', -7),
    (INTEGER, '"+5"', 5),
    (INTEGER, "3000000000", -1294967296),  # Jackson's intValue() wraps
    (INTEGER, "null", None),
    (BIGINT, '"4096"', 4096),
    (BIGINT, "9007199254740993", 9007199254740993),
    (BIGINT, '"-9223372036854775808"', -(2**63)),
    (DOUBLE, "1.5", 1.5),
    (DOUBLE, '"2.25"', 2.25),
    (DOUBLE, "3", 3.0),
    (STRING, '"abc"', "abc"),
    (STRING, "42", "42"),
    (STRING, "true", "true"),
    (STRING, '{"a":1}', '{"a":1}'),
    (BOOLEAN, "true", True),
    (BOOLEAN, '"false"', False),
    (BOOLEAN, '"TRUE"', True),
    (DecimalType(5, 2), "1.5", Decimal("1.50")),
    (DecimalType(5, 2), '"12.345"', Decimal("12.35")),
    (DecimalType(4, 0), "12", Decimal(12)),
    (TIMESTAMP, "1700000000123", datetime.datetime(2023, 11, 14, 22, 13, 20, 123000)),
    (DATE, "19000", datetime.date(2022, 1, 8)),
    (TIME, "3723004", datetime.time(1, 2, 3, 4000)),
    (BYTES, '"AAEC"', b"\x00\x01\x02"),
    (ArrayType(INTEGER), '[1, "2", null]', [1, 2, None]),
    (ArrayType(STRING), "[]", []),
    (MapType(STRING, BIGINT), '{"a": 1, "b": "2"}', [("a", 1), ("b", 2)]),
    (StructType((StructField("X", INTEGER), StructField("Y", STRING))), '{"x": 1, "Y": "b"}', {"X": 1, "Y": "b"}),
    (StructType((StructField("X", INTEGER),)), "{}", {"X": None}),
    (ArrayType(StructType((StructField("K", TIMESTAMP),))), '[{"k": 5}, {"K": null}]',
     [{"K": datetime.datetime(1970, 1, 1, 0, 0, 0, 5000)}, {"K": None}]),
    (MapType(STRING, ArrayType(BYTES)), '{"m": ["AA=="]}', [("m", [b"\x00"])]),
]


@pytest.mark.parametrize(("sql_type", "field", "expected"), COERCIONS)
def test_a_field_is_read_as_ksqldb_reads_it(sql_type: SqlType, field: str, expected: Any) -> None:
    decoded = decode_one("JSON", [("F", sql_type)], '{"f": ' + field + "}")
    assert decoded.errors() == []
    assert values(decoded) == [{"F": expected}]


@pytest.mark.parametrize(("sql_type", "field", "expected"), COERCIONS)
def test_an_unwrapped_value_is_read_the_same_way(sql_type: SqlType, field: str, expected: Any) -> None:
    decoded = decode_one("JSON", [("F", sql_type)], field, properties={"WRAP_SINGLE_VALUE": False})
    assert decoded.errors() == []
    assert values(decoded) == [{"F": expected}]


# (type, JSON field text, reason ksqlDB logs after the topic)
ERRORS: list[tuple[SqlType, str, str]] = [
    (INTEGER, '"abc"', "Can't coerce string to type. targetType: INTEGER, path: $.F"),
    (INTEGER, '"99999999999"', "Can't coerce string to type. targetType: INTEGER, path: $.F"),
    (INTEGER, "[1]", "Can't convert type. sourceType: ArrayNode, requiredType: INTEGER, path: $.F"),
    (INTEGER, '{"a": 1}', "Can't convert type. sourceType: ObjectNode, requiredType: INTEGER, path: $.F"),
    (BIGINT, '"12x"', "Can't coerce string to type. targetType: BIGINT, path: $.F"),
    (DOUBLE, '"one"', "Can't coerce string to type. targetType: DOUBLE, path: $.F"),
    (DOUBLE, "[]", "Can't convert type. sourceType: ArrayNode, requiredType: DOUBLE, path: $.F"),
    (BOOLEAN, '"yes"', "Can't coerce string to type. targetType: BOOLEAN, path: $.F"),
    (BOOLEAN, "{}", "Can't convert type. sourceType: ObjectNode, requiredType: BOOLEAN, path: $.F"),
    (DecimalType(4, 2), "123.4", ("Numeric field overflow: A field with precision 4 and scale 2 must round to an "
     "absolute value less than 10^2. Got 123.4, path: $.F")),
    (DecimalType(4, 2), '"x"', "Can't coerce string to type. targetType: DECIMAL, path: $.F"),
    (BYTES, '"@@@"', "Value is not a valid Base64 encoded string, path: $.F"),
    (BYTES, "12", "Can't convert type. sourceType: IntNode, requiredType: BYTES, path: $.F"),
    (TIMESTAMP, '"yesterday"', "Can't coerce string to type. targetType: TIMESTAMP, path: $.F"),
    (ArrayType(INTEGER), '"1,2"', "Can't convert type. sourceType: TextNode, requiredType: ARRAY, path: $.F"),
    (ArrayType(INTEGER), '[1, "x"]', "Can't coerce string to type. targetType: INTEGER, path: $.F[1]"),
    (MapType(STRING, INTEGER), "[1]", "Can't convert type. sourceType: ArrayNode, requiredType: MAP, path: $.F"),
    (MapType(STRING, INTEGER), '{"k": "v"}', "Can't coerce string to type. targetType: INTEGER, path: $.F.k"),
    (StructType((StructField("X", INTEGER),)), "5", "Can't convert type. sourceType: IntNode, requiredType: STRUCT, path: $.F"),
    (StructType((StructField("X", INTEGER),)), '{"x": "abc"}',
     "Can't coerce string to type. targetType: INTEGER, path: $.F.X"),
    (StructType((StructField("X", BOOLEAN),)), '{"x": 1}',
     "Can't convert type. sourceType: IntNode, requiredType: BOOLEAN, path: $.F.X"),
]


@pytest.mark.parametrize(("sql_type", "field", "reason"), ERRORS)
def test_a_field_that_cannot_be_read_fails_its_record_with_ksqldb_reason(sql_type: SqlType, field: str, reason: str) -> None:
    rows = ['{"ok": 1}', '{"f": ' + field + ', "ok": 2}', '{"ok": 3}']
    fmt = create_format("JSON", [("F", sql_type), ("OK", INTEGER)])
    decoded = fmt.decode(pa.array([r.encode() for r in rows], pa.binary()), topic="t")
    assert decoded.errors() == [(1, PREFIX + reason)]
    assert values(decoded)[1] == {"F": None, "OK": None}
    assert [row["OK"] for row in values(decoded)] == [1, None, 3]


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ("not json", ("Unrecognized token 'not': was expecting (JSON String, Number, Array, Object or token "
                     "'null', 'true' or 'false')")),
        ('{"a": 1', "Unexpected end-of-input: expected close marker for Object"),
        ("[1, 2]", "Can't convert type. sourceType: ArrayNode, requiredType: STRUCT, path: $"),
        ("17", "Can't convert type. sourceType: IntNode, requiredType: STRUCT, path: $"),
        ('"text"', "Can't convert type. sourceType: TextNode, requiredType: STRUCT, path: $"),
    ],
)
def test_a_record_that_is_not_a_json_object_fails(record: str, reason: str) -> None:
    decoded = decode_one("JSON", [("A", INTEGER), ("B", STRING)], record)
    assert decoded.errors() == [(0, PREFIX + reason)]
    assert values(decoded) == [{"A": None, "B": None}]


def test_bytes_that_are_not_utf8_fail_their_record_only() -> None:
    fmt = create_format("JSON", [("A", STRING)])
    decoded = fmt.decode(pa.array([b'{"a": "x\xff"}', b'{"a": "y"}']), topic="t")
    assert decoded.error_rows.tolist() == [0]
    assert "UTF-8" in decoded.error_reasons[0]
    assert values(decoded) == [{"A": None}, {"A": "y"}]


def test_tombstones_and_json_null_decode_to_null_rows_not_errors() -> None:
    fmt = create_format("JSON", [("A", INTEGER)])
    decoded = fmt.decode(pa.array([b'{"a": 1}', None, b"null", b""], pa.binary()), topic="t")
    assert decoded.errors() == []
    assert decoded.null_rows.tolist() == [1, 2, 3]
    assert values(decoded) == [{"A": 1}, {"A": None}, {"A": None}, {"A": None}]


def test_missing_fields_and_json_nulls_are_null_without_error() -> None:
    decoded = decode_one("JSON", [("A", INTEGER), ("B", ArrayType(INTEGER)), ("C", STRING)], '{"a": null, "b": null}')
    assert decoded.errors() == []
    assert values(decoded) == [{"A": None, "B": None, "C": None}]


@pytest.mark.parametrize(
    "records",
    [
        ['{"userid": 1}', '{"USERID": 2}', '{"UserId": 3}'],
        ['{"UserId": 1}'] * 70 + ['{"userid": 2}'],  # a spelling first seen past the sample
        ['{"a": 0}'] * 100 + ['{"uSeRiD": 2}'],
    ],
)
def test_field_names_match_case_insensitively(records: list[str]) -> None:
    fmt = create_format("JSON", [("USERID", INTEGER)])
    decoded = fmt.decode(pa.array([r.encode() for r in records]), topic="t")
    assert decoded.errors() == []
    expected = [int(r.split(":")[1].strip(" }")) if "serid" in r.lower() else None for r in records]
    assert [row["USERID"] for row in values(decoded)] == expected


def test_the_exact_spelling_wins_and_quoted_names_match_exactly() -> None:
    fmt = create_format("JSON", [("USERID", INTEGER), ("userName", STRING)])
    records = ['{"userid": 1, "USERID": 2, "userName": "a"}', '{"userid": 3, "USERNAME": "b", "username": "c"}']
    decoded = fmt.decode(pa.array([r.encode() for r in records]), topic="t")
    assert decoded.errors() == []
    assert values(decoded) == [{"USERID": 2, "userName": "a"}, {"USERID": 3, "userName": None}]


def test_nested_struct_fields_match_case_insensitively() -> None:
    point = StructType((StructField("X", INTEGER), StructField("Y", INTEGER)))
    fmt = create_format("JSON", [("P", point), ("L", ArrayType(point))])
    records = ['{"p": {"x": 1, "y": 2}, "l": [{"X": 3, "y": 4}]}', '{"P": {"X": 5, "Y": 6}, "l": []}']
    decoded = fmt.decode(pa.array([r.encode() for r in records]), topic="t")
    assert decoded.errors() == []
    assert values(decoded) == [
        {"P": {"X": 1, "Y": 2}, "L": [{"X": 3, "Y": 4}]},
        {"P": {"X": 5, "Y": 6}, "L": []},
    ]


def test_only_the_requested_columns_are_decoded_in_the_order_asked() -> None:
    fmt = create_format("JSON", [("A", INTEGER), ("B", STRING), ("C", DOUBLE)])
    decoded = fmt.decode(pa.array([b'{"a": 1, "b": "x", "c": 2.5}']), [("C", DOUBLE), ("A", INTEGER)])
    assert decoded.table.column_names == ["C", "A"]
    assert decoded.table.schema.types == [pa.float64(), pa.int32()]
    assert values(decoded) == [{"C": 2.5, "A": 1}]


def test_no_requested_column_still_reports_records_that_are_not_objects() -> None:
    fmt = create_format("JSON", [("A", INTEGER)])
    decoded = fmt.decode(pa.array([b'{"a": 1}', b"nope", None]), [], topic="t")
    assert decoded.table.num_rows == 3 and decoded.table.num_columns == 0
    assert decoded.error_rows.tolist() == [1]
    assert decoded.null_rows.tolist() == [2]


def test_an_unwrapped_value_that_is_an_object_fails_for_a_primitive_column() -> None:
    decoded = decode_one("JSON", [("V", INTEGER)], '{"v": 1}', properties={"WRAP_SINGLE_VALUE": "false"})
    assert decoded.errors() == [(0, PREFIX + "Can't convert type. sourceType: ObjectNode, requiredType: INTEGER, path: $")]


def test_a_single_key_column_is_read_unwrapped() -> None:
    fmt = create_format("JSON", [("ID", STRING)], role="key")
    decoded = fmt.decode(pa.array([b'"abc"', b"12"]), topic="t")
    assert values(decoded) == [{"ID": "abc"}, {"ID": "12"}]
    assert fmt.encode(decoded.table).to_pylist() == [b'"abc"', b'"12"']


# (columns, rows as Python values, JSON ksqlDB writes)
ENCODINGS: list[tuple[list[tuple[str, SqlType]], dict[str, Any], bytes]] = [
    ([("A", INTEGER), ("b", STRING)], {"A": 1, "b": 'q"\n'}, b'{"A":1,"b":"q\\"\\n"}'),
    ([("A", INTEGER), ("B", STRING)], {"A": None, "B": None}, b'{"A":null,"B":null}'),
    ([("T", TIMESTAMP), ("D", DATE), ("TM", TIME)],
     {"T": datetime.datetime(2023, 11, 14, 22, 13, 20, 123000), "D": datetime.date(2022, 1, 8), "TM": datetime.time(1, 2, 3, 4000)},
     b'{"T":1700000000123,"D":19000,"TM":3723004}'),
    ([("B", BYTES), ("M", DecimalType(5, 2))], {"B": b"\x00\x01\x02", "M": Decimal("1.50")}, b'{"B":"AAEC","M":1.50}'),
    ([("L", ArrayType(TIMESTAMP)), ("S", StructType((StructField("X", BYTES), StructField("y", BOOLEAN))))],
     {"L": [datetime.datetime(1970, 1, 1, 0, 0, 1), None], "S": {"X": b"\xff", "y": True}},
     b'{"L":[1000,null],"S":{"X":"/w==","y":true}}'),
    ([("M", MapType(STRING, DATE))], {"M": [("k", datetime.date(1970, 1, 3))]}, b'{"M":{"k":2}}'),
    ([("D", DOUBLE), ("BI", BIGINT)], {"D": 0.5, "BI": 2**62}, b'{"D":0.5,"BI":4611686018427387904}'),
    # Doubles as Java's Double.toString writes them (Jackson): E-notation below 1e-3 and from 1e7 on.
    ([("D", DOUBLE), ("E", DOUBLE), ("F", DOUBLE)], {"D": 922337203692.0, "E": 1e-4, "F": 100.0},
     b'{"D":9.22337203692E11,"E":1.0E-4,"F":100.0}'),
    # ... and so are doubles nested in arrays, maps and structs.
    ([("L", ArrayType(DOUBLE)), ("M", MapType(STRING, DOUBLE)), ("S", StructType((StructField("X", DOUBLE),)))],
     {"L": [2e22, 0.5, None], "M": [("k", 1e-4)], "S": {"X": -1.25e-9}},
     b'{"L":[2.0E22,0.5,null],"M":{"k":1.0E-4},"S":{"X":-1.25E-9}}'),
    ([("S", StructType((StructField("X", DOUBLE), StructField("Y", DOUBLE), StructField("L", ArrayType(DOUBLE)))))],
     {"S": {"X": 1e-7, "Y": 3.25, "L": [1.0]}}, b'{"S":{"X":1.0E-7,"Y":3.25,"L":[1.0]}}'),
]


def test_nested_doubles_of_a_slice_with_nulls_are_written_as_java_does() -> None:
    fmt = create_format("JSON", [("L", ArrayType(DOUBLE))])
    column = pa.array([[1.0], None, [2e22, None], [0.5]], pa.list_(pa.float64())).slice(1)
    assert fmt.encode(pa.table({"L": column})).to_pylist() == [b'{"L":null}', b'{"L":[2.0E22,null]}', b'{"L":[0.5]}']


@pytest.mark.parametrize(("columns", "row", "expected"), ENCODINGS)
def test_encoding_writes_what_ksqldb_writes_and_reads_back(columns: list[tuple[str, SqlType]], row: dict[str, Any], expected: bytes) -> None:
    fmt = create_format("JSON", columns)
    table = pa.table({name: pa.array([row[name]], t.to_arrow()) for name, t in columns})
    encoded = fmt.encode(table)
    assert encoded.type == pa.binary()
    assert encoded.to_pylist() == [expected]
    decoded = fmt.decode(encoded, topic="t")
    assert decoded.errors() == []
    assert decoded.table.equals(table)


@pytest.mark.parametrize(("sql_type", "value", "expected"), [(INTEGER, 10, b"10"), (STRING, "abc", b'"abc"'), (INTEGER, None, None)])
def test_an_unwrapped_value_is_written_bare(sql_type: SqlType, value: Any, expected: bytes | None) -> None:
    fmt = create_format("JSON", [("V", sql_type)], {"wrap_single_value": False})
    assert fmt.encode(pa.table({"V": pa.array([value], sql_type.to_arrow())})).to_pylist() == [expected]


def test_a_single_value_column_is_wrapped_by_default() -> None:
    fmt = create_format("JSON", [("V", INTEGER)])
    assert fmt.encode(pa.table({"V": pa.array([10], pa.int32())})).to_pylist() == [b'{"V":10}']
    assert values(fmt.decode(pa.array([b'{"v": 10}']))) == [{"V": 10}]


def test_a_large_batch_decodes_every_row_and_isolates_the_bad_ones() -> None:
    n = 200_000
    good = [f'{{"userid": {i}, "status": "{400 + i % 7}", "request": "GET /{i}"}}'.encode() for i in range(n)]
    for bad in (1_000, 150_000):
        good[bad] = b'{"userid": "x"}'
    fmt = create_format("JSON", [("USERID", INTEGER), ("STATUS", INTEGER), ("REQUEST", STRING)])
    decoded = fmt.decode(pa.array(good, pa.binary()), topic="t")
    assert decoded.error_rows.tolist() == [1_000, 150_000]
    table = decoded.table
    assert table.num_rows == n
    userid = table.column("USERID").to_pylist()
    assert userid[:3] == [0, 1, 2] and userid[-1] == n - 1 and userid[1_000] is None
    assert sum(1 for i, u in enumerate(userid) if u != i) == 2
    assert table.column("STATUS").to_pylist()[7] == 400


def count_exact_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A list that grows by one for each record the JSON format reads on its per-record path."""
    from headwater.formats import json as json_format

    calls: list[int] = []
    real = json_format.record_values

    def counting(*args: Any) -> Any:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(json_format, "record_values", counting)
    return calls


def test_rows_whose_nulls_are_real_do_not_take_the_per_record_path(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = count_exact_reads(monkeypatch)
    fmt = create_format("JSON", [("A", INTEGER), ("B", ArrayType(STRING)), ("C", STRING)])
    records = [b'{"a": 1, "c": "x"}', b'{"a": null, "b": ["q"]}', b"{}", b"null", None, b'{"a": "7"}'] * 1000
    decoded = fmt.decode(pa.array(records, pa.binary()), topic="t")
    assert decoded.num_errors == 0
    assert calls == []
    assert values(decoded)[:6] == [
        {"A": 1, "B": None, "C": "x"},
        {"A": None, "B": ["q"], "C": None},
        {"A": None, "B": None, "C": None},
        {"A": None, "B": None, "C": None},
        {"A": None, "B": None, "C": None},
        {"A": 7, "B": None, "C": None},
    ]


def test_a_spelling_learned_in_one_batch_is_read_fast_in_the_next(monkeypatch: pytest.MonkeyPatch) -> None:
    fmt = create_format("JSON", [("USERID", INTEGER)])
    first = fmt.decode(pa.array([b'{"x": 0}'] * 100 + [b'{"UserID": 1}']), topic="t")
    assert first.table.column("USERID").to_pylist()[-1] == 1
    calls = count_exact_reads(monkeypatch)
    second = fmt.decode(pa.array([b'{"x": 0}'] * 100 + [b'{"UserID": 2}']), topic="t")
    assert second.table.column("USERID").to_pylist()[-1] == 2
    assert calls == []


def test_columns_whose_names_differ_only_in_case_read_their_own_fields() -> None:
    fmt = create_format("JSON", [("userid", STRING), ("USERID", INTEGER)])
    decoded = fmt.decode(pa.array([b'{"userid": "7"}', b'{"USERID": 8}']), topic="t")
    assert decoded.errors() == []
    assert values(decoded) == [{"userid": "7", "USERID": 7}, {"userid": None, "USERID": 8}]


@pytest.mark.parametrize("start", [0, 1, 3])
def test_batches_mixing_text_that_is_not_json_with_objects_decode_every_good_row(start: int) -> None:
    fmt = create_format("JSON", [("A", INTEGER)])
    records = [b'{"a": 1}', b"plain text", b'{"a": 2', b"  ", b'{"a": 3}', None, b"7", b'{"a": "4"}'] * 3
    data = pa.array(records, pa.binary()).slice(start)
    decoded = fmt.decode(data, topic="t")
    expected = [1, None, None, None, 3, None, None, 4] * 3
    assert values(decoded) == [{"A": a} for a in expected[start:]]
    failed = {i - start for i, r in enumerate(records) if i >= start and r in (b"plain text", b'{"a": 2', b"7")}
    assert set(decoded.error_rows.tolist()) == failed
    again = fmt.decode(pa.array([b'{"a": 5}', b'{"a": 6}']), topic="t")  # a clean batch after a dirty one
    assert values(again) == [{"A": 5}, {"A": 6}] and again.num_errors == 0


def test_non_finite_doubles_are_written_as_strings_and_no_string_passes_for_a_number() -> None:
    fmt = create_format("JSON", [("D", DOUBLE), ("S", STRING)])
    table = pa.table({"D": pa.array([float("nan"), float("-inf"), None], pa.float64()),
                      "S": ["\x01hw0123456789abcdef12\x01", "\u0001", None]})
    assert fmt.encode(table).to_pylist() == [b'{"D":"NaN","S":"\\u0001hw0123456789abcdef12\\u0001"}',
                                             b'{"D":"-Infinity","S":"\\u0001"}', b'{"D":null,"S":null}']
