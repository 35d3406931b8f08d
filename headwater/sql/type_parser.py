"""Parsing of types, literals and durations: the leaves the other parsers build on."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

from headwater.errors import SqlSyntaxError
from headwater.sql import expressions as ex
from headwater.sql import types as ty
from headwater.sql.lexer import Token, TokenKind
from headwater.sql.token_stream import TokenStream

_MAX_BIGINT = 2**63 - 1

#: The deepest an expression or a type may nest (parentheses, calls, NOT, signs, operator chains,
#: ARRAY<ARRAY<...>>). Parsing, planning and formatting recurse once or more per level; past this
#: they would exhaust Python's stack, and no real statement comes near it.
MAX_NESTING = 50

_T = TypeVar("_T")


class TypeParser(TokenStream):
    """Types (``STRUCT<a INT>``), literals (``-1.5``, ``'x'``) and durations (``60 SECONDS``)."""

    _depth = 0

    def nested(self, token: Token, parse: Callable[[], _T]) -> _T:
        """``parse()`` one level deeper; a syntax error at ``token`` past :data:`MAX_NESTING` levels."""
        if self._depth >= MAX_NESTING:
            raise self.too_deep(token.line, token.column)
        self._depth += 1
        try:
            return parse()
        finally:
            self._depth -= 1

    def too_deep(self, line: int, column: int) -> SqlSyntaxError:
        return SqlSyntaxError(f"Expression is too deeply nested: more than {MAX_NESTING} levels", line, column)

    def parse_literal(self) -> ex.Literal:
        """A literal as in WITH properties: string, number (optionally negative), boolean or NULL."""
        tok = self.token
        if tok.kind is TokenKind.STRING:
            self.advance()
            return ex.StringLiteral(tok.value, pos=self.position(tok))
        negative = tok.kind is TokenKind.SYMBOL and tok.value == "-"
        number_tok = self.peek() if negative else tok
        if number_tok.kind in (TokenKind.INTEGER, TokenKind.DECIMAL, TokenKind.DOUBLE):
            if negative:
                self.advance()
            return self._number(negative, tok)
        if tok.kind is TokenKind.WORD and tok.value in ("TRUE", "FALSE", "NULL"):
            self.advance()
            if tok.value == "NULL":
                return ex.NullLiteral(pos=self.position(tok))
            return ex.BooleanLiteral(tok.value == "TRUE", pos=self.position(tok))
        self.note("literal")
        raise self.error()

    def parse_duration(self) -> ex.Duration:
        """``<integer> <unit>``."""
        tok = self.token
        value = self.expect_integer("integer")
        return ex.Duration(value, self.expect_time_unit(), pos=self.position(tok))

    def expect_time_unit(self) -> ex.TimeUnit:
        tok = self.token
        if tok.kind is TokenKind.WORD and tok.value in ex.TIME_UNITS:
            self.advance()
            return ex.TIME_UNITS[tok.value]
        self.note("time unit (MILLISECONDS, SECONDS, MINUTES, HOURS, DAYS)")
        raise self.error()

    def parse_type(self) -> ty.SqlType:
        result = self.nested(self.token, self._base_type)
        while self.is_keyword("ARRAY"):
            self.advance()
            result = ty.ArrayType(result)
        return result

    def _base_type(self) -> ty.SqlType:
        tok = self.token
        if tok.kind is TokenKind.WORD:
            word = tok.value
            if word == "ARRAY" and self.is_symbol("<", 1):
                self.advance()
                self.advance()
                element = self.parse_type()
                self.expect_symbol(">")
                return ty.ArrayType(element)
            if word == "MAP" and self.is_symbol("<", 1):
                self.advance()
                self.advance()
                key = self.parse_type()
                self.expect_symbol(",")
                value = self.parse_type()
                self.expect_symbol(">")
                return ty.MapType(key, value)
            if word == "STRUCT" and (self.is_symbol("<", 1) or self.is_symbol("<>", 1)):
                return self._struct_type()
            if word == "DECIMAL":
                self.advance()
                self.expect_symbol("(")
                precision = self.expect_integer("precision")
                self.expect_symbol(",")
                scale = self.expect_integer("scale")
                self.expect_symbol(")")
                problem = ty.decimal_problem(precision, scale)
                if problem:
                    raise self.error_at(tok, problem)
                return ty.DecimalType(precision, scale)
            if word in ty.PRIMITIVE_NAMES:
                self.advance()
                return ty.PRIMITIVE_NAMES[word]
        if self.at_identifier():
            return ty.CustomType(self.advance().value)
        self.note("type")
        raise self.error()

    def _struct_type(self) -> ty.StructType:
        self.advance()
        if self.advance().value == "<>":
            return ty.StructType(())
        fields: list[ty.StructField] = []
        if not self.accept_symbol(">"):
            while True:
                name = self.expect_identifier("field name")
                fields.append(ty.StructField(name, self.parse_type()))
                if not self.accept_symbol(","):
                    break
            self.expect_symbol(">")
        return ty.StructType(tuple(fields))

    def _number(self, negative: bool, start: Token) -> ex.Literal:
        tok = self.advance()
        text = ("-" if negative else "") + tok.value
        pos = self.position(start)
        if tok.kind is TokenKind.INTEGER:
            value = int(text)
            if value > _MAX_BIGINT or value < -_MAX_BIGINT - 1:
                raise self.error_at(start, f"Invalid numeric literal: {text} is outside the range of BIGINT")
            return ex.IntegerLiteral(value, pos=pos)
        if tok.kind is TokenKind.DECIMAL:
            return self._decimal_text(tok, pos, text)
        return ex.DoubleLiteral(float(text), pos=pos)

    def _decimal_text(self, tok: Token, pos: ex.Position, text: str | None = None) -> ex.DecimalLiteral:
        try:
            return ex.DecimalLiteral(Decimal(tok.value if text is None else text), pos=pos)
        except ArithmeticError:
            raise self.error_at(tok, f"Invalid decimal literal: {tok.text}") from None
