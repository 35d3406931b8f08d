"""The SQL engine's front end: ksqlDB's dialect to an AST, and back to text.

- :func:`parse` / :func:`parse_statement` / :func:`parse_expression` /
  :func:`parse_type`: text to :mod:`headwater.sql.ast` nodes and
  :mod:`headwater.sql.types` types;
- :func:`split_statements`, :func:`substitute_variables`, :func:`parse_script`:
  multi-statement scripts with ``${var}`` variables;
- :func:`format_statement` / :func:`format_expression`: canonical SQL text.

Everything here is pure Python without I/O. Errors are
:class:`~headwater.errors.SqlSyntaxError` with ``line`` and ``column``.
"""

from __future__ import annotations

from headwater.sql.format import format_sql, format_statement
from headwater.sql.format_expression import format_expression, quote_identifier
from headwater.sql.parser import parse, parse_expression, parse_statement, parse_type
from headwater.sql.script import (
    ParsedStatement,
    StatementText,
    parse_script,
    split_statements,
    substitute_variables,
)

__all__ = [
    "ParsedStatement",
    "StatementText",
    "format_expression",
    "format_sql",
    "format_statement",
    "parse",
    "parse_expression",
    "parse_script",
    "parse_statement",
    "parse_type",
    "quote_identifier",
    "split_statements",
    "substitute_variables",
]
