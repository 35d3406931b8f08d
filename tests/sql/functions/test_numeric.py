"""Mathematical functions, evaluated in DuckDB: ksqlDB's documented results, NULLs, Java edge cases."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest

from tests.sql.functions.harness import check, ids


def _haversine(lat1: float, lon1: float, lat2: float, lon2: float, radius: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * math.asin(math.sqrt(a)) * radius


CASES: list[tuple[str, Any]] = [
    ("ABS(-5)", 5),
    ("ABS(I)", 7),
    ("ABS(CAST(-5 AS BIGINT))", 5),
    ("ABS(-2.5E0)", 2.5),
    ("ABS(-12.34)", Decimal("12.34")),
    ("ABS(NI)", None),
    ("ABS(-2147483648)", -2147483648),  # Java's Math.abs(Integer.MIN_VALUE)
    ("ACOS(1.0E0)", 0.0),
    ("ASIN(0)", 0.0),
    ("ATAN(0)", 0.0),
    ("ATAN2(1, 1)", math.pi / 4),
    ("CBRT(27)", 3.0),
    ("CEIL(1.2E0)", 2.0),
    ("CEIL(-1.2E0)", -1.0),
    ("CEIL(I)", 7),
    ("CEIL(12.34)", Decimal("13.00")),
    ("FLOOR(-1.2E0)", -2.0),
    ("FLOOR(DEC)", Decimal("12.00")),
    ("FLOOR(ND)", None),
    ("COS(0)", 1.0),
    ("COSH(0)", 1.0),
    ("COT(1)", 1 / math.tan(1)),
    ("DEGREES(PI())", 180.0),
    ("RADIANS(180)", math.pi),
    ("EXP(0)", 1.0),
    ("EXP(1)", math.e),
    ("LN(1)", 0.0),
    ("LN(0)", float("-inf")),
    ("LN(-1)", float("nan")),
    ("LOG(100, 10000)", 2.0),
    ("LOG(EXP(2))", 2.0),
    ("PI()", math.pi),
    ("POWER(2, 10)", 1024.0),
    ("POWER(D, 2)", 6.25),
    ("POWER(NI, 2)", None),
    ("SIN(0)", 0.0),
    ("SINH(0)", 0.0),
    ("SQRT(16)", 4.0),
    ("SQRT(-1)", float("nan")),
    ("TAN(0)", 0.0),
    ("TANH(0)", 0.0),
    ("SIGN(-3)", -1),
    ("SIGN(0)", 0),
    ("SIGN(2.5E0)", 1),
    ("SIGN(CAST(-7 AS BIGINT))", -1),
    ("SIGN(DEC)", 1),
    ("SIGN(ND)", None),
    # ROUND: halves go towards positive infinity, as in ksqlDB.
    ("ROUND(2.5E0)", 3),
    ("ROUND(-2.5E0)", -2),
    ("ROUND(1.4E0)", 1),
    ("ROUND(D)", 3),
    ("ROUND(I)", 7),
    ("ROUND(B)", 10),
    ("ROUND(1.005E0, 2)", 1.01),
    ("ROUND(1234.5678E0, -2)", 1200.0),
    ("ROUND(-1.255E0, 2)", -1.25),
    ("ROUND(12.34)", Decimal(12)),
    ("ROUND(-12.5)", Decimal(-12)),
    ("ROUND(DEC, 1)", Decimal("12.30")),
    ("ROUND(ND)", None),
    ("TRUNC(2.7E0)", 2),
    ("TRUNC(-2.7E0)", -2),
    ("TRUNC(1.2345E0, 2)", 1.23),
    ("TRUNC(DEC)", Decimal(12)),
    ("TRUNC(DEC, 1)", Decimal("12.30")),
    ("TRUNC(I)", 7),
    ("GREATEST(1, 5, 3)", 5),
    ("GREATEST(1, NULL, 3)", 3),
    ("GREATEST(I, 2.5E0)", 7.0),
    ("GREATEST('apple', 'pear')", "pear"),
    ("GREATEST(NI, NI)", None),
    ("LEAST(4, 2, 9)", 2),
    ("LEAST(NULL, 3, NULL)", 3),
    ("LEAST(TS, CAST('2020-01-01T00:00:00' AS TIMESTAMP))", __import__("datetime").datetime(2020, 1, 1)),
    ("RANDOM() < 1.0E0", True),
    ("RANDOM() >= 0", True),
    # GEO_DISTANCE: haversine with ksqlDB's radii, 6371 km and 3959 miles.
    ("GEO_DISTANCE(37.4439, -122.1663, 51.5257, -0.1122)", _haversine(37.4439, -122.1663, 51.5257, -0.1122, 6371.0)),
    ("GEO_DISTANCE(37.4439, -122.1663, 51.5257, -0.1122, 'MI')", _haversine(37.4439, -122.1663, 51.5257, -0.1122, 3959.0)),
    ("GEO_DISTANCE(0, 0, 0, 1, 'km')", _haversine(0, 0, 0, 1, 6371.0)),
    ("GEO_DISTANCE(0, 0, 0, 0)", 0.0),
    ("GEO_DISTANCE(91, 0, 0, 0)", None),
    ("GEO_DISTANCE(0, 0, 0, 0, 'parsecs')", None),
    ("GEO_DISTANCE(ND, 0, 0, 0)", None),
    ("GENERATE_SERIES(1, 5)", [1, 2, 3, 4, 5]),
    ("GENERATE_SERIES(5, 1)", [5, 4, 3, 2, 1]),
    ("GENERATE_SERIES(0, 10, 5)", [0, 5, 10]),
    ("GENERATE_SERIES(10, 0, -4)", [10, 6, 2]),
    ("GENERATE_SERIES(1, 5, -1)", None),
    ("GENERATE_SERIES(1, 5, 0)", None),
    ("GENERATE_SERIES(B, B + 2)", [10, 11, 12]),
    ("GENERATE_SERIES(NI, 3)", None),
    ("AS_VALUE(I)", 7),
    ("AS_VALUE(S)", "hello world"),
]


@pytest.mark.parametrize(("expression", "expected"), CASES, ids=ids(CASES))
def test_numeric_function(con, expression: str, expected: Any) -> None:
    check(con, expression, expected)
