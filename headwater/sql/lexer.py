"""The lexer of the ksqlDB dialect: SQL text to tokens with line and column.

Lexical rules (ksqlDB's ``SqlBase.g4``):

- keywords are case-insensitive; an unquoted identifier is upper-cased, a
  quoted one (``"x"`` or ```x```, the quote doubled to escape it) keeps its case;
- identifiers are ``[A-Za-z_][A-Za-z0-9_@]*``, or digits followed by letters;
- strings are single-quoted, ``''`` is a quote;
- ``1`` is an integer, ``1.5`` a decimal, ``1.5E3`` a double;
- comments are ``-- ...`` to the end of the line and ``/* ... */``;
- ``${name}`` is a variable, replaced by :func:`headwater.sql.script.substitute_variables`
  before parsing;
- a character no token starts with (``#``, the quote of an unclosed string; ``/*`` without
  ``*/`` reads as ``/`` and ``*``) is an UNRECOGNIZED token, as in ksqlDB's grammar, which
  the parser then reports (``extraneous input ''' expecting ...``).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator
from typing import NamedTuple


class TokenKind(enum.Enum):
    WORD = "word"  # keyword or unquoted identifier; value upper-cased
    QUOTED = "quoted identifier"  # value without quotes, case kept
    STRING = "string"  # value without quotes, '' unescaped
    INTEGER = "integer"
    DECIMAL = "decimal"
    DOUBLE = "double"
    SYMBOL = "symbol"
    VARIABLE = "variable"  # value is the variable name
    UNRECOGNIZED = "unrecognized"  # one character no token starts with (an unclosed quote, ``#``)
    EOF = "end of input"


class Token(NamedTuple):
    kind: TokenKind
    value: str
    text: str  # as written in the source
    line: int
    column: int
    offset: int


#: Words that are never read as an unquoted identifier. ksqlDB reserves more
#: (see :data:`QUOTED_ON_OUTPUT`); these are the ones the grammar cannot do without.
RESERVED_WORDS = frozenset(
    """
    ALL AND AS AT BETWEEN BY CASE CAST CREATE DISTINCT DROP ELSE END EXISTS FALSE FROM FULL
    GROUP HAVING IN INNER INSERT INTO IS JOIN LEFT LIKE LIMIT NOT NULL ON OR OUTER RIGHT
    SELECT THEN TRUE VALUES WHEN WHERE WINDOW WITH WITHIN
    """.split()
)

#: Words the formatter quotes when they are names, so that its output also
#: parses on ksqlDB, whose grammar reserves them.
QUOTED_ON_OUTPUT = RESERVED_WORDS | frozenset(
    """
    ADVANCE BEGINNING CONNECTOR CONNECTORS DAYS DELETE DESCRIBE EXPLAIN EXTENDED GRACE HOPPING
    HOURS INSERT LIST MILLISECOND MILLISECONDS MINUTES PERIOD PRINT PROPERTIES QUERIES QUERY
    RETENTION RUN SAMPLE SCRIPT SECONDS SIZE STREAM STREAMS TABLE TERMINATE TOPIC TOPICS
    TUMBLING UNSET
    """.split()
)

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>--[^\n]*|/\*[\s\S]*?\*/)
  | (?P<string>'(?:[^']|'')*')
  | (?P<dquoted>"(?:[^"]|"")*")
  | (?P<bquoted>`(?:[^`]|``)*`)
  | (?P<variable>\$\{[^}\s]*\})
  | (?P<double>(?:\d+(?:\.\d*)?|\.\d+)[eE][+-]?\d+)
  | (?P<decimal>\d+\.\d*|\.\d+)
  | (?P<word>[A-Za-z_][A-Za-z0-9_@]*|\d+[A-Za-z_@][A-Za-z0-9_@]*)
  | (?P<integer>\d+)
  | (?P<symbol><>|!=|<=|>=|\|\||:=|->|=>|[=<>+\-*/%()\[\],.;])
  | (?P<error>.)
    """,
    re.VERBOSE,
)

_SIMPLE_KINDS = {
    "word": TokenKind.WORD,
    "integer": TokenKind.INTEGER,
    "decimal": TokenKind.DECIMAL,
    "double": TokenKind.DOUBLE,
    "symbol": TokenKind.SYMBOL,
}


class RawToken(NamedTuple):
    """A lexeme before interpretation: its group name and span (comments and spaces included)."""

    group: str
    start: int
    end: int


def raw_tokens(text: str) -> Iterator[RawToken]:
    """Every lexeme of ``text``, whitespace and comments included; never fails."""
    for match in _TOKEN_RE.finditer(text):
        yield RawToken(match.lastgroup or "error", match.start(), match.end())


def tokenize(text: str, line: int = 1, column: int = 1) -> list[Token]:
    """The tokens of ``text``, ending with an EOF token.

    ``line`` and ``column`` are where ``text`` starts in a larger script, so that
    positions of a statement cut out of a script are positions in the script.
    """
    tokens: list[Token] = []
    append = tokens.append
    line_start = 1 - column  # offset that column 1 of the current line has
    for match in _TOKEN_RE.finditer(text):
        group = match.lastgroup
        raw = match.group()
        if group == "ws" or group == "comment":
            newlines = raw.count("\n")
            if newlines:
                line += newlines
                line_start = match.start() + raw.rindex("\n") + 1
            continue
        start = match.start()
        column_here = start - line_start + 1
        kind = _SIMPLE_KINDS.get(group)  # type: ignore[arg-type]
        if kind is not None:
            append(Token(kind, raw.upper() if kind is TokenKind.WORD else raw, raw, line, column_here, start))
            continue
        if group == "string":
            append(Token(TokenKind.STRING, raw[1:-1].replace("''", "'"), raw, line, column_here, start))
        elif group == "dquoted":
            append(Token(TokenKind.QUOTED, raw[1:-1].replace('""', '"'), raw, line, column_here, start))
        elif group == "bquoted":
            append(Token(TokenKind.QUOTED, raw[1:-1].replace("``", "`"), raw, line, column_here, start))
        elif group == "variable":
            append(Token(TokenKind.VARIABLE, raw[2:-1], raw, line, column_here, start))
        else:
            append(Token(TokenKind.UNRECOGNIZED, raw, raw, line, column_here, start))
        newlines = raw.count("\n")
        if newlines:
            line += newlines
            line_start = start + raw.rindex("\n") + 1
    end = len(text)
    tokens.append(Token(TokenKind.EOF, "", "", line, end - line_start + 1, end))
    return tokens
