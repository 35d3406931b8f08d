"""Statements back to canonical ksqlDB SQL text (for DESCRIBE EXTENDED, EXPLAIN, SHOW QUERIES).

``parse_statement(format_statement(s)) == s`` for every statement ``s`` the
parser produces. Statements are rendered on one line, keywords upper-case,
time units plural (``SIZE 60 SECONDS``), expressions as
:func:`~headwater.sql.format_expression.format_expression` renders them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from headwater.sql import ast
from headwater.sql.format_expression import format_expression, quote_identifier, quote_string
from headwater.sql.lexer import RESERVED_WORDS

_TOPIC_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_@]*\Z")
_PROPERTY_NAME = re.compile(r"[A-Z_][A-Z0-9_@]*\Z")


def format_statement(statement: ast.Statement) -> str:
    """Canonical SQL text of ``statement``, ending with ``;``."""
    return format_sql(statement) + ";"


def format_sql(statement: ast.Statement) -> str:
    """Canonical SQL text of ``statement``, without the ``;``."""
    formatter = _STATEMENTS.get(type(statement))
    if formatter is None:
        raise TypeError(f"cannot format {type(statement).__name__}")
    return formatter(statement)


def format_duration(duration: ast.Duration) -> str:
    return f"{duration.value} {duration.unit.name}"


def format_properties(properties: ast.Properties, as_strings: bool = False) -> str:
    """``(NAME=value, ...)``; names that are not plain identifiers (or all, with ``as_strings``) are quoted."""
    parts = []
    for name, value in properties.items():
        plain = not as_strings and _PROPERTY_NAME.match(name) and name not in RESERVED_WORDS
        parts.append(f"{name if plain else quote_string(name)}={format_expression(value)}")
    return "(" + ", ".join(parts) + ")"


def _with(properties: ast.Properties) -> str:
    return f" WITH {format_properties(properties)}" if properties else ""


def _topic(name: str) -> str:
    plain = _TOPIC_NAME.match(name) and name.upper() not in RESERVED_WORDS
    return name if plain else quote_string(name)


# --- queries -----------------------------------------------------------------


def _select_item(item: ast.SelectItem) -> str:
    if isinstance(item, ast.AllColumns):
        return "*" if item.source is None else f"{quote_identifier(item.source)}.*"
    if isinstance(item, ast.StructAll):
        return f"{format_expression(item.expression)}->*"
    if isinstance(item, ast.SingleColumn):
        text = format_expression(item.expression)
        return text if item.alias is None else f"{text} AS {quote_identifier(item.alias)}"
    raise TypeError(f"cannot format {type(item).__name__}")


def _aliased(relation: ast.AliasedRelation) -> str:
    name = quote_identifier(relation.name)
    return name if relation.alias is None else f"{name} {quote_identifier(relation.alias)}"


def _within(within: ast.WithinExpression) -> str:
    if within.before == within.after:
        text = f"WITHIN {format_duration(within.before)}"
    else:
        text = f"WITHIN ({format_duration(within.before)}, {format_duration(within.after)})"
    if within.grace is not None:
        text += f" GRACE PERIOD {format_duration(within.grace)}"
    return text


_JOIN_WORDS = {
    ast.JoinType.INNER: "INNER JOIN",
    ast.JoinType.LEFT: "LEFT OUTER JOIN",
    ast.JoinType.RIGHT: "RIGHT OUTER JOIN",
    ast.JoinType.FULL: "FULL OUTER JOIN",
}


def _relation(relation: ast.Relation) -> str:
    if isinstance(relation, ast.AliasedRelation):
        return _aliased(relation)
    if not isinstance(relation, ast.Join):
        raise TypeError(f"cannot format {type(relation).__name__}")
    parts = [_aliased(relation.left)]
    for join in relation.joins:
        parts.append(f"{_JOIN_WORDS[join.join_type]} {_aliased(join.relation)}")
        if join.within is not None:
            parts.append(_within(join.within))
        parts.append(f"ON {format_expression(join.criteria)}")
    return " ".join(parts)


def format_window(window: ast.WindowExpression) -> str:
    """``TUMBLING (SIZE 60 SECONDS, GRACE PERIOD 1 MINUTES)`` and the like (without WINDOW)."""
    if isinstance(window, ast.SessionWindow):
        head = f"SESSION ({format_duration(window.gap)}"
    elif isinstance(window, ast.HoppingWindow):
        head = f"HOPPING (SIZE {format_duration(window.size)}, ADVANCE BY {format_duration(window.advance)}"
    elif isinstance(window, ast.TumblingWindow):
        head = f"TUMBLING (SIZE {format_duration(window.size)}"
    else:
        raise TypeError(f"cannot format {type(window).__name__}")
    if window.retention is not None:
        head += f", RETENTION {format_duration(window.retention)}"
    if window.grace is not None:
        head += f", GRACE PERIOD {format_duration(window.grace)}"
    return head + ")" if window.name is None else f"{quote_identifier(window.name)} {head})"


def _expression_list(expressions: tuple[ast.Expression, ...]) -> str:
    if not expressions:
        return "()"
    return ", ".join(format_expression(e) for e in expressions)


def _query(query: ast.Query) -> str:
    parts = ["SELECT " + ", ".join(_select_item(item) for item in query.select), "FROM " + _relation(query.from_)]
    if query.window is not None:
        parts.append("WINDOW " + format_window(query.window))
    if query.where is not None:
        parts.append("WHERE " + format_expression(query.where))
    if query.group_by is not None:
        parts.append("GROUP BY " + _expression_list(query.group_by))
    if query.partition_by is not None:
        parts.append("PARTITION BY " + _expression_list(query.partition_by))
    if query.having is not None:
        parts.append("HAVING " + format_expression(query.having))
    if query.emit is not None:
        parts.append("EMIT " + query.emit.value)
    if query.limit is not None:
        parts.append(f"LIMIT {query.limit}")
    return " ".join(parts)


# --- other statements ---------------------------------------------------------


def _element(element: ast.TableElement) -> str:
    text = f"{quote_identifier(element.name)} {element.type.sql()}"
    if element.constraint is ast.ColumnConstraint.HEADER:
        return f"{text} HEADER({quote_string(element.header_key or '')})"
    if element.constraint is not ast.ColumnConstraint.NONE:
        return f"{text} {element.constraint.value}"
    return text


def _create_head(kind: ast.SourceKind, name: str, or_replace: bool, if_not_exists: bool, source: bool) -> str:
    words = ["CREATE"]
    if or_replace:
        words.append("OR REPLACE")
    if source:
        words.append("SOURCE")
    words.append(kind.value)
    if if_not_exists:
        words.append("IF NOT EXISTS")
    words.append(quote_identifier(name))
    return " ".join(words)


def _create_source(s: ast.CreateSource) -> str:
    text = _create_head(s.kind, s.name, s.or_replace, s.if_not_exists, s.is_source)
    if s.elements:
        text += " (" + ", ".join(_element(e) for e in s.elements) + ")"
    return text + _with(s.properties)


def _create_as_select(s: ast.CreateAsSelect) -> str:
    head = _create_head(s.kind, s.name, s.or_replace, s.if_not_exists, False)
    return f"{head}{_with(s.properties)} AS {_query(s.query)}"


def _insert_values(s: ast.InsertValues) -> str:
    columns = "" if s.columns is None else " (" + ", ".join(quote_identifier(c) for c in s.columns) + ")"
    values = ", ".join(format_expression(v) for v in s.values)
    return f"INSERT INTO {quote_identifier(s.target)}{columns} VALUES ({values})"


def _if(flag: bool, words: str) -> str:
    return f" {words}" if flag else ""


def _target(query_id: str | None) -> str:
    return "ALL" if query_id is None else quote_identifier(query_id)


def _show(s: ast.Show) -> str:
    words = ["SHOW"]
    if s.all_topics:
        words.append("ALL")
    if s.connector_type is not None:
        words.append(s.connector_type.value)
    words.append(s.kind.value)
    if s.extended:
        words.append("EXTENDED")
    return " ".join(words)


def _print(s: ast.Print) -> str:
    text = f"PRINT {_topic(s.topic)}"
    text += _if(s.from_beginning, "FROM BEGINNING")
    text += "" if s.interval is None else f" INTERVAL {s.interval}"
    return text + ("" if s.limit is None else f" LIMIT {s.limit}")


def _explain(s: ast.Explain) -> str:
    if s.statement is not None:
        return "EXPLAIN " + format_sql(s.statement)
    return f"EXPLAIN {quote_identifier(s.query_id or '')}"


def _assert_topic(s: ast.AssertTopic) -> str:
    text = f"ASSERT{_if(not s.exists, 'NOT EXISTS')} TOPIC {_topic(s.topic)}{_with(s.properties)}"
    return text + ("" if s.timeout is None else f" TIMEOUT {format_duration(s.timeout)}")


def _assert_schema(s: ast.AssertSchema) -> str:
    text = f"ASSERT{_if(not s.exists, 'NOT EXISTS')} SCHEMA"
    text += "" if s.subject is None else f" SUBJECT {quote_string(s.subject)}"
    text += "" if s.schema_id is None else f" ID {s.schema_id}"
    return text + ("" if s.timeout is None else f" TIMEOUT {format_duration(s.timeout)}")


_STATEMENTS: dict[type, Callable[[Any], str]] = {
    ast.Query: _query,
    ast.CreateSource: _create_source,
    ast.CreateAsSelect: _create_as_select,
    ast.InsertInto: lambda s: f"INSERT INTO {quote_identifier(s.target)}{_with(s.properties)} {_query(s.query)}",
    ast.InsertValues: _insert_values,
    ast.DropSource: lambda s: (
        f"DROP {s.kind.value}{_if(s.if_exists, 'IF EXISTS')} {quote_identifier(s.name)}"
        f"{_if(s.delete_topic, 'DELETE TOPIC')}"
    ),
    ast.AlterSource: lambda s: (
        f"ALTER {s.kind.value} {quote_identifier(s.name)} " + ", ".join(f"ADD COLUMN {_element(c)}" for c in s.columns)
    ),
    ast.Terminate: lambda s: f"TERMINATE {_target(s.query_id)}",
    ast.PauseQuery: lambda s: f"PAUSE {_target(s.query_id)}",
    ast.ResumeQuery: lambda s: f"RESUME {_target(s.query_id)}",
    ast.Show: _show,
    ast.DescribeSource: lambda s: f"DESCRIBE {quote_identifier(s.name)}{_if(s.extended, 'EXTENDED')}",
    ast.DescribeSources: lambda s: f"DESCRIBE {s.kind.value}S{_if(s.extended, 'EXTENDED')}",
    ast.DescribeFunction: lambda s: f"DESCRIBE FUNCTION {quote_identifier(s.name)}",
    ast.DescribeConnector: lambda s: f"DESCRIBE CONNECTOR {quote_identifier(s.name)}",
    ast.Explain: _explain,
    ast.Print: _print,
    ast.RunScript: lambda s: f"RUN SCRIPT {quote_string(s.path)}",
    ast.SetProperty: lambda s: f"SET {quote_string(s.name)}={quote_string(s.value)}",
    ast.UnsetProperty: lambda s: f"UNSET {quote_string(s.name)}",
    ast.AlterSystem: lambda s: f"ALTER SYSTEM {quote_string(s.name)}={quote_string(s.value)}",
    ast.DefineVariable: lambda s: f"DEFINE {s.name} = {quote_string(s.value)}",
    ast.UndefineVariable: lambda s: f"UNDEFINE {s.name}",
    ast.CreateConnector: lambda s: (
        f"CREATE {s.connector_type.value} CONNECTOR{_if(s.if_not_exists, 'IF NOT EXISTS')} "
        f"{quote_identifier(s.name)} WITH {format_properties(s.properties, as_strings=True)}"
    ),
    ast.DropConnector: lambda s: f"DROP CONNECTOR{_if(s.if_exists, 'IF EXISTS')} {quote_identifier(s.name)}",
    ast.CreateType: lambda s: (
        f"CREATE TYPE{_if(s.if_not_exists, 'IF NOT EXISTS')} {quote_identifier(s.name)} AS {s.type.sql()}"
    ),
    ast.DropType: lambda s: f"DROP TYPE{_if(s.if_exists, 'IF EXISTS')} {quote_identifier(s.name)}",
    ast.AssertTopic: _assert_topic,
    ast.AssertSchema: _assert_schema,
}
