"""STDDEV_SAMP (alias STDDEV_SAMPLE), STDDEV_POP and CORRELATION: statistics from running moments.

ksqlDB: numeric arguments are taken as DOUBLE, rows with a NULL argument are
ignored, the result is a DOUBLE, and all are table aggregates (``undo``).

- STDDEV_SAMP: sqrt(M2 / (n - 1)), 0.0 when n < 2. STDDEV_POP: sqrt(M2 / n),
  0.0 when n = 0. State ``(n, sum, M2)``, M2 the sum of squared deviations
  from the mean; batches combine with Chan's parallel formula (ksqlDB updates
  M2 one value at a time, Welford's; the results agree to rounding).
- CORRELATION(x, y): Pearson's coefficient from the sums, as ksqlDB computes
  it, (n Sxy - Sx Sy) / (sqrt(n Sxx - Sx^2) sqrt(n Syy - Sy^2)), NaN when
  n < 2; a row counts only if both x and y are non-null. A constant column
  gives NaN (0/0), as in Java.
"""

from __future__ import annotations

from collections.abc import Sequence

from headwater.sql.aggregates.arguments import NUMERIC, reject, typed
from headwater.sql.aggregates.base import AggregateFunction, BoundAggregate, register_aggregate
from headwater.sql.types import DOUBLE, SqlType

_X = "CAST({0} AS DOUBLE)"


def _moments_merge() -> tuple[str, ...]:
    m2 = ("CASE WHEN coalesce({o0}, 0) = 0 THEN coalesce({n2}, 0.0) WHEN coalesce({n0}, 0) = 0 THEN {o2} "
          "ELSE {o2} + {n2} + power({n1} / {n0} - {o1} / {o0}, 2) * CAST({o0} AS DOUBLE) * {n0} / ({o0} + {n0}) END")
    return ("coalesce({o0}, 0) + coalesce({n0}, 0)", "coalesce({o1}, 0.0) + coalesce({n1}, 0.0)", m2)


def _moments_undo() -> tuple[str, ...]:
    # Chan's formula solved for the remaining part a = old - retracted.
    rest = "({o0} - coalesce({n0}, 0))"
    m2 = (f"CASE WHEN coalesce({{n0}}, 0) = 0 THEN {{o2}} WHEN {rest} <= 0 THEN 0.0 "
          f"ELSE greatest(0.0, {{o2}} - {{n2}} - power({{n1}} / {{n0}} - ({{o1}} - {{n1}}) / {rest}, 2) "
          f"* CAST({rest} AS DOUBLE) * {{n0}} / {{o0}}) END")
    return (rest, f"CASE WHEN {rest} <= 0 THEN 0.0 ELSE {{o1}} - coalesce({{n1}}, 0.0) END", m2)


def _stddev(name: str, sample: bool) -> AggregateFunction:
    def bind(types: Sequence[SqlType | None], literals: Sequence[object]) -> BoundAggregate:
        if literals:
            reject(name, types, literals)
        typed(name, types, literals, 1, (NUMERIC,))

        def m2(over: str) -> str:
            return f"coalesce(var_pop({_X}){over} * count({{0}}){over}, 0.0)"

        least = 2 if sample else 1
        divisor = "({s0} - 1)" if sample else "{s0}"
        return BoundAggregate(
            name=name,
            result_type=DOUBLE,
            state_types=("BIGINT", "DOUBLE", "DOUBLE"),
            partial=("count({0})", f"sum({_X})", m2("")),
            running=("count({0}) OVER {w}", f"sum({_X}) OVER {{w}}", m2(" OVER {w}")),
            merge=_moments_merge(),
            result=f"CASE WHEN coalesce({{s0}}, 0) < {least} THEN 0.0 ELSE sqrt(greatest({{s2}}, 0.0) / {divisor}) END",
            undo=_moments_undo(),
        )

    kind = "sample" if sample else "population"
    return AggregateFunction(name, f"Returns the {kind} standard deviation of a column; nulls are ignored.",
                             (f"{name}(col INT|BIGINT|DOUBLE|DECIMAL) -> DOUBLE",), bind)


_SUMS = ("{x}", "{y}", "{x} * {x}", "{y} * {y}", "{x} * {y}")


def _correlation(types: Sequence[SqlType | None], literals: Sequence[object]) -> BoundAggregate:
    if literals:
        reject("CORRELATION", types, literals)
    typed("CORRELATION", types, literals, 2, (NUMERIC,))
    both = "FILTER (WHERE {0} IS NOT NULL AND {1} IS NOT NULL)"
    sums = [s.format(x="CAST({0} AS DOUBLE)", y="CAST({1} AS DOUBLE)") for s in _SUMS]
    partial = (f"count(*) {both}", *(f"sum({s}) {both}" for s in sums))
    count, sx, sy, sxx, syy, sxy = "{s0}", "{s1}", "{s2}", "{s3}", "{s4}", "{s5}"
    value = (f"({count} * {sxy} - {sx} * {sy}) / "
             f"(sqrt({count} * {sxx} - {sx} * {sx}) * sqrt({count} * {syy} - {sy} * {sy}))")
    return BoundAggregate(
        name="CORRELATION",
        result_type=DOUBLE,
        state_types=("BIGINT", *("DOUBLE",) * 5),
        partial=partial,
        running=tuple(f"{p} OVER {{w}}" for p in partial),
        merge=("coalesce({o0}, 0) + coalesce({n0}, 0)",
               *(f"coalesce({{o{i}}}, 0.0) + coalesce({{n{i}}}, 0.0)" for i in range(1, 6))),
        result=f"CASE WHEN coalesce({count}, 0) < 2 THEN CAST('NaN' AS DOUBLE) ELSE {value} END",
        undo=("{o0} - coalesce({n0}, 0)", *(f"{{o{i}}} - coalesce({{n{i}}}, 0.0)" for i in range(1, 6))),
    )


register_aggregate(_stddev("STDDEV_SAMP", sample=True))
register_aggregate(_stddev("STDDEV_SAMPLE", sample=True))
register_aggregate(_stddev("STDDEV_POP", sample=False))
register_aggregate(AggregateFunction(
    "CORRELATION",
    "Returns Pearson's correlation coefficient of two columns; rows with a null are ignored; NaN for fewer "
    "than 2 rows.",
    ("CORRELATION(x DOUBLE, y DOUBLE) -> DOUBLE",),
    _correlation,
))
