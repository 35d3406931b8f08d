"""Deeply nested expressions are refused with a clear syntax error (line:column), never a RecursionError."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from headwater.errors import SqlSyntaxError
from headwater.sql.parser import parse_statement
from headwater.sql.type_parser import MAX_NESTING

NESTINGS: dict[str, Callable[[int], str]] = {
    "parentheses": lambda n: "(" * n + "1" + ")" * n,
    "calls": lambda n: "ABS(" * n + "1" + ")" * n,
    "NOT": lambda n: "NOT " * n + "true",
    "signs": lambda n: "- " * n + "1.5",
    "operator chain": lambda n: " + ".join(["x"] * n),
    "arrays": lambda n: "ARRAY[" * n + "1" + "]" * n,
    "structs": lambda n: "STRUCT(a := " * n + "1" + ")" * n,
    "types": lambda n: "CAST(NULL AS " + "ARRAY<" * n + "INT" + ">" * n + ")",
}


@pytest.mark.parametrize("shape", NESTINGS)
def test_5000_levels_are_a_syntax_error_with_a_position(shape: str) -> None:
    text = "SELECT " + NESTINGS[shape](5000) + " AS v FROM s EMIT CHANGES;"
    with pytest.raises(SqlSyntaxError) as caught:
        parse_statement(text)
    message = str(caught.value)
    assert f"too deeply nested: more than {MAX_NESTING} levels" in message
    line, column = message.split(":")[0].removeprefix("line "), message.split(":")[1]
    assert line == "1" and 8 <= int(column) < len(text)


@pytest.mark.parametrize("shape", NESTINGS)
def test_nesting_below_the_limit_still_parses(shape: str) -> None:
    parse_statement("SELECT " + NESTINGS[shape](MAX_NESTING // 2 - 1) + " AS v FROM s EMIT CHANGES;")
