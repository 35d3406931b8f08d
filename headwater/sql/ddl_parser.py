"""Parsing of the statements that define and feed streams and tables.

CREATE STREAM/TABLE (with columns or AS SELECT), CREATE TYPE, CREATE
SOURCE|SINK CONNECTOR, INSERT INTO (SELECT or VALUES), DROP and ALTER.
"""

from __future__ import annotations

from headwater.sql import ast
from headwater.sql.query_parser import QueryParser


class DdlParser(QueryParser):
    """DDL and INSERT; :class:`~headwater.sql.parser.StatementParser` dispatches to ``_stmt_*``."""

    def _stmt_insert(self) -> ast.Statement:
        pos = self.position()
        self.advance()
        self.expect_keyword("INTO")
        target = self.expect_identifier("stream name")
        if self.accept_keyword("WITH"):
            properties = self.parse_properties(upper_case=True)
            return ast.InsertInto(target, self.parse_query(), properties, pos=pos)
        if self.at_keyword("SELECT"):
            return ast.InsertInto(target, self.parse_query(), pos=pos)
        columns = None
        if self.accept_symbol("("):
            names = [self.expect_identifier("column name")]
            while self.accept_symbol(","):
                names.append(self.expect_identifier("column name"))
            self.expect_symbol(")")
            columns = tuple(names)
        self.expect_keyword("VALUES")
        self.expect_symbol("(")
        values: list[ast.Expression] = []
        if not self.accept_symbol(")"):
            values.append(self.parse_value_expression())
            while self.accept_symbol(","):
                values.append(self.parse_value_expression())
            self.expect_symbol(")")
        return ast.InsertValues(target, columns, tuple(values), pos=pos)

    def _stmt_create(self) -> ast.Statement:
        pos = self.position()
        self.advance()
        or_replace = False
        if self.accept_keyword("OR"):
            self.expect_keyword("REPLACE")
            or_replace = True
        if not or_replace:
            if self.at_keyword("TYPE"):
                return self._create_type(pos)
            if self.at_keyword("SINK") or (self.is_keyword("SOURCE") and self.is_keyword("CONNECTOR", 1)):
                return self._create_connector(pos)
        is_source = self.accept_keyword("SOURCE") is not None
        kind = ast.SourceKind(self.expect_keyword("STREAM", "TABLE").value)
        if_not_exists = self._if_not_exists()
        name = self.expect_identifier("stream or table name")
        elements: tuple[ast.TableElement, ...] = ()
        if self.is_symbol("("):
            elements = self._table_elements()
        properties = self.parse_properties(upper_case=True) if self.accept_keyword("WITH") else {}
        if not elements and not is_source and self.accept_keyword("AS"):
            query = self.parse_query()
            return ast.CreateAsSelect(kind, name, query, properties, or_replace, if_not_exists, pos=pos)
        return ast.CreateSource(kind, name, elements, properties, or_replace, if_not_exists, is_source, pos=pos)

    def _if_not_exists(self) -> bool:
        if self.accept_keyword("IF"):
            self.expect_keywords("NOT", "EXISTS")
            return True
        return False

    def _if_exists(self) -> bool:
        if self.accept_keyword("IF"):
            self.expect_keyword("EXISTS")
            return True
        return False

    def _table_elements(self) -> tuple[ast.TableElement, ...]:
        self.expect_symbol("(")
        elements = [self._table_element()]
        while self.accept_symbol(","):
            elements.append(self._table_element())
        self.expect_symbol(")")
        return tuple(elements)

    def _table_element(self) -> ast.TableElement:
        pos = self.position()
        name = self.expect_identifier("column name")
        column_type = self.parse_type()
        constraint = ast.ColumnConstraint.NONE
        header_key = None
        if self.accept_keyword("PRIMARY"):
            self.expect_keyword("KEY")
            constraint = ast.ColumnConstraint.PRIMARY_KEY
        elif self.accept_keyword("KEY"):
            constraint = ast.ColumnConstraint.KEY
        elif self.accept_keyword("HEADERS"):
            constraint = ast.ColumnConstraint.HEADERS
        elif self.accept_keyword("HEADER"):
            self.expect_symbol("(")
            header_key = self.expect_string("header key")
            self.expect_symbol(")")
            constraint = ast.ColumnConstraint.HEADER
        return ast.TableElement(name, column_type, constraint, header_key, pos=pos)

    def _create_type(self, pos: ast.Position) -> ast.Statement:
        self.advance()
        if_not_exists = self._if_not_exists()
        name = self.expect_identifier("type name")
        self.expect_keyword("AS")
        return ast.CreateType(name, self.parse_type(), if_not_exists, pos=pos)

    def _create_connector(self, pos: ast.Position) -> ast.Statement:
        connector_type = ast.ConnectorType(self.advance().value)
        self.expect_keyword("CONNECTOR")
        if_not_exists = self._if_not_exists()
        name = self.expect_identifier("connector name")
        self.expect_keyword("WITH")
        properties = self.parse_properties(upper_case=False)
        return ast.CreateConnector(connector_type, name, properties, if_not_exists, pos=pos)

    # --- DROP, ALTER -----------------------------------------------------

    def _stmt_drop(self) -> ast.Statement:
        pos = self.position()
        self.advance()
        what = self.expect_keyword("STREAM", "TABLE", "CONNECTOR", "TYPE").value
        if_exists = self._if_exists()
        if what == "CONNECTOR":
            return ast.DropConnector(self.expect_identifier("connector name"), if_exists, pos=pos)
        if what == "TYPE":
            return ast.DropType(self.expect_identifier("type name"), if_exists, pos=pos)
        name = self.expect_identifier("stream or table name")
        delete_topic = False
        if self.accept_keyword("DELETE"):
            self.expect_keyword("TOPIC")
            delete_topic = True
        return ast.DropSource(ast.SourceKind(what), name, if_exists, delete_topic, pos=pos)

    def _stmt_alter(self) -> ast.Statement:
        pos = self.position()
        self.advance()
        what = self.expect_keyword("STREAM", "TABLE", "SYSTEM").value
        if what == "SYSTEM":
            name = self.expect_string("property name")
            self.expect_symbol("=")
            return ast.AlterSystem(name, self.expect_string("property value"), pos=pos)
        name = self.expect_identifier("stream or table name")
        columns = [self._alter_option()]
        while self.accept_symbol(","):
            columns.append(self._alter_option())
        return ast.AlterSource(ast.SourceKind(what), name, tuple(columns), pos=pos)

    def _alter_option(self) -> ast.TableElement:
        self.expect_keyword("ADD")
        self.accept_keyword("COLUMN")
        pos = self.position()
        name = self.expect_identifier("column name")
        return ast.TableElement(name, self.parse_type(), pos=pos)
