"""Java's text-to-number rules, which ksqlDB's serializers inherit.

ksqlDB coerces strings with ``Integer.parseInt``, ``Long.parseLong``,
``Double.parseDouble`` and ``new BigDecimal(text)``; numbers to INT and BIGINT
with Jackson's ``intValue()``/``longValue()`` (truncation, then two's
complement wrap-around); DOUBLE text with ``Double.toString``. These functions
reproduce them for the rows that take the exact (per-record) path.
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation

_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+\Z")
_DOUBLE_TEXT = re.compile(
    r"[+-]?(NaN|Infinity|(([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?)[fFdD]?)\Z"
)
_DECIMAL_TEXT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")

_WIDE = Context(prec=1000)
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1


def parse_int(text: str) -> int:
    """``Integer.parseInt``: an optional sign and decimal digits, in range; else ValueError."""
    return _parse_integer(text, INT_MIN, INT_MAX)


def parse_long(text: str) -> int:
    """``Long.parseLong``."""
    return _parse_integer(text, LONG_MIN, LONG_MAX)


def _parse_integer(text: str, low: int, high: int) -> int:
    if not _INTEGER_TEXT.match(text):
        raise ValueError(f"For input string: \"{text}\"")
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"For input string: \"{text}\"")
    return value


def parse_double(text: str) -> float:
    """``Double.parseDouble``: surrounding whitespace ignored, NaN/Infinity, an f/d suffix."""
    stripped = text.strip(" \t\n\r\x0b\x0c\x00")
    if not _DOUBLE_TEXT.match(stripped):
        raise ValueError(f"For input string: \"{text}\"")
    body = stripped.rstrip("fFdD") if not stripped.endswith("Infinity") else stripped
    if body.lstrip("+-") == "NaN":
        return math.nan
    if body.lstrip("+-") == "Infinity":
        return -math.inf if body.startswith("-") else math.inf
    return float(body)


def parse_decimal(text: str) -> Decimal:
    """``new BigDecimal(text)``: no surrounding whitespace, no NaN or Infinity."""
    if not _DECIMAL_TEXT.match(text):
        raise ValueError(f"For input string: \"{text}\"")
    return Decimal(text)


def fit_decimal(value: Decimal, precision: int, scale: int) -> Decimal:
    """ksqlDB's ``DecimalUtil.ensureFit``: round HALF_UP to ``scale``; too many digits is an error."""
    try:
        rounded = value.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP, context=_WIDE)
    except InvalidOperation:
        rounded = None
    if rounded is None or len(rounded.as_tuple().digits) > precision and rounded != 0:
        raise ValueError(
            f"Numeric field overflow: A field with precision {precision} and scale {scale} "
            f"must round to an absolute value less than 10^{precision - scale}. Got {value:f}"
        )
    return rounded


def wrap_int(value: int) -> int:
    """Java's narrowing of a long to an int (two's complement)."""
    return (value + 2**31) % 2**32 - 2**31


def wrap_long(value: int) -> int:
    """Java's narrowing of a BigInteger to a long."""
    return (value + 2**63) % 2**64 - 2**63


def number_to_long(value: Decimal | float) -> int:
    """Jackson's ``longValue()``: truncation toward zero, then wrap-around."""
    if isinstance(value, int):
        return wrap_long(value)
    if isinstance(value, float) and not math.isfinite(value):
        return 0 if math.isnan(value) else (LONG_MAX if value > 0 else LONG_MIN)
    return wrap_long(int(value))


def number_to_int(value: Decimal | float) -> int:
    """Jackson's ``intValue()``."""
    if isinstance(value, float) and not math.isfinite(value):
        return 0 if math.isnan(value) else (INT_MAX if value > 0 else INT_MIN)
    return wrap_int(int(value))


def double_to_string(value: float) -> str:
    """``Double.toString``: ``100.0``, ``1.0E20``, ``1.5E-7``, ``NaN``, ``Infinity``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    magnitude = abs(value)
    if 1e-3 <= magnitude < 1e7:
        text = repr(value)
        return text if "." in text else text + ".0"
    # repr gives the shortest digits that round-trip, as Java's Double.toString does.
    _, digit_tuple, exponent = Decimal(repr(magnitude)).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    sign = "-" if value < 0 else ""
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{int(exponent) + len(digits) - 1}"
