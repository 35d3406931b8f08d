"""Java's number parsing and printing, which ksqlDB's formats inherit."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from headwater.formats import java


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("+5", 5), ("-2147483648", -(2**31)), ("007", 7)])
def test_parse_int(text: str, value: int) -> None:
    assert java.parse_int(text) == value


@pytest.mark.parametrize("text", ["", " 1", "1.0", "1e2", "2147483648", "0x1", "--1", "1_0"])
def test_parse_int_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="For input string"):
        java.parse_int(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [("1.5", 1.5), (" 2 ", 2.0), ("1e3", 1000.0), ("3f", 3.0), ("-4.5D", -4.5), (".5", 0.5), ("Infinity", math.inf), ("-Infinity", -math.inf)],
)
def test_parse_double(text: str, value: float) -> None:
    assert java.parse_double(text) == value


@pytest.mark.parametrize("text", ["inf", "nan", "1,5", "", "e3", "1e"])
def test_parse_double_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        java.parse_double(text)


def test_parse_double_nan() -> None:
    assert math.isnan(java.parse_double("NaN"))


@pytest.mark.parametrize(
    ("value", "text"),
    [(100.0, "100.0"), (0.1, "0.1"), (1e7, "1.0E7"), (1e20, "1.0E20"), (1.5e-7, "1.5E-7"), (-2.5e-5, "-2.5E-5"),
     (12345678.9, "1.23456789E7"), (0.0, "0.0"), (-0.0, "-0.0"), (math.inf, "Infinity"), (math.nan, "NaN")],
)
def test_double_to_string(value: float, text: str) -> None:
    assert java.double_to_string(value) == text


@pytest.mark.parametrize(
    ("value", "precision", "scale", "fitted"),
    [("1.505", 5, 2, "1.51"), ("-1.505", 5, 2, "-1.51"), ("12", 4, 0, "12"), ("0.001", 3, 2, "0.00"), ("99.995", 5, 2, "100.00")],
)
def test_fit_decimal_rounds_half_up(value: str, precision: int, scale: int, fitted: str) -> None:
    assert java.fit_decimal(Decimal(value), precision, scale) == Decimal(fitted)


def test_fit_decimal_overflow() -> None:
    with pytest.raises(ValueError, match=r"precision 4 and scale 2 must round to an absolute value less than 10\^2\. Got 99.995"):
        java.fit_decimal(Decimal("99.995"), 4, 2)


@pytest.mark.parametrize(("value", "as_int"), [(2**31, -(2**31)), (Decimal("4.7"), 4), (Decimal("-4.7"), -4), (2**32 + 3, 3)])
def test_number_to_int_truncates_and_wraps_as_jackson_does(value: int | Decimal, as_int: int) -> None:
    assert java.number_to_int(value) == as_int
