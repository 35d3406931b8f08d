"""The format registry and what each format accepts: ksqlDB's validation errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa
import pytest

from headwater.formats import (
    Decoded,
    Format,
    FormatError,
    create_format,
    format_class,
    format_names,
    register_format,
)
from headwater.formats.base import Column
from headwater.sql.types import (
    BIGINT,
    BOOLEAN,
    BYTES,
    DOUBLE,
    INTEGER,
    STRING,
    TIMESTAMP,
    ArrayType,
    MapType,
    SqlType,
    StructField,
    StructType,
)


def test_the_built_in_formats_are_registered() -> None:
    assert {"JSON", "DELIMITED", "KAFKA", "NONE"} <= set(format_names())


@pytest.mark.parametrize("name", ["json", "Json", " JSON ", "delimited", "kafka", "none"])
def test_names_are_case_insensitive(name: str) -> None:
    assert format_class(name).name == name.strip().upper()


def test_an_unknown_format_names_the_known_ones() -> None:
    with pytest.raises(FormatError, match=r"Unknown format: XML\. Known formats: AVRO, DELIMITED, JSON, JSON_SR, KAFKA, NONE, PROTOBUF, PROTOBUF_NOSR"):
        create_format("XML", [("A", INTEGER)])


def test_a_plugin_registers_through_the_same_registry() -> None:
    @register_format
    class Upper(Format):
        name = "TEST_UPPER"

        def decode(self, data: pa.Array, columns: Sequence[Column] | None = None, *, topic: str = "") -> Decoded:
            return Decoded(pa.table({"V": pa.compute.utf8_upper(data.cast(pa.string()))}))

        def encode(self, table: pa.Table) -> pa.Array:
            return table.column("V").combine_chunks().cast(pa.binary())

    fmt = create_format("test_upper", [("V", STRING)])
    assert fmt.decode(pa.array([b"ab"])).table.to_pylist() == [{"V": "AB"}]


STRUCT = StructType((StructField("X", INTEGER),))

# (format, columns, properties, role, error)
INVALID: list[tuple[str, list[tuple[str, SqlType]], Mapping[str, object], str, str]] = [
    ("NONE", [("A", INTEGER)], {}, "key", r"The 'NONE' format can only be used when no columns are defined\. Got: \[`A` INTEGER\]"),
    ("KAFKA", [("A", INTEGER), ("B", STRING)], {}, "key",
     r"The 'KAFKA' format only supports a single field\. Got: \[`A` INTEGER, `B` STRING\]"),
    ("KAFKA", [("A", BOOLEAN)], {}, "key", r"The 'KAFKA' format does not support type 'BOOLEAN'"),
    ("KAFKA", [("A", TIMESTAMP)], {}, "value", r"The 'KAFKA' format does not support type 'TIMESTAMP'"),
    ("KAFKA", [("A", ArrayType(INTEGER))], {}, "value", r"The 'KAFKA' format does not support type 'ARRAY'"),
    ("DELIMITED", [("A", INTEGER), ("B", ArrayType(INTEGER))], {}, "value",
     r"The 'DELIMITED' format does not support type 'ARRAY', column: `B`"),
    ("DELIMITED", [("M", MapType(STRING, INTEGER))], {}, "value", r"does not support type 'MAP', column: `M`"),
    ("DELIMITED", [("S", STRUCT)], {}, "key", r"does not support type 'STRUCT', column: `S`"),
    ("DELIMITED", [("A", INTEGER)], {"VALUE_DELIMITER": "||"}, "value",
     r"Invalid delimiter value: '\|\|'\. Delimiter must be a single character or TAB or SPACE"),
    ("DELIMITED", [("A", INTEGER)], {"VALUE_DELIMITER": ""}, "value", r"Delimiter cannot be empty"),
    ("DELIMITED", [("A", INTEGER)], {"KEY_DELIMITER": ";"}, "value", r"KEY_DELIMITER applies to the key format"),
    ("DELIMITED", [("A", INTEGER)], {"WRAP_SINGLE_VALUE": False}, "value",
     r"Format 'DELIMITED' does not support 'WRAP_SINGLE_VALUE' set to 'false'\."),
    ("JSON", [("A", INTEGER)], {"VALUE_DELIMITER": ";"}, "value",
     r"VALUE_DELIMITER is only supported with the DELIMITED format; VALUE_FORMAT is JSON"),
    ("JSON", [("A", INTEGER), ("B", INTEGER)], {"WRAP_SINGLE_VALUE": False}, "value",
     r"'WRAP_SINGLE_VALUE' is only valid for single-field value schemas"),
    ("JSON", [("A", INTEGER)], {"WRAP_SINGLE_VALUE": "maybe"}, "value", r"WRAP_SINGLE_VALUE must be true or false, got 'maybe'"),
    ("JSON", [("A", INTEGER)], {"WRAP_SINGLE_VALUE": True}, "key", r"'WRAP_SINGLE_VALUE' is only valid for value formats"),
    ("JSON", [("M", MapType(INTEGER, STRING))], {}, "value", r"The 'JSON' format only supports MAP types with STRING keys"),
    ("JSON", [("A", INTEGER)], {"PARTITIONS": 3}, "value", r"The 'JSON' value format does not take the property PARTITIONS"),
    ("KAFKA", [("A", INTEGER)], {"WRAP_SINGLE_VALUE": True}, "value",
     r"Format 'KAFKA' does not support 'WRAP_SINGLE_VALUE' set to 'true'\."),
    ("JSON", [("A", INTEGER), ("A", STRING)], {}, "value", r"duplicate column names"),
]


@pytest.mark.parametrize(("name", "columns", "properties", "role", "error"), INVALID)
def test_a_format_rejects_what_it_cannot_carry(
    name: str, columns: list[tuple[str, SqlType]], properties: Mapping[str, object], role: str, error: str
) -> None:
    with pytest.raises(FormatError, match=error):
        create_format(name, columns, properties, role=role)  # type: ignore[arg-type]


VALID: list[tuple[str, list[tuple[str, SqlType]], Mapping[str, object], str]] = [
    ("NONE", [], {}, "key"),
    ("KAFKA", [], {}, "key"),
    ("KAFKA", [("K", BYTES)], {}, "key"),
    ("KAFKA", [("K", DOUBLE)], {}, "value"),
    ("DELIMITED", [("A", INTEGER), ("B", STRING)], {"value_delimiter": "TAB"}, "value"),
    ("DELIMITED", [("A", INTEGER), ("B", STRING)], {"KEY_DELIMITER": "SPACE"}, "key"),
    ("JSON", [("A", INTEGER)], {"WRAP_SINGLE_VALUE": "false"}, "value"),
    ("JSON", [("A", INTEGER), ("B", BIGINT)], {}, "key"),
    ("JSON", [("M", MapType(STRING, STRUCT))], {}, "value"),
]


@pytest.mark.parametrize(("name", "columns", "properties", "role"), VALID)
def test_a_format_accepts_what_ksqldb_accepts(
    name: str, columns: list[tuple[str, SqlType]], properties: Mapping[str, object], role: str
) -> None:
    assert create_format(name, columns, properties, role=role).columns == tuple(columns)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "columns", "role", "wrapped"),
    [
        ("JSON", [("A", INTEGER)], "value", True),
        ("JSON", [("A", INTEGER)], "key", False),
        ("JSON", [("A", INTEGER), ("B", INTEGER)], "key", True),
        ("KAFKA", [("A", INTEGER)], "value", False),
    ],
)
def test_a_single_key_column_is_never_wrapped_a_single_value_column_is(
    name: str, columns: list[tuple[str, SqlType]], role: str, wrapped: bool
) -> None:
    assert create_format(name, columns, role=role).wrapped is wrapped  # type: ignore[arg-type]


def test_decoding_a_column_the_format_does_not_carry_is_an_error() -> None:
    fmt = create_format("JSON", [("A", INTEGER)])
    with pytest.raises(FormatError, match=r"carries no column 'B' \(it carries: A\)"):
        fmt.decode(pa.array([b"{}"]), [("B", INTEGER)])


def test_decoding_needs_a_binary_column() -> None:
    with pytest.raises(FormatError, match="decode expects a binary column, got int64"):
        create_format("JSON", [("A", INTEGER)]).decode(pa.array([1]))


def test_encoding_needs_the_format_columns() -> None:
    with pytest.raises(FormatError, match=r"encode expects a column 'A'; the table has \['B'\]"):
        create_format("JSON", [("A", INTEGER)]).encode(pa.table({"B": [1]}))


def test_none_decodes_no_column_and_writes_nulls() -> None:
    fmt = create_format("NONE", role="key")
    decoded = fmt.decode(pa.array([b"anything", None]))
    assert decoded.table.num_rows == 2 and decoded.table.num_columns == 0
    assert decoded.null_rows.tolist() == [1] and decoded.num_errors == 0
    assert fmt.encode(pa.table({"X": [1, 2]})).to_pylist() == [None, None]


def test_decoded_masks() -> None:
    decoded = Decoded(pa.table({"A": [1, 2, 3]}), np.array([1]), ("bad",), np.array([2]))
    assert decoded.error_mask().tolist() == [False, True, False]
    assert decoded.null_mask().tolist() == [False, False, True]
    assert decoded.errors() == [(1, "bad")]
