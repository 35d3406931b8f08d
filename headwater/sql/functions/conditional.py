"""Functions about NULL: COALESCE, IFNULL, NULLIF.

Arguments must share a type, numbers widening as in arithmetic (INT and
DOUBLE give DOUBLE).
"""

from __future__ import annotations

from headwater.sql.functions.registry import FunctionRegistry, scalar, variant

CONDITIONAL = "CONDITIONAL"


def register(registry: FunctionRegistry) -> None:
    registry.register(scalar(
        "COALESCE", CONDITIONAL, "The first non-NULL argument; NULL when all are NULL.",
        variant("first T, others T...", "T", "coalesce({args})"),
    ))
    registry.register(scalar(
        "IFNULL", CONDITIONAL, "The expression, or the alternative when the expression is NULL.",
        variant("expression T, altValue T", "T", "coalesce({0}, {1})"),
    ))
    registry.register(scalar(
        "NULLIF", CONDITIONAL, "NULL when both arguments are equal, else the first.",
        variant("expression1 T, expression2 T", "T", "nullif({0}, {1})"),
    ))
