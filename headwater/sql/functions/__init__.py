"""ksqlDB's built-in functions, and the registry user functions join.

- :data:`REGISTRY` holds every built-in scalar function (aggregate and table
  functions register there too, with their own kinds);
- :func:`install_functions` puts on a DuckDB connection what the compiled SQL
  needs (UTC session time zone, ``hw_*`` macros); call it once per connection
  before running compiled expressions;
- :func:`scalar` / :func:`variant` declare a function; ``REGISTRY.register``
  adds it. Built-ins use exactly this path;
- :func:`function_names` / :func:`describe_function` answer SHOW FUNCTIONS and
  DESCRIBE FUNCTION.
"""

from __future__ import annotations

from typing import Any

import duckdb

from headwater.errors import SqlSemanticError
from headwater.sql.functions import (
    arrays,
    bytes,
    conditional,
    datetime,
    json,
    lambdas,
    maps,
    mask,
    numeric,
    regex,
    runtime,
    string,
    table,
    url,
)
from headwater.sql.functions.table import table_function
from headwater.sql.functions.registry import (
    Arg,
    Call,
    FunctionKind,
    FunctionRegistry,
    FunctionSpec,
    Variant,
    scalar,
    variant,
)

_BUILTIN_MODULES = (runtime, numeric, string, mask, regex, bytes, json, url, arrays, maps, lambdas, conditional, datetime,
                    table)


def builtin_registry() -> FunctionRegistry:
    """A new registry holding the built-in functions."""
    registry = FunctionRegistry()
    for module in _BUILTIN_MODULES:
        module.register(registry)
    return registry


#: The registry the compiler uses unless told otherwise.
REGISTRY = builtin_registry()


def function_names(registry: FunctionRegistry | None = None) -> list[dict[str, str]]:
    """SHOW FUNCTIONS: ``{"name", "type", "category"}`` per function, sorted by name."""
    return (REGISTRY if registry is None else registry).show_functions()


def describe_function(name: str, pos: object = None, registry: FunctionRegistry | None = None) -> dict[str, Any]:
    """DESCRIBE FUNCTION: ksqlDB's ``describe_function`` entity; an unknown name is an error at ``pos``."""
    spec = (REGISTRY if registry is None else registry).get(name)
    if spec is None:
        raise SqlSemanticError(f"Can't find any functions with the name '{name.upper()}'", pos)
    return spec.describe()


def install_functions(con: duckdb.DuckDBPyConnection, registry: FunctionRegistry | None = None) -> None:
    """Prepare ``con`` for compiled expressions (idempotent)."""
    (REGISTRY if registry is None else registry).install(con)


__all__ = [
    "REGISTRY",
    "Arg",
    "Call",
    "FunctionKind",
    "FunctionRegistry",
    "FunctionSpec",
    "Variant",
    "builtin_registry",
    "describe_function",
    "function_names",
    "install_functions",
    "scalar",
    "table_function",
    "variant",
]
