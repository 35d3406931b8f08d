"""A cursor over tokens for the recursive-descent parser, with ksqlDB-like errors.

Every check of the current token that fails records what was looked for; the
record is cleared when the cursor moves. A syntax error reads as ksqlDB's does
(its ANTLR parser's forms) and lists all the alternatives tried at the failing
token: ``line 1:10: Syntax Error`` then ``mismatched input 'FORM' expecting
{',', 'FROM'}``. Checks made only to continue an expression (operators) are not
recorded, so the list names what the statement needs.
"""

from __future__ import annotations

import difflib

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

    def peek_at(self, index: int) -> Token:
        """The token at ``index`` (a :meth:`mark`), or the end."""
        return self._tokens[min(index, len(self._tokens) - 1)]

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
        """A syntax error at ``token`` (default: the current one), worded as ksqlDB's ANTLR parser words it."""
        tok = self.token if token is None else token
        expected = self._expected if token is None and self._expected_at == self._index else []
        return SqlSyntaxError("Syntax Error\n" + _antlr_detail(tok, expected, self.peek()), tok.line, tok.column)

    def error_at(self, token: Token, detail: str) -> SqlSyntaxError:
        return SqlSyntaxError(detail, token.line, token.column)

    def no_viable_alternative(self, start: int) -> SqlSyntaxError:
        """ANTLR's error when no rule fits the tokens from ``start`` to the current one (as written, but with
        one space wherever white space or a comment stood between two of them)."""
        tok = self.token
        text = ""
        for before, t in zip([None, *self._tokens[start:self._index]], self._tokens[start:self._index + 1]):
            if before is not None and t.offset > before.offset + len(before.text):
                text += " "
            text += "<EOF>" if t.kind is TokenKind.EOF else t.text
        return SqlSyntaxError("Syntax Error\nno viable alternative at input " + _display_text(text), tok.line, tok.column)

    def unknown_statement(self) -> SqlSyntaxError:
        """ksqlDB's error for a statement that starts with a word no statement starts with."""
        tok = self.token
        if tok.kind is not TokenKind.WORD:
            for word in STATEMENT_WORDS:
                self.note(word)
            return self.error()
        detail = f"Syntax Error\nUnknown statement '{tok.text}'"
        close = difflib.get_close_matches(tok.value, STATEMENT_WORDS, n=1, cutoff=0.6)
        if close:
            detail += f"\nDid you mean '{close[0]}'?"
        return SqlSyntaxError(detail, tok.line, tok.column)


#: Words that begin a statement: a token among them where ``;`` is expected means the ``;`` is missing.
STATEMENT_WORDS = (
    "SELECT", "CREATE", "INSERT", "DROP", "SHOW", "LIST", "DESCRIBE", "EXPLAIN", "PRINT",
    "TERMINATE", "PAUSE", "RESUME", "SET", "UNSET", "ALTER", "DEFINE", "UNDEFINE", "RUN", "ASSERT",
)
_LITERALS = (TokenKind.STRING, TokenKind.INTEGER, TokenKind.DECIMAL, TokenKind.DOUBLE)
#: Words in the expected categories (``column name``, ``alias``, ``type``) that an identifier satisfies.
_NAMES = ("name", "alias", "identifier", "query id", "subject", "type")


def _display(tok: Token) -> str:
    """A token as ANTLR's error strategy shows it: its text quoted, white space escaped."""
    return _display_text("<EOF>" if tok.kind is TokenKind.EOF else tok.text)


def _display_text(text: str) -> str:
    return "'" + text.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + "'"


def _shown(expected: str) -> str:
    if expected == "end of input":
        return "<EOF>"
    return f"'{expected}'" if expected.isupper() and " " not in expected else expected


def _expecting(expected: list[str]) -> str:
    """An expected set as ANTLR prints one: the element alone, or ``{a, b}``."""
    shown = [_shown(e) for e in expected]
    return shown[0] if len(shown) == 1 else "{" + ", ".join(shown) + "}"


def _fits(tok: Token, expected: list[str]) -> bool:
    """Whether ``tok`` is one of the ``expected`` alternatives (ANTLR's single-token-deletion test)."""
    for item in expected:
        if item.startswith("'"):
            if tok.kind is TokenKind.SYMBOL and tok.value == item[1:-1]:
                return True
        elif item.isupper() and " " not in item:
            if tok.kind is TokenKind.WORD and tok.value == item:
                return True
        elif item == "end of input":
            if tok.kind is TokenKind.EOF:
                return True
        elif item in ("expression", "literal") and tok.kind in _LITERALS:
            return True
        elif (item == "expression" or any(word in item for word in _NAMES)) and (
            tok.kind is TokenKind.QUOTED or (tok.kind is TokenKind.WORD and tok.value not in RESERVED_WORDS)
        ):
            return True  # names, types and expressions can start with an identifier
    return False


def _antlr_detail(tok: Token, expected: list[str], after: Token) -> str:
    """The second line of ksqlDB's syntax error, in the forms of ANTLR's DefaultErrorStrategy.

    - ``missing ';' at 'SHOW'``: a statement starts where the ``;`` of the one before is due;
    - ``extraneous input 'X' expecting ...``: the token after ``X`` is what was expected (ANTLR's
      single-token deletion), and ksqlDB's own wording when ``X`` is a reserved keyword;
    - ``mismatched input 'X' expecting ...`` otherwise; ``no viable alternative at input 'X'``
      when nothing in particular was expected.
    The expected set lists what this parser tried (keywords quoted, ``<EOF>``, and names of
    what a rule reads such as ``expression``); ANTLR lists token types, see docs/ksqldb-differences.md.
    """
    if not expected:
        return f"no viable alternative at input {_display(tok)}"
    if "';'" in expected and tok.kind is TokenKind.WORD and tok.value in STATEMENT_WORDS:
        return f"missing ';' at {_display(tok)}"
    if tok.kind is not TokenKind.EOF and _fits(after, expected):
        if tok.kind is TokenKind.WORD and tok.value in RESERVED_WORDS:
            return (f'"{tok.text}" is a reserved keyword and it can\'t be used as an identifier. '
                    f"You can use it as an identifier by escaping it as `{tok.text}`")
        return f"extraneous input {_display(tok)} expecting {_expecting(expected)}"
    return f"mismatched input {_display(tok)} expecting {_expecting(expected)}"
