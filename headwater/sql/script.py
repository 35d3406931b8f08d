"""Scripts: splitting into statements, ``${var}`` substitution, and parsing in order.

A script (``RUN SCRIPT``, a REST ``/ksql`` request) is many ``;``-separated
statements. :func:`split_statements` cuts it (quotes and comments respected)
and keeps each statement's position; :func:`substitute_variables` replaces
``${name}`` as ksqlDB does; :func:`parse_script` does both in order, so that a
``DEFINE`` applies to the statements after it.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping
from dataclasses import dataclass

from headwater.errors import SqlSyntaxError
from headwater.sql import ast
from headwater.sql.lexer import raw_tokens
from headwater.sql.parser import parse_statement


@dataclass(frozen=True, slots=True)
class StatementText:
    """One statement of a script: its text (with the ``;`` if present) and where it starts."""

    text: str
    offset: int
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class ParsedStatement:
    """A statement with the text it was parsed from (after variable substitution)."""

    text: str
    statement: ast.Statement


class _Lines:
    """Offset to (line, column) in a text, both 1-based."""

    def __init__(self, text: str, line: int = 1, column: int = 1) -> None:
        starts = [0]
        found = text.find("\n")
        while found >= 0:
            starts.append(found + 1)
            found = text.find("\n", found + 1)
        self._starts = starts
        self._line = line
        self._column = column

    def position(self, offset: int) -> tuple[int, int]:
        index = bisect.bisect_right(self._starts, offset) - 1
        column = offset - self._starts[index] + 1
        if index == 0:
            column += self._column - 1
        return self._line + index, column


def split_statements(text: str) -> list[StatementText]:
    """The statements of ``text``, cut at each ``;`` outside quotes and comments.

    Leading whitespace and comments are not part of a statement; empty
    statements are skipped; a last statement without ``;`` is kept.
    """
    lines = _Lines(text)
    result: list[StatementText] = []
    start: int | None = None
    for raw in raw_tokens(text):
        if raw.group in ("ws", "comment"):
            continue
        if start is None:
            if text[raw.start] == ";":
                continue
            start = raw.start
        if raw.group == "symbol" and text[raw.start] == ";":
            result.append(StatementText(text[start : raw.end], start, *lines.position(start)))
            start = None
    if start is not None:
        result.append(StatementText(text[start:].rstrip(), start, *lines.position(start)))
    return result


_VARIABLE = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_QUOTES = {"string": "'", "dquoted": '"', "bquoted": "`"}


def substitute_variables(text: str, variables: Mapping[str, str], line: int = 1, column: int = 1) -> str:
    """``text`` with each ``${name}`` replaced by the variable's value.

    Names match case-insensitively. ``$${`` stands for a literal ``${``.
    Comments are left alone. Inside a quoted string or identifier the value's
    quote characters are doubled, so the literal stays one literal. An undefined
    variable is a :class:`SqlSyntaxError` at its position (``line``/``column``
    say where ``text`` starts in its script).
    """
    if "${" not in text:
        return text
    values = {name.upper(): value for name, value in variables.items()}
    lines = _Lines(text, line, column)
    out: list[str] = []
    run_start: int | None = None  # start of a stretch of plain tokens, substituted together
    for raw in raw_tokens(text):
        quote = _QUOTES.get(raw.group)
        if quote is None and raw.group != "comment":
            if run_start is None:
                run_start = raw.start
            continue
        if run_start is not None:
            out.append(_substitute(text, run_start, raw.start, values, lines, None))
            run_start = None
        if quote is None:
            out.append(text[raw.start : raw.end])
        else:
            out.append(_substitute(text, raw.start, raw.end, values, lines, quote))
    if run_start is not None:
        out.append(_substitute(text, run_start, len(text), values, lines, None))
    return "".join(out)


def _substitute(
    text: str, start: int, end: int, values: Mapping[str, str], lines: _Lines, quote: str | None
) -> str:
    segment = text[start:end]
    if "${" not in segment:
        return segment

    def replace(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return "${"
        name = match.group(1)
        value = values.get(name.upper())
        if value is None:
            line, column = lines.position(start + match.start())
            raise SqlSyntaxError(f"Variable '{name}' is not defined", line, column)
        return value if quote is None else value.replace(quote, quote + quote)

    return _VARIABLE.sub(replace, segment)


def parse_script(text: str, variables: Mapping[str, str] | None = None) -> list[ParsedStatement]:
    """Split, substitute and parse every statement of ``text``, in order.

    ``DEFINE`` and ``UNDEFINE`` in the script change the variables seen by the
    statements after them (``variables`` itself is not modified). Positions in
    errors and in the AST are positions in ``text``.
    """
    scope = {name.upper(): value for name, value in (variables or {}).items()}
    parsed: list[ParsedStatement] = []
    for piece in split_statements(text):
        body = substitute_variables(piece.text, scope, piece.line, piece.column)
        statement = parse_statement(body, piece.line, piece.column)
        if isinstance(statement, ast.DefineVariable):
            scope[statement.name.upper()] = statement.value
        elif isinstance(statement, ast.UndefineVariable):
            scope.pop(statement.name.upper(), None)
        parsed.append(ParsedStatement(body, statement))
    return parsed
