"""Table functions (ksqlDB's UDTFs): one input row becomes zero or more output rows.

A table function is registered like a scalar one (:func:`table_function`),
but its implementation gives the SQL of a DuckDB LIST: the rows it makes,
and its declared result type is the type of one element. The planner allows
a table function only as a whole item of a stream query's SELECT, and runs it
as ``UNNEST`` of that list, so several table functions in one SELECT are
zipped as ksqlDB zips them (the shorter ones padded with NULLs), an empty or
NULL list gives no row, and WHERE filters the input before. A user's table
function registers the same way::

    REGISTRY.register(table_function(
        "REPEAT_IT", "Repeats a string n times.", variant("s STRING, n INT", "STRING", "list_transform(range({1}), lambda i: {0})"),
    ))
"""

from __future__ import annotations

from headwater.sql.functions.registry import FunctionKind, FunctionRegistry, FunctionSpec, Variant, variant

TABLE = "TABLE"

MACROS: tuple[str, ...] = (
    # CUBE_EXPLODE: every combination of the elements and NULL, counting in binary from all-NULL (bit set:
    # the element is kept, first element the highest bit); a NULL element gives each combination once.
    """CREATE OR REPLACE MACRO hw_cube(hw_a) AS
         CASE WHEN hw_a IS NULL THEN NULL ELSE list_transform(
           list_filter(range(0, 1 << len(hw_a)), lambda hw_i: list_bool_and(list_transform(range(0, len(hw_a)),
             lambda hw_j: hw_a[hw_j + 1] IS NOT NULL OR ((hw_i >> (len(hw_a) - 1 - hw_j)) & 1) = 0)) IS NOT FALSE),
           lambda hw_i: list_transform(range(0, len(hw_a)),
             lambda hw_j: CASE WHEN ((hw_i >> (len(hw_a) - 1 - hw_j)) & 1) = 1 THEN hw_a[hw_j + 1] END)) END""",
)


def table_function(name: str, category: str, description: str, *variants: Variant) -> FunctionSpec:
    """A table function: each variant's implementation is the SQL of the LIST of rows it makes."""
    return FunctionSpec(name.upper(), FunctionKind.TABLE, category, description, tuple(variants))


def register(registry: FunctionRegistry) -> None:
    registry.add_setup(*MACROS)
    registry.register(table_function(
        "EXPLODE", TABLE, "Explodes an array: one row per element (none for an empty or NULL array).",
        variant("list ARRAY<T>", "T", "{0}"),
    ))
    registry.register(table_function(
        "CUBE_EXPLODE", TABLE, "One row per combination of the array's elements and NULL (a grouping-sets cube).",
        variant("list ARRAY<T>", "ARRAY<T>", "hw_cube({0})"),
    ))
