"""Recursive-descent parsing of ksqlDB expressions.

Precedence, loosest first (as in ksqlDB's grammar): OR; AND; NOT; predicates
(comparison, [NOT] BETWEEN / IN / LIKE, IS [NOT] NULL, IS [NOT] DISTINCT FROM),
which do not chain; ``||``; ``+ -``; ``* / %``; unary ``- +``; postfix
subscript ``[i]``, dereference ``->f`` and ``AT TIME ZONE 'z'``.
"""

from __future__ import annotations

from headwater.sql import expressions as ex
from headwater.sql.lexer import Token, TokenKind
from headwater.sql.type_parser import MAX_NESTING, TypeParser

_COMPARISONS = {"=": "=", "<>": "<>", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_NEGATABLE = ("BETWEEN", "IN", "LIKE")

#: Functions whose first argument is a bare time unit (``DATEADD(DAYS, 1, d)``).
_UNIT_FUNCTIONS = frozenset({"DATEADD", "DATESUB", "TIMEADD", "TIMESUB", "TIMESTAMPADD", "TIMESTAMPSUB"})
#: Unit spellings that ksqlDB reserves, so they are a unit in any argument position.
_RESERVED_UNITS = frozenset({"MILLISECOND", "MILLISECONDS", "SECONDS", "MINUTES", "HOURS", "DAYS"})


class ExpressionParser(TypeParser):
    """Expressions; the statement parsers build on it."""

    def __init__(self, tokens: list[Token]) -> None:
        super().__init__(tokens)
        self._lambda_scopes: list[tuple[str, ...]] = []

    # --- boolean levels --------------------------------------------------

    def parse_expression(self) -> ex.Expression:
        tree = self.nested(self.token, self._or)
        if self._depth == 0:
            # Operator chains (1 + 1 + ... + 1) nest the tree without nesting the parser.
            deepest = ex.deepest(tree, MAX_NESTING)
            if deepest is not None:
                raise self.too_deep(deepest.pos.line, deepest.pos.column)
        return tree

    def _or(self) -> ex.Expression:
        left = self._and()
        while self.is_keyword("OR"):
            self.advance()
            left = ex.LogicalOp("OR", left, self._and(), pos=left.pos)
        return left

    def _and(self) -> ex.Expression:
        left = self._not()
        while self.is_keyword("AND"):
            self.advance()
            left = ex.LogicalOp("AND", left, self._not(), pos=left.pos)
        return left

    def _not(self) -> ex.Expression:
        if self.is_keyword("NOT"):
            tok = self.advance()
            return ex.Not(self.nested(tok, self._not), pos=self.position(tok))
        return self._predicated()

    def _predicated(self) -> ex.Expression:
        value = self.parse_value_expression()
        tok = self.token
        pos = value.pos
        if tok.kind is TokenKind.SYMBOL and tok.value in _COMPARISONS:
            self.advance()
            return ex.Comparison(_COMPARISONS[tok.value], value, self.parse_value_expression(), pos=pos)
        if tok.kind is not TokenKind.WORD:
            return value
        if tok.value == "IS":
            self.advance()
            negated = self.accept_keyword("NOT") is not None
            if self.accept_keyword("NULL"):
                return ex.IsNull(value, negated, pos=pos)
            self.expect_keywords("DISTINCT", "FROM")
            return ex.IsDistinctFrom(value, self.parse_value_expression(), negated, pos=pos)
        if tok.value == "NOT" and self.peek().kind is TokenKind.WORD and self.peek().value in _NEGATABLE:
            self.advance()
            negated = True
            word = self.expect_keyword(*_NEGATABLE).value
        elif tok.value in _NEGATABLE:
            negated = False
            word = self.advance().value
        else:
            return value
        if word == "BETWEEN":
            low = self.parse_value_expression()
            self.expect_keyword("AND")
            return ex.Between(value, low, self.parse_value_expression(), negated, pos=pos)
        if word == "IN":
            self.expect_symbol("(")
            items = [self.parse_expression()]
            while self.accept_symbol(","):
                items.append(self.parse_expression())
            self.expect_symbol(")")
            return ex.InList(value, tuple(items), negated, pos=pos)
        pattern = self.parse_value_expression()
        escape = None
        if self.accept_keyword("ESCAPE"):
            escape_tok = self.token
            escape = self.expect_string("escape character")
            if len(escape) != 1:
                raise self.error_at(escape_tok, f"Escape string must be a single character, got '{escape}'")
        return ex.Like(value, pattern, escape, negated, pos=pos)

    # --- value levels ------------------------------------------------------

    def parse_value_expression(self) -> ex.Expression:
        left = self._additive()
        while self.is_symbol("||"):
            self.advance()
            left = ex.BinaryOp("||", left, self._additive(), pos=left.pos)
        return left

    def _additive(self) -> ex.Expression:
        left = self._multiplicative()
        while self.token.kind is TokenKind.SYMBOL and self.token.value in ("+", "-"):
            op = self.advance().value
            left = ex.BinaryOp(op, left, self._multiplicative(), pos=left.pos)
        return left

    def _multiplicative(self) -> ex.Expression:
        left = self._unary()
        while self.token.kind is TokenKind.SYMBOL and self.token.value in ("*", "/", "%"):
            op = self.advance().value
            left = ex.BinaryOp(op, left, self._unary(), pos=left.pos)
        return left

    def _unary(self) -> ex.Expression:
        tok = self.token
        if tok.kind is TokenKind.SYMBOL and tok.value in ("-", "+"):
            self.advance()
            nxt = self.token
            if tok.value == "-" and nxt.kind in (TokenKind.INTEGER, TokenKind.DECIMAL, TokenKind.DOUBLE):
                return self._postfix(self._number(negative=True, start=tok))
            return ex.UnaryOp(tok.value, self.nested(tok, self._unary), pos=self.position(tok))
        return self._postfix(self._primary())

    def _postfix(self, base: ex.Expression) -> ex.Expression:
        while True:
            if self.is_symbol("["):
                self.advance()
                index = self.parse_value_expression()
                self.expect_symbol("]")
                base = ex.Subscript(base, index, pos=base.pos)
            elif self.is_symbol("->") and not self.is_symbol("*", 1):
                self.advance()
                base = ex.Dereference(base, self.expect_identifier("field name"), pos=base.pos)
            elif self.is_keyword("AT") and self.is_keyword("TIME", 1):
                self.advance()
                self.expect_keywords("TIME", "ZONE")
                base = ex.AtTimeZone(base, self.expect_string("time zone"), pos=base.pos)
            else:
                return base

    # --- primaries -----------------------------------------------------------

    def _primary(self) -> ex.Expression:
        tok = self.token
        pos = self.position(tok)
        kind = tok.kind
        if kind is TokenKind.STRING:
            self.advance()
            return ex.StringLiteral(tok.value, pos=pos)
        if kind in (TokenKind.INTEGER, TokenKind.DECIMAL, TokenKind.DOUBLE):
            return self._number(negative=False, start=tok)
        if kind is TokenKind.SYMBOL and tok.value == "(":
            self.advance()
            inner = self.parse_expression()
            self.expect_symbol(")")
            return inner
        if kind is TokenKind.WORD:
            word = tok.value
            if word in ("TRUE", "FALSE"):
                self.advance()
                return ex.BooleanLiteral(word == "TRUE", pos=pos)
            if word == "NULL":
                self.advance()
                return ex.NullLiteral(pos=pos)
            if word == "CASE":
                return self._case()
            if word == "CAST":
                return self._cast()
            if word == "ARRAY" and self.is_symbol("[", 1):
                return self._array()
            if word == "MAP" and self.is_symbol("(", 1):
                return self._map()
            if word == "STRUCT" and self.is_symbol("(", 1):
                return self._struct()
            if word == "DECIMAL" and self.peek().kind is TokenKind.STRING:
                self.advance()
                return self._decimal_text(self.advance(), pos)
        if self.at_identifier():
            return self._identifier_expression()
        self.note("expression")
        raise self.error()

    def _identifier_expression(self) -> ex.Expression:
        pos = self.position()
        name = self.advance().value
        if self.is_symbol("("):
            return self._function_call(name, pos)
        if self.is_symbol(".") and self.at_identifier(1):
            self.advance()
            return ex.ColumnRef(self.advance().value, name, pos=pos)
        for scope in reversed(self._lambda_scopes):
            if name in scope:
                return ex.LambdaVariable(name, pos=pos)
        return ex.ColumnRef(name, pos=pos)

    def _function_call(self, name: str, pos: ex.Position) -> ex.FunctionCall:
        self.expect_symbol("(")
        if self.is_symbol("*") and self.is_symbol(")", 1):
            self.advance()
            self.advance()
            return ex.FunctionCall(name, (), star=True, pos=pos)
        distinct = self.accept_keyword("DISTINCT") is not None
        args: list[ex.Expression] = []
        if not self.accept_symbol(")"):
            args.append(self._argument(name, 0))
            while self.accept_symbol(","):
                args.append(self._argument(name, len(args)))
            self.expect_symbol(")")
        return ex.FunctionCall(name, tuple(args), distinct=distinct, pos=pos)

    def _argument(self, function: str, index: int) -> ex.Expression:
        tok = self.token
        if tok.kind is TokenKind.WORD and (self.is_symbol(",", 1) or self.is_symbol(")", 1)):
            unit = ex.TIME_UNITS.get(tok.value)
            if unit is not None and (tok.value in _RESERVED_UNITS or (index == 0 and function in _UNIT_FUNCTIONS)):
                self.advance()
                return ex.TimeUnitLiteral(unit, pos=self.position(tok))
        params = self._lambda_params()
        if params is not None:
            self.expect_symbol("=>")
            self._lambda_scopes.append(params)
            try:
                body = self.parse_expression()
            finally:
                self._lambda_scopes.pop()
            return ex.Lambda(params, body, pos=self.position(tok))
        return self.parse_expression()

    def _lambda_params(self) -> tuple[str, ...] | None:
        """The parameters if a lambda starts here (consumed up to ``=>``), else None."""
        if self.at_identifier() and self.is_symbol("=>", 1):
            return (self.advance().value,)
        if not self.is_symbol("("):
            return None
        ahead = 1
        names: list[str] = []
        while self.at_identifier(ahead):
            names.append(self.peek(ahead).value)
            if self.is_symbol(",", ahead + 1):
                ahead += 2
            elif self.is_symbol(")", ahead + 1) and self.is_symbol("=>", ahead + 2):
                for _ in range(ahead + 2):
                    self.advance()
                return tuple(names)
            else:
                return None
        return None

    def _case(self) -> ex.Case:
        pos = self.position()
        self.advance()
        operand = None if self.at_keyword("WHEN") else self.parse_expression()
        whens: list[ex.WhenClause] = []
        while self.at_keyword("WHEN"):
            when_pos = self.position()
            self.advance()
            condition = self.parse_expression()
            self.expect_keyword("THEN")
            whens.append(ex.WhenClause(condition, self.parse_expression(), pos=when_pos))
        if not whens:
            raise self.error()
        default = self.parse_expression() if self.accept_keyword("ELSE") else None
        self.expect_keyword("END")
        return ex.Case(operand, tuple(whens), default, pos=pos)

    def _cast(self) -> ex.Cast:
        pos = self.position()
        self.advance()
        self.expect_symbol("(")
        operand = self.parse_expression()
        self.expect_keyword("AS")
        target = self.parse_type()
        self.expect_symbol(")")
        return ex.Cast(operand, target, pos=pos)

    def _array(self) -> ex.ArrayConstructor:
        pos = self.position()
        self.advance()
        self.advance()
        items: list[ex.Expression] = []
        if not self.accept_symbol("]"):
            items.append(self.parse_expression())
            while self.accept_symbol(","):
                items.append(self.parse_expression())
            self.expect_symbol("]")
        return ex.ArrayConstructor(tuple(items), pos=pos)

    def _map(self) -> ex.MapConstructor:
        pos = self.position()
        self.advance()
        self.advance()
        entries: list[tuple[ex.Expression, ex.Expression]] = []
        if not self.accept_symbol(")"):
            while True:
                key = self.parse_expression()
                self.expect_symbol(":=")
                entries.append((key, self.parse_expression()))
                if not self.accept_symbol(","):
                    break
            self.expect_symbol(")")
        return ex.MapConstructor(tuple(entries), pos=pos)

    def _struct(self) -> ex.StructConstructor:
        pos = self.position()
        self.advance()
        self.advance()
        fields: list[tuple[str, ex.Expression]] = []
        if not self.accept_symbol(")"):
            while True:
                name = self.expect_identifier("field name")
                self.expect_symbol(":=")
                fields.append((name, self.parse_expression()))
                if not self.accept_symbol(","):
                    break
            self.expect_symbol(")")
        return ex.StructConstructor(tuple(fields), pos=pos)
