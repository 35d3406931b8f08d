"""Bytes conversions: TO_BYTES, FROM_BYTES, ENCODE and INT / BIGINT / DOUBLE_FROM_BYTES.

Encodings are ``hex`` (upper-case digits out, either case in), ``utf8``,
``ascii`` and ``base64``, case-insensitive. An unknown literal encoding is an
error; an unknown encoding in a column, or bytes that do not decode, give NULL
(ksqlDB logs the exception). ``*_FROM_BYTES`` need exactly 4 or 8 bytes,
big-endian unless ``'LITTLE_ENDIAN'`` is given.
"""

from __future__ import annotations

from collections.abc import Callable

from headwater.sql.functions.registry import Call, FunctionRegistry, scalar, variant
from headwater.sql.typing import wrap_bigint, wrap_int

CONVERSIONS = "CONVERSIONS"
STRING_CATEGORY = "STRING"
ENCODINGS = ("hex", "utf8", "ascii", "base64")

_TO_BYTES = {
    "hex": "TRY(unhex({0}))",
    "utf8": "encode({0})",
    "ascii": "encode({0})",
    "base64": "TRY(from_base64({0}))",
}
_FROM_BYTES = {
    "hex": "hex({0})",
    "utf8": "TRY(decode({0}))",
    "ascii": "TRY(decode({0}))",
    "base64": "to_base64({0})",
}

MACROS: tuple[str, ...] = (
    # Hex digits of exactly hw_n bytes, in big-endian order.
    """CREATE OR REPLACE MACRO hw_be_hex(hw_b, hw_n, hw_order) AS
         CASE WHEN octet_length(hw_b) <> hw_n THEN NULL
              WHEN upper(hw_order) = 'BIG_ENDIAN' THEN hex(hw_b)
              WHEN upper(hw_order) = 'LITTLE_ENDIAN' THEN array_to_string(list_reverse(
                list_transform(range(0, hw_n), lambda hw_i: substr(hex(hw_b), 2 * hw_i + 1, 2))), '')
         END""",
    """CREATE OR REPLACE MACRO hw_bits_to_double(hw_u) AS
         CASE WHEN (hw_u >> 52) & 2047 = 2047 THEN
                CASE WHEN hw_u & 4503599627370495 <> 0 THEN CAST('nan' AS DOUBLE)
                     WHEN hw_u >> 63 = 1 THEN CAST('-inf' AS DOUBLE) ELSE CAST('inf' AS DOUBLE) END
              ELSE (CASE WHEN hw_u >> 63 = 1 THEN -1.0 ELSE 1.0 END) *
                CASE WHEN (hw_u >> 52) & 2047 = 0 THEN CAST(hw_u & 4503599627370495 AS DOUBLE) * pow(2, -1074)
                     ELSE (1.0 + CAST(hw_u & 4503599627370495 AS DOUBLE) / 4503599627370496.0)
                          * pow(2, CAST((hw_u >> 52) & 2047 AS INTEGER) - 1023) END
         END""",
)


def _encoding(call: Call, index: int, table: dict[str, str], value: str) -> str:
    """``table``'s conversion of ``value`` for the encoding argument ``index``."""
    if call.is_literal(index):
        name = call.literal(index, "encoding")
        if name is None:
            return "NULL"
        if name.lower() not in table:
            raise call.error(
                f"Function '{call.name}': unknown encoding '{name}'. "
                f"Supported encodings are: {', '.join(ENCODINGS)}.",
                call.args[index].node,
            )
        return table[name.lower()].format(value)
    enc = f"lower({call.sql[index]})"
    branches = " ".join(f"WHEN {enc} = '{k}' THEN {v.format(value)}" for k, v in table.items())
    return f"CASE {branches} END"


def _to_bytes(call: Call) -> str:
    return _encoding(call, 1, _TO_BYTES, call.sql[0])


def _from_bytes(call: Call) -> str:
    return _encoding(call, 1, _FROM_BYTES, call.sql[0])


#: ENCODE writes hex with lower-case digits (ksqlDB uses commons-codec there; FROM_BYTES uses upper case).
_ENCODE_OUT = {**_FROM_BYTES, "hex": "lower(hex({0}))"}


def _encode(call: Call) -> str:
    return _encoding(call, 2, _ENCODE_OUT, _encoding(call, 1, _TO_BYTES, call.sql[0]))


def _from_bytes_number(size: int, kind: str) -> Callable[[Call], str]:
    def translate(call: Call) -> str:
        order = call.sql[1] if len(call.args) == 2 else "'BIG_ENDIAN'"
        digits = f"'0x' || hw_be_hex({call.sql[0]}, {size}, {order})"
        if kind == "INT":
            return wrap_int(f"CAST(CAST({digits} AS UINTEGER) AS BIGINT)")
        if kind == "BIGINT":
            return wrap_bigint(f"CAST(CAST({digits} AS UBIGINT) AS HUGEINT)")
        return f"hw_bits_to_double(CAST({digits} AS UBIGINT))"

    return translate


def register(registry: FunctionRegistry) -> None:
    registry.add_setup(*MACROS)
    registry.register(scalar(
        "TO_BYTES", CONVERSIONS, "Converts a string to BYTES using an encoding (hex, utf8, ascii, base64).",
        variant("string STRING, encoding STRING", "BYTES", _to_bytes),
    ))
    registry.register(scalar(
        "FROM_BYTES", CONVERSIONS, "Converts BYTES to a string using an encoding (hex, utf8, ascii, base64).",
        variant("bytes BYTES, encoding STRING", "STRING", _from_bytes),
    ))
    registry.register(scalar(
        "ENCODE", STRING_CATEGORY, "Re-encodes a string from one encoding to another (hex, utf8, ascii, base64).",
        variant("input STRING, inputEncoding STRING, outputEncoding STRING", "STRING", _encode),
    ))
    for kind, size in (("INT", 4), ("BIGINT", 8), ("DOUBLE", 8)):
        translate = _from_bytes_number(size, kind)
        registry.register(scalar(
            f"{kind}_FROM_BYTES", CONVERSIONS,
            f"Reads {size} bytes as a {kind}, big-endian unless 'LITTLE_ENDIAN' is given.",
            variant("bytes BYTES", kind, translate),
            variant("bytes BYTES, byteOrder STRING", kind, translate),
        ))

