"""A cursor over tokens for the recursive-descent parser, with ksqlDB-like errors.

Every check of the current token that fails records what was looked for; the
record is cleared when the cursor moves. A syntax error therefore lists all the
alternatives tried at the failing token: ``line 1:10: Syntax error at or near
'FORM'; expected one of FROM, ','``. Checks made only to continue an expression
(operators) are not recorded, so the list names what the statement needs.
"""

from __future__ import annotations

from headwater.errors import SqlSyntaxError
from headwater.sql.expressions import Position
from headwater.sql.lexer import RESERVED_WORDS, Token, TokenKind


class TokenStream:
    """Position in a token list, with accept/expect helpers and error reporting."""

    def __init__(self, tokens: list[Token]) -> None:
        self._tokens = tokens
        self._index = 0
        self._expected: list[str] = []
        self._expected_at = -1

    # --- looking ---------------------------------------------------------

    @property
    def token(self) -> Token:
        return self._tokens[self._index]

    def at_end(self) -> bool:
        return self._tokens[self._index].kind is TokenKind.EOF

    def peek(self, ahead: int = 1) -> Token:
        index = min(self._index + ahead, len(self._tokens) - 1)
        return self._tokens[index]

    def position(self, token: Token | None = None) -> Position:
        tok = self.token if token is None else token
        return Position(tok.line, tok.column)

    def advance(self) -> Token:
        tok = self._tokens[self._index]
        if tok.kind is not TokenKind.EOF:
            self._index += 1
        return tok

    def mark(self) -> int:
        return self._index

    def reset(self, mark: int) -> None:
        """Back to a :meth:`mark`, for the few places that need to look far ahead."""
        self._index = mark

    def note(self, expected: str) -> None:
        """Record that ``expected`` would have been accepted at the current token."""
        if self._expected_at != self._index:
            self._expected_at = self._index
            self._expected = []
        if expected not in self._expected:
            self._expected.append(expected)

    # --- keywords and symbols --------------------------------------------

    def at_keyword(self, *words: str) -> bool:
        tok = self.token
        if tok.kind is TokenKind.WORD and tok.value in words:
            return True
        for word in words:
            self.note(word)
        return False

    def accept_keyword(self, *words: str) -> Token | None:
        if self.at_keyword(*words):
            return self.advance()
        return None

    def expect_keyword(self, *words: str) -> Token:
        if self.at_keyword(*words):
            return self.advance()
        raise self.error()

    def expect_keywords(self, *words: str) -> Token:
        """Each of ``words`` in sequence (``GRACE PERIOD``); returns the first token."""
        first = self.expect_keyword(words[0])
        for word in words[1:]:
            self.expect_keyword(word)
        return first

    def is_keyword(self, word: str, ahead: int = 0) -> bool:
        """Lookahead without recording an expectation."""
        tok = self.peek(ahead) if ahead else self.token
        return tok.kind is TokenKind.WORD and tok.value == word

    def is_symbol(self, symbol: str, ahead: int = 0) -> bool:
        tok = self.peek(ahead) if ahead else self.token
        return tok.kind is TokenKind.SYMBOL and tok.value == symbol

    def at_symbol(self, symbol: str) -> bool:
        if self.is_symbol(symbol):
            return True
        self.note(f"'{symbol}'")
        return False

    def accept_symbol(self, symbol: str) -> Token | None:
        if self.at_symbol(symbol):
            return self.advance()
        return None

    def expect_symbol(self, symbol: str) -> Token:
        if self.at_symbol(symbol):
            return self.advance()
        raise self.error()

    # --- identifiers and literals ----------------------------------------

    def at_identifier(self, ahead: int = 0) -> bool:
        tok = self.peek(ahead) if ahead else self.token
        if tok.kind is TokenKind.QUOTED:
            return True
        return tok.kind is TokenKind.WORD and tok.value not in RESERVED_WORDS

    def expect_identifier(self, what: str = "identifier") -> str:
        """An identifier as ksqlDB resolves it: upper-cased unless quoted."""
        if self.at_identifier():
            return self.advance().value
        self.note(what)
        raise self.error()

    def expect_string(self, what: str = "string") -> str:
        if self.token.kind is TokenKind.STRING:
            return self.advance().value
        self.note(what)
        raise self.error()

    def expect_integer(self, what: str = "integer") -> int:
        tok = self.token
        if tok.kind is TokenKind.INTEGER:
            self.advance()
            return int(tok.value)
        self.note(what)
        raise self.error()

    # --- errors ------------------------------------------------------------

    def error(self, token: Token | None = None) -> SqlSyntaxError:
        """A syntax error at ``token`` (default: the current one) listing what was expected."""
        tok = self.token if token is None else token
        near = "<EOF>" if tok.kind is TokenKind.EOF else tok.text
        detail = f"Syntax error at or near '{near}'"
        if token is None and self._expected_at == self._index and self._expected:
            if len(self._expected) == 1:
                detail += f"; expected {self._expected[0]}"
            else:
                detail += "; expected one of " + ", ".join(self._expected)
        return SqlSyntaxError(detail, tok.line, tok.column)

    def error_at(self, token: Token, detail: str) -> SqlSyntaxError:
        return SqlSyntaxError(detail, token.line, token.column)
