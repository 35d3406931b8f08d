"""Mathematical functions: ABS ... TRUNC, trigonometry, GREATEST / LEAST, GEO_DISTANCE, RANDOM.

Java's Math semantics carry over where DuckDB differs: ROUND rounds half
towards positive infinity (ksqlDB's rule, ``ROUND(-2.5) = -2``), ABS of the
smallest INT wraps as Java's does, logarithms of zero and negatives give
-Infinity / NaN instead of an error.
"""

from __future__ import annotations

from collections.abc import Sequence

from headwater.sql import types as ty
from headwater.sql.functions.registry import Call, FunctionRegistry, scalar, variant
from headwater.sql.types import SqlType
from headwater.sql.typing import bounded_decimal, wrap_bigint, wrap_int

MATH = "MATHEMATICAL"


def _same(types: Sequence[SqlType | None]) -> SqlType | None:
    return types[0]


def _integral(fn: str) -> tuple[str, str]:
    """Templates applying ``fn`` to INT and BIGINT with Java's wrap-around."""
    return wrap_int(f"{fn}(CAST({{0}} AS BIGINT))"), wrap_bigint(f"{fn}(CAST({{0}} AS HUGEINT))")


def _decimal_scale0(types: Sequence[SqlType | None]) -> SqlType | None:
    t = types[0]
    if not isinstance(t, ty.DecimalType):
        return t
    return bounded_decimal(t.precision - t.scale + 1, 0)


def _round_double_places(call: Call) -> str:
    # Nudging x * 10^n to 9 decimals first mimics ksqlDB's BigDecimal.valueOf(x) (the shortest
    # decimal form): ROUND(1.005, 2) is 1.01 as in ksqlDB, not 1.0 as binary arithmetic says.
    x, n = call.sql
    return f"floor(round({x} * pow(10, {n}), 9) + 0.5) / pow(10, {n})"


def _round_decimal_places(call: Call) -> str:
    x, n = call.sql
    return (
        f"TRY_CAST(floor(CAST({x} AS DOUBLE) * pow(10, {n}) + 0.5) / pow(10, {n}) AS {call.result.to_duckdb()})"
        if call.result is not None
        else "NULL"
    )


def _trunc_places(call: Call) -> str:
    x, n = call.sql
    body = f"trunc(CAST({x} AS DOUBLE) * pow(10, {n})) / pow(10, {n})"
    if isinstance(call.result, ty.DecimalType):
        return f"TRY_CAST({body} AS {call.result.to_duckdb()})"
    return body


def _geo_distance(call: Call) -> str:
    lat1, lon1, lat2, lon2 = call.sql[:4]
    if len(call.args) == 5:
        unit = call.sql[4]
        radius = (
            f"CASE WHEN lower(trim({unit})) IN ('mi', 'mile', 'miles') THEN 3959.0 "
            f"WHEN lower(trim({unit})) IN ('km', 'kilometer', 'kilometers', 'kilometre', 'kilometres') "
            "THEN 6371.0 END"
        )
    else:
        radius = "6371.0"
    valid = (
        f"{lat1} BETWEEN -90 AND 90 AND {lat2} BETWEEN -90 AND 90 "
        f"AND {lon1} BETWEEN -180 AND 180 AND {lon2} BETWEEN -180 AND 180"
    )
    haversine = (
        f"2 * asin(sqrt(pow(sin(radians({lat2} - {lat1}) / 2), 2) + "
        f"cos(radians({lat1})) * cos(radians({lat2})) * pow(sin(radians({lon2} - {lon1}) / 2), 2)))"
    )
    return f"CASE WHEN {valid} THEN {haversine} * {radius} END"


def _series(call: Call) -> str:
    start, end = call.sql[:2]
    element = "INTEGER" if call.result == ty.ArrayType(ty.INTEGER) else "BIGINT"
    if len(call.args) == 2:
        step = f"CASE WHEN {end} >= {start} THEN 1 ELSE -1 END"
        valid = "TRUE"
    else:
        step = call.sql[2]
        # ksqlDB rejects a zero step and one pointing away from the end (logged; NULL here).
        valid = f"{step} <> 0 AND ({end} - {start}) * sign({step}) >= 0"
    return (
        f"CASE WHEN {valid} THEN CAST(generate_series(CAST({start} AS BIGINT), CAST({end} AS BIGINT), "
        f"CAST({step} AS BIGINT)) AS {element}[]) END"
    )


_DOUBLE_FUNCTIONS = tuple(
    scalar(name, MATH, description, variant("x DOUBLE", "DOUBLE", template))
    for name, description, template in (
        ("ACOS", "The inverse cosine of a value, in radians.", "acos({0})"),
        ("ASIN", "The inverse sine of a value, in radians.", "asin({0})"),
        ("ATAN", "The inverse tangent of a value, in radians.", "atan({0})"),
        ("CBRT", "The cube root of a value.", "cbrt({0})"),
        ("COS", "The cosine of a value given in radians.", "cos({0})"),
        ("COSH", "The hyperbolic cosine of a value.", "cosh({0})"),
        ("COT", "The cotangent of a value given in radians.", "(1.0 / tan({0}))"),
        ("DEGREES", "Converts radians to degrees.", "degrees({0})"),
        ("EXP", "Euler's number e raised to the power of a value.", "exp({0})"),
        ("LN", "The natural logarithm of a value.", "ln({0})"),
        ("RADIANS", "Converts degrees to radians.", "radians({0})"),
        ("SIN", "The sine of a value given in radians.", "sin({0})"),
        ("SINH", "The hyperbolic sine of a value.", "sinh({0})"),
        ("SQRT", "The square root of a value.", "sqrt({0})"),
        ("TAN", "The tangent of a value given in radians.", "tan({0})"),
        ("TANH", "The hyperbolic tangent of a value.", "tanh({0})"),
    )
)


def register(registry: FunctionRegistry) -> None:
    int_abs, bigint_abs = _integral("abs")
    for spec in _DOUBLE_FUNCTIONS:
        registry.register(spec)
    registry.register(scalar(
        "ABS", MATH, "The absolute value of a number.",
        variant("x INT", "INT", int_abs),
        variant("x BIGINT", "BIGINT", bigint_abs),
        variant("x DOUBLE", "DOUBLE", "abs({0})"),
        variant("x DECIMAL", _same, "abs({0})", returns_text="DECIMAL"),
    ))
    registry.register(scalar(
        "ATAN2", MATH, "The inverse tangent of y / x, in radians, using the signs of both for the quadrant.",
        variant("y DOUBLE, x DOUBLE", "DOUBLE", "atan2({0}, {1})"),
    ))
    for name, fn, text in (("CEIL", "ceil", "smallest integer not less than"), ("FLOOR", "floor", "largest integer not greater than")):
        registry.register(scalar(
            name, MATH, f"The {text} a value.",
            variant("x INT", "INT", "{0}"),
            variant("x BIGINT", "BIGINT", "{0}"),
            variant("x DOUBLE", "DOUBLE", f"{fn}({{0}})"),
            variant("x DECIMAL", _same, f"TRY_CAST({fn}({{0}}) AS {{type}})", returns_text="DECIMAL"),
        ))
    registry.register(scalar(
        "LOG", MATH, "The natural logarithm of a value, or its logarithm to a base.",
        variant("value DOUBLE", "DOUBLE", "ln({0})"),
        variant("base DOUBLE, value DOUBLE", "DOUBLE", "(ln({1}) / ln({0}))"),
    ))
    registry.register(scalar("PI", MATH, "The value of pi.", variant("", "DOUBLE", "pi()")))
    registry.register(scalar(
        "POWER", MATH, "A base raised to an exponent.",
        variant("base DOUBLE, exponent DOUBLE", "DOUBLE", "pow({0}, {1})"),
    ))
    registry.register(scalar(
        "RANDOM", MATH, "A random DOUBLE between 0.0 (inclusive) and 1.0 (exclusive).",
        variant("", "DOUBLE", "random()"),
    ))
    registry.register(scalar(
        "ROUND", MATH,
        "Rounds a value to the nearest integer, or to a number of decimal places; "
        "halves are rounded towards positive infinity.",
        variant("x INT", "INT", "{0}"),
        variant("x BIGINT", "BIGINT", "{0}"),
        variant("x DOUBLE", "BIGINT", "TRY_CAST(floor(round({0}, 9) + 0.5) AS BIGINT)"),
        variant("x DOUBLE, places INT", "DOUBLE", _round_double_places),
        variant("x DECIMAL", _decimal_scale0, "TRY_CAST(floor({0} + 0.5) AS {type})", returns_text="DECIMAL"),
        variant("x DECIMAL, places INT", _same, _round_decimal_places, returns_text="DECIMAL"),
    ))
    registry.register(scalar(
        "SIGN", MATH, "The sign of a value: -1, 0 or 1.",
        variant("x INT", "INT", "CAST(sign({0}) AS INTEGER)"),
        variant("x BIGINT", "INT", "CAST(sign({0}) AS INTEGER)"),
        variant("x DOUBLE", "INT", "CAST(sign({0}) AS INTEGER)"),
        variant("x DECIMAL", "INT", "CAST(sign({0}) AS INTEGER)"),
    ))
    registry.register(scalar(
        "TRUNC", MATH, "Truncates a value towards zero, to an integer or to a number of decimal places.",
        variant("x INT", "INT", "{0}"),
        variant("x BIGINT", "BIGINT", "{0}"),
        variant("x DOUBLE", "BIGINT", "TRY_CAST(trunc({0}) AS BIGINT)"),
        variant("x DOUBLE, places INT", "DOUBLE", _trunc_places),
        variant("x DECIMAL", _decimal_scale0, "TRY_CAST(trunc({0}) AS {type})", returns_text="DECIMAL"),
        variant("x DECIMAL, places INT", _same, _trunc_places, returns_text="DECIMAL"),
    ))
    for name, fn, which in (("GREATEST", "greatest", "highest"), ("LEAST", "least", "lowest")):
        registry.register(scalar(
            name, MATH, f"The {which} of the non-NULL arguments; NULL when all are NULL.",
            variant("val T, vals T...", "T", f"{fn}({{args}})"),
        ))
    registry.register(scalar(
        "GEO_DISTANCE", MATH,
        "The great-circle distance between two lat/long points, in kilometers or, with unit 'mi', miles.",
        variant("lat1 DOUBLE, lon1 DOUBLE, lat2 DOUBLE, lon2 DOUBLE", "DOUBLE", _geo_distance),
        variant("lat1 DOUBLE, lon1 DOUBLE, lat2 DOUBLE, lon2 DOUBLE, unit STRING", "DOUBLE", _geo_distance),
    ))
    registry.register(scalar(
        "GENERATE_SERIES", "ARRAY",
        "An array of values from start to end inclusive, by step (default 1, or -1 when end < start).",
        variant("start INT, end INT", "ARRAY<INT>", _series),
        variant("start INT, end INT, step INT", "ARRAY<INT>", _series),
        variant("start BIGINT, end BIGINT", "ARRAY<BIGINT>", _series),
        variant("start BIGINT, end BIGINT, step BIGINT", "ARRAY<BIGINT>", _series),
    ))
    registry.register(scalar(
        "AS_VALUE", "OTHER", "Copies a key column into the value of the output.",
        variant("key T", "T", "{0}"),
    ))
