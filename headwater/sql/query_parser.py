"""Parsing of SELECT: select items, FROM with joins, windows, and the clauses after them.

Clause order is ksqlDB's: ``SELECT items FROM relation [WINDOW w] [WHERE e]
[GROUP BY ...] [PARTITION BY ...] [HAVING e] [EMIT CHANGES|FINAL] [LIMIT n]``.
"""

from __future__ import annotations

from headwater.sql import ast
from headwater.sql.expression_parser import ExpressionParser
from headwater.sql.lexer import TokenKind

#: Words that follow a relation, so an alias written without AS cannot be one of them.
_AFTER_RELATION = frozenset(
    {"WINDOW", "WHERE", "GROUP", "PARTITION", "HAVING", "EMIT", "LIMIT", "JOIN", "INNER", "LEFT",
     "RIGHT", "FULL", "ON", "WITHIN"}
)
_JOIN_TYPES = {"INNER": ast.JoinType.INNER, "LEFT": ast.JoinType.LEFT, "RIGHT": ast.JoinType.RIGHT,
               "FULL": ast.JoinType.FULL}


class QueryParser(ExpressionParser):
    """SELECT queries and WITH property lists."""

    def parse_query(self) -> ast.Query:
        pos = self.position()
        self.expect_keyword("SELECT")
        items = [self._select_item()]
        while self.accept_symbol(","):
            items.append(self._select_item())
        self.expect_keyword("FROM")
        relation = self._relation()
        window = self._window() if self.accept_keyword("WINDOW") else None
        where = self.parse_expression() if self.accept_keyword("WHERE") else None
        group_by = None
        if self.accept_keyword("GROUP"):
            self.expect_keyword("BY")
            group_by = self._expression_list()
        partition_by = None
        if self.accept_keyword("PARTITION"):
            self.expect_keyword("BY")
            partition_by = self._expression_list()
        having = self.parse_expression() if self.accept_keyword("HAVING") else None
        emit = None
        if self.accept_keyword("EMIT"):
            emit = ast.EmitType(self.expect_keyword("CHANGES", "FINAL").value)
        limit = self.expect_integer("row count") if self.accept_keyword("LIMIT") else None
        return ast.Query(
            tuple(items), relation, window, where, group_by, partition_by, having, emit, limit, pos=pos
        )

    # --- select items --------------------------------------------------------

    def _select_item(self) -> ast.SelectItem:
        pos = self.position()
        if self.accept_symbol("*"):
            return ast.AllColumns(pos=pos)
        if self.at_identifier() and self.is_symbol(".", 1) and self.is_symbol("*", 2):
            source = self.advance().value
            self.advance()
            self.advance()
            return ast.AllColumns(source, pos=pos)
        expression = self.parse_expression()
        if self.is_symbol("->") and self.is_symbol("*", 1):
            self.advance()
            self.advance()
            return ast.StructAll(expression, pos=pos)
        alias = None
        if self.accept_keyword("AS"):
            alias = self.expect_identifier("alias")
        elif self.at_identifier():
            alias = self.advance().value
        return ast.SingleColumn(expression, alias, pos=pos)

    def _expression_list(self) -> tuple[ast.Expression, ...]:
        """``e, e, ...`` or ``(e, e, ...)``, the parenthesized form possibly empty."""
        if self.is_symbol("("):
            if self.is_symbol(")", 1):
                self.advance()
                self.advance()
                return ()
            start = self.mark()
            self.advance()
            first = self.parse_value_expression()
            if self.accept_symbol(","):
                items = [first, self.parse_value_expression()]
                while self.accept_symbol(","):
                    items.append(self.parse_value_expression())
                self.expect_symbol(")")
                return tuple(items)
            self.reset(start)  # "(e)" or "(e) + 1": an ordinary expression list
        items = [self.parse_value_expression()]
        while self.accept_symbol(","):
            items.append(self.parse_value_expression())
        return tuple(items)

    # --- relations -------------------------------------------------------

    def _relation(self) -> ast.Relation:
        left = self._aliased_relation()
        joins: list[ast.JoinedSource] = []
        while True:
            join = self._joined_source()
            if join is None:
                break
            joins.append(join)
        if not joins:
            return left
        return ast.Join(left, tuple(joins), pos=left.pos)

    def _aliased_relation(self) -> ast.AliasedRelation:
        pos = self.position()
        name = self.expect_identifier("stream or table name")
        alias = None
        if self.accept_keyword("AS"):
            alias = self.expect_identifier("alias")
        elif self.at_identifier() and not (
            self.token.kind is TokenKind.WORD and self.token.value in _AFTER_RELATION
        ):
            alias = self.advance().value
        return ast.AliasedRelation(name, alias, pos=pos)

    def _joined_source(self) -> ast.JoinedSource | None:
        pos = self.position()
        type_tok = self.accept_keyword("INNER", "LEFT", "RIGHT", "FULL")
        join_type = ast.JoinType.INNER if type_tok is None else _JOIN_TYPES[type_tok.value]
        if type_tok is not None and join_type is not ast.JoinType.INNER:
            self.accept_keyword("OUTER")
        if type_tok is None:
            if not self.accept_keyword("JOIN"):
                return None
        else:
            self.expect_keyword("JOIN")
        relation = self._aliased_relation()
        within = self._within() if self.accept_keyword("WITHIN") else None
        self.expect_keyword("ON")
        criteria = self.parse_expression()
        if within is None and self.accept_keyword("WITHIN"):
            within = self._within()
        return ast.JoinedSource(join_type, relation, criteria, within, pos=pos)

    def _within(self) -> ast.WithinExpression:
        pos = self.position()
        if self.accept_symbol("("):
            before = self.parse_duration()
            self.expect_symbol(",")
            after = self.parse_duration()
            self.expect_symbol(")")
        else:
            before = after = self.parse_duration()
        grace = None
        if self.accept_keyword("GRACE"):
            self.expect_keyword("PERIOD")
            grace = self.parse_duration()
        return ast.WithinExpression(before, after, grace, pos=pos)

    # --- windows ---------------------------------------------------------

    def _window(self) -> ast.WindowExpression:
        pos = self.position()
        name = None
        if self.at_identifier() and not self.is_symbol("(", 1):
            name = self.advance().value
        kind = self.expect_keyword("TUMBLING", "HOPPING", "SESSION").value
        self.expect_symbol("(")
        if kind == "SESSION":
            gap = self.parse_duration()
            retention, grace = self._window_options()
            return ast.SessionWindow(gap, retention, grace, name, pos=pos)
        self.expect_keyword("SIZE")
        size = self.parse_duration()
        if kind == "TUMBLING":
            retention, grace = self._window_options()
            return ast.TumblingWindow(size, retention, grace, name, pos=pos)
        self.expect_symbol(",")
        self.expect_keywords("ADVANCE", "BY")
        advance = self.parse_duration()
        retention, grace = self._window_options()
        return ast.HoppingWindow(size, advance, retention, grace, name, pos=pos)

    def _window_options(self) -> tuple[ast.Duration | None, ast.Duration | None]:
        """``[, RETENTION n unit] [, GRACE PERIOD n unit] )`` (either order), closing paren included."""
        retention = grace = None
        while self.accept_symbol(","):
            if retention is None and self.accept_keyword("RETENTION"):
                retention = self.parse_duration()
            elif grace is None and self.accept_keyword("GRACE"):
                self.expect_keyword("PERIOD")
                grace = self.parse_duration()
            else:
                raise self.error()
        self.expect_symbol(")")
        return retention, grace

    # --- WITH properties -------------------------------------------------

    def parse_properties(self, upper_case: bool) -> ast.Properties:
        """``( name = literal, ... )``; names are identifiers or strings.

        With ``upper_case`` (sources, queries) string names are upper-cased like
        identifiers; otherwise (connectors) they keep their case.
        """
        self.expect_symbol("(")
        properties: ast.Properties = {}
        while True:
            tok = self.token
            if tok.kind is TokenKind.STRING:
                self.advance()
                name = tok.value.upper() if upper_case else tok.value
            else:
                name = self.expect_identifier("property name")
            self.expect_symbol("=")
            value = self.parse_literal()
            if name in properties:
                raise self.error_at(tok, f"Duplicate property '{name}'")
            properties[name] = value
            if not self.accept_symbol(","):
                break
        self.expect_symbol(")")
        return properties
