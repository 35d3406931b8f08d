"""The ksqlDB statement parser: SQL text to :mod:`headwater.sql.ast` nodes.

Public entry points: :func:`parse` (a script of ``;``-separated statements),
:func:`parse_statement`, :func:`parse_expression` and :func:`parse_type`. All
raise :class:`~headwater.errors.SqlSyntaxError` naming the line and column.
Variables (``${name}``) must be substituted first, see
:func:`headwater.sql.script.substitute_variables`.
"""

from __future__ import annotations

from headwater.errors import SqlSyntaxError
from headwater.sql import ast
from headwater.sql import types as ty
from headwater.sql.ddl_parser import DdlParser
from headwater.sql.lexer import TokenKind, tokenize
from headwater.sql.token_stream import STATEMENT_WORDS

_SHOW_SIMPLE = {
    "PROPERTIES": ast.ShowKind.PROPERTIES,
    "FUNCTIONS": ast.ShowKind.FUNCTIONS,
    "TYPES": ast.ShowKind.TYPES,
    "VARIABLES": ast.ShowKind.VARIABLES,
}
_SHOW_OTHERS = ("ALL", "TOPICS", "CONNECTORS", "CONNECTOR", "SOURCE", "SINK")
_SHOW_EXTENDABLE = {
    "STREAMS": ast.ShowKind.STREAMS,
    "TABLES": ast.ShowKind.TABLES,
    "QUERIES": ast.ShowKind.QUERIES,
}


#: Statement words several of ksqlDB's statement rules begin with: a wrong word after them is ANTLR's
#: "no viable alternative" (the prediction of the statement fails), not a mismatched input.
_SHARED_PREFIX = frozenset(("CREATE", "DROP", "SHOW", "LIST", "DESCRIBE", "ALTER", "ASSERT", "INSERT", "EXPLAIN"))


class StatementParser(DdlParser):
    """One parser per token list; :meth:`parse_statements` reads them all."""

    def parse_statements(self) -> list[ast.Statement]:
        statements: list[ast.Statement] = []
        while True:
            while self.is_symbol(";"):
                self.advance()
            if self.at_end():
                return statements
            statements.append(self.parse_statement())
            if not self.at_end():
                self.expect_symbol(";")

    def parse_statement(self) -> ast.Statement:
        tok = self.token
        if tok.kind is TokenKind.WORD:
            method = getattr(self, "_stmt_" + tok.value.lower(), None)
            if method is not None and tok.value in STATEMENT_WORDS:
                start = self.mark()
                try:
                    statement: ast.Statement = method()
                except SqlSyntaxError:
                    if tok.value in _SHARED_PREFIX and self.mark() <= start + self._prefix_length(start):
                        raise self.no_viable_alternative(start) from None
                    raise
                return statement
        raise self.unknown_statement()

    def _prefix_length(self, start: int) -> int:
        """Tokens of the statement at ``start`` that several statements begin with: the first word, and
        for CREATE also ``OR REPLACE`` and ``SOURCE`` (ksqlDB's grammar tells them apart after these)."""
        length = 1
        if self.peek_at(start).value == "CREATE":
            if self.peek_at(start + 1).value == "OR" and self.peek_at(start + 2).value == "REPLACE":
                length += 2
            if self.peek_at(start + length).value == "SOURCE":
                length += 1
        return length

    # --- SELECT (the other DML and DDL are in DdlParser) -----------------

    def _stmt_select(self) -> ast.Statement:
        return self.parse_query()

    # --- listing and describing ------------------------------------------

    def _stmt_list(self) -> ast.Statement:
        return self._stmt_show()

    def _stmt_show(self) -> ast.Statement:
        pos = self.position()
        self.advance()
        tok = self.token
        word = tok.value if tok.kind is TokenKind.WORD else ""
        if word in _SHOW_SIMPLE:
            self.advance()
            return ast.Show(_SHOW_SIMPLE[word], pos=pos)
        if word in _SHOW_EXTENDABLE:
            self.advance()
            return ast.Show(_SHOW_EXTENDABLE[word], self._extended(), pos=pos)
        if word in ("ALL", "TOPICS"):
            all_topics = self.accept_keyword("ALL") is not None
            self.expect_keyword("TOPICS")
            return ast.Show(ast.ShowKind.TOPICS, self._extended(), all_topics, pos=pos)
        if word == "CONNECTOR":
            self.advance()
            self.expect_keyword("PLUGINS")
            return ast.Show(ast.ShowKind.CONNECTOR_PLUGINS, pos=pos)
        connector_type = None
        if word in ("SOURCE", "SINK"):
            connector_type = ast.ConnectorType(self.advance().value)
        elif word != "CONNECTORS":
            for option in (*_SHOW_SIMPLE, *_SHOW_EXTENDABLE, *_SHOW_OTHERS):
                self.note(option)
            raise self.error()
        self.expect_keyword("CONNECTORS")
        return ast.Show(ast.ShowKind.CONNECTORS, connector_type=connector_type, pos=pos)

    def _extended(self) -> bool:
        return self.accept_keyword("EXTENDED") is not None

    def _stmt_describe(self) -> ast.Statement:
        pos = self.position()
        self.advance()
        if self.is_keyword("FUNCTION") and self.at_identifier(1):
            self.advance()
            return ast.DescribeFunction(self.expect_identifier("function name"), pos=pos)
        if self.is_keyword("CONNECTOR") and self.at_identifier(1):
            self.advance()
            return ast.DescribeConnector(self.expect_identifier("connector name"), pos=pos)
        if (self.is_keyword("STREAMS") or self.is_keyword("TABLES")) and (
            self._ends_statement(1) or (self.is_keyword("EXTENDED", 1) and self._ends_statement(2))
        ):
            kind = ast.SourceKind.STREAM if self.advance().value == "STREAMS" else ast.SourceKind.TABLE
            return ast.DescribeSources(kind, self._extended(), pos=pos)
        if self.is_keyword("EXTENDED") and self.at_identifier(1):  # KSQL 5.x word order
            self.advance()
            return ast.DescribeSource(self.expect_identifier("stream or table name"), True, pos=pos)
        name = self.expect_identifier("stream or table name")
        return ast.DescribeSource(name, self._extended(), pos=pos)

    def _ends_statement(self, ahead: int) -> bool:
        return self.is_symbol(";", ahead) or self.peek(ahead).kind is TokenKind.EOF

    def _stmt_explain(self) -> ast.Statement:
        pos = self.position()
        self.advance()
        if self.is_keyword("SELECT") or self.is_keyword("CREATE") or self.is_keyword("INSERT"):
            return ast.Explain(statement=self.parse_statement(), pos=pos)
        for word in ("SELECT", "CREATE", "INSERT"):
            self.note(word)
        return ast.Explain(query_id=self.expect_identifier("query id"), pos=pos)

    def _stmt_print(self) -> ast.Statement:
        pos = self.position()
        self.advance()
        tok = self.token
        if tok.kind in (TokenKind.STRING, TokenKind.QUOTED) or self.at_identifier():
            self.advance()
            topic = tok.text if tok.kind is TokenKind.WORD else tok.value
        else:
            self.note("topic name")
            raise self.error()
        from_beginning = False
        if self.accept_keyword("FROM"):
            self.expect_keyword("BEGINNING")
            from_beginning = True
        interval = self.expect_integer("interval") if self.accept_keyword("INTERVAL", "SAMPLE") else None
        limit = self.expect_integer("row count") if self.accept_keyword("LIMIT") else None
        return ast.Print(topic, from_beginning, interval, limit, pos=pos)

    # --- query lifecycle -------------------------------------------------

    def _query_target(self) -> str | None:
        if self.accept_keyword("ALL"):
            return None
        return self.expect_identifier("query id")

    def _stmt_terminate(self) -> ast.Statement:
        pos = self.position()
        self.advance()
        return ast.Terminate(self._query_target(), pos=pos)

    def _stmt_pause(self) -> ast.Statement:
        pos = self.position()
        self.advance()
        return ast.PauseQuery(self._query_target(), pos=pos)

    def _stmt_resume(self) -> ast.Statement:
        pos = self.position()
        self.advance()
        return ast.ResumeQuery(self._query_target(), pos=pos)

    # --- session ---------------------------------------------------------

    def _stmt_set(self) -> ast.Statement:
        pos = self.position()
        self.advance()
        name = self.expect_string("property name")
        self.expect_symbol("=")
        return ast.SetProperty(name, self.expect_string("property value"), pos=pos)

    def _stmt_unset(self) -> ast.Statement:
        pos = self.position()
        self.advance()
        return ast.UnsetProperty(self.expect_string("property name"), pos=pos)

    def _stmt_define(self) -> ast.Statement:
        pos = self.position()
        self.advance()
        name = self._variable_name()
        self.expect_symbol("=")
        return ast.DefineVariable(name, self.expect_string("variable value"), pos=pos)

    def _stmt_undefine(self) -> ast.Statement:
        pos = self.position()
        self.advance()
        return ast.UndefineVariable(self._variable_name(), pos=pos)

    def _variable_name(self) -> str:
        tok = self.token
        if tok.kind is TokenKind.WORD and tok.value not in ("TRUE", "FALSE", "NULL"):
            return self.advance().text
        self.note("variable name")
        raise self.error()

    def _stmt_run(self) -> ast.Statement:
        pos = self.position()
        self.advance()
        self.expect_keyword("SCRIPT")
        return ast.RunScript(self.expect_string("script path"), pos=pos)

    def _stmt_assert(self) -> ast.Statement:
        pos = self.position()
        self.advance()
        exists = True
        if self.accept_keyword("NOT"):
            self.expect_keyword("EXISTS")
            exists = False
        what = self.expect_keyword("TOPIC", "SCHEMA").value
        if what == "TOPIC":
            tok = self.token
            if tok.kind is TokenKind.STRING or self.at_identifier():
                self.advance()
                topic = tok.text if tok.kind is TokenKind.WORD else tok.value
            else:
                self.note("topic name")
                raise self.error()
            properties = self.parse_properties(upper_case=True) if self.accept_keyword("WITH") else {}
            return ast.AssertTopic(topic, exists, properties, self._timeout(), pos=pos)
        subject = None
        if self.accept_keyword("SUBJECT"):
            tok = self.token
            is_string = tok.kind is TokenKind.STRING
            subject = self.expect_string("subject") if is_string else self.expect_identifier("subject")
        schema_id = self.expect_integer("schema id") if self.accept_keyword("ID") else None
        if subject is None and schema_id is None:
            raise self.error()
        return ast.AssertSchema(subject, schema_id, exists, self._timeout(), pos=pos)

    def _timeout(self) -> ast.Duration | None:
        return self.parse_duration() if self.accept_keyword("TIMEOUT") else None


def parse(text: str, line: int = 1, column: int = 1) -> list[ast.Statement]:
    """Every statement of ``text`` (``;``-separated; the last ``;`` may be left out).

    ``line`` and ``column`` say where ``text`` starts in a larger script.
    """
    return StatementParser(tokenize(text, line, column)).parse_statements()


def parse_statement(text: str, line: int = 1, column: int = 1) -> ast.Statement:
    """Exactly one statement, optionally followed by ``;``."""
    parser = StatementParser(tokenize(text, line, column))
    statement = parser.parse_statement()
    if not parser.accept_symbol(";") and not parser.at_end():
        raise parser.error()  # ';' was noted: "missing ';' at ..." when a statement follows
    _expect_end(parser)
    return statement


def parse_expression(text: str) -> ast.Expression:
    """One expression, such as ``status >= 400 AND request LIKE '%html%'``."""
    parser = StatementParser(tokenize(text))
    expression = parser.parse_expression()
    _expect_end(parser)
    return expression


def parse_type(text: str) -> ty.SqlType:
    """One type, such as ``STRUCT<city STRING, zip INT>``."""
    parser = StatementParser(tokenize(text))
    result = parser.parse_type()
    _expect_end(parser)
    return result


def _expect_end(parser: StatementParser) -> None:
    if not parser.at_end():
        parser.note("end of input")
        raise parser.error()
