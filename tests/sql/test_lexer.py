"""The lexer: token kinds and values, case rules, escapes, comments, positions."""

from __future__ import annotations

import pytest

from headwater.sql.lexer import TokenKind, tokenize

W, Q, STR, INT, DEC, DBL, SYM = (TokenKind.WORD, TokenKind.QUOTED, TokenKind.STRING, TokenKind.INTEGER,
                                 TokenKind.DECIMAL, TokenKind.DOUBLE, TokenKind.SYMBOL)

#: (text, [(kind, value), ...]) without the final EOF
TOKENS: list[tuple[str, list[tuple[TokenKind, str]]]] = [
    ("select Foo _bar", [(W, "SELECT"), (W, "FOO"), (W, "_BAR")]),
    ("a@b x1 1abc", [(W, "A@B"), (W, "X1"), (W, "1ABC")]),
    ('"Mixed" `Back``tick` "dq""q"', [(Q, "Mixed"), (Q, "Back`tick"), (Q, 'dq"q')]),
    ("'it''s' ''", [(STR, "it's"), (STR, "")]),
    ("'multi\nline'", [(STR, "multi\nline")]),
    ("'--not a comment' '/*nor this*/'", [(STR, "--not a comment"), (STR, "/*nor this*/")]),
    ("1 12.5 .5 3. 1e3 2.5E-2", [(INT, "1"), (DEC, "12.5"), (DEC, ".5"), (DEC, "3."), (DBL, "1e3"), (DBL, "2.5E-2")]),
    ("a--comment\nb", [(W, "A"), (W, "B")]),
    ("a/* block\n comment */b", [(W, "A"), (W, "B")]),
    ("<> != <= >= || := -> => = < > + - * / % ( ) [ ] , . ;",
     [(SYM, s) for s in "<> != <= >= || := -> => = < > + - * / % ( ) [ ] , . ;".split()]),
    ("a->b=>c", [(W, "A"), (SYM, "->"), (W, "B"), (SYM, "=>"), (W, "C")]),
    ("x>-1", [(W, "X"), (SYM, ">"), (SYM, "-"), (INT, "1")]),
    ("MAP<STRING,ARRAY<INT>>", [(W, "MAP"), (SYM, "<"), (W, "STRING"), (SYM, ","), (W, "ARRAY"), (SYM, "<"),
                                (W, "INT"), (SYM, ">"), (SYM, ">")]),
    ("${var}", [(TokenKind.VARIABLE, "var")]),
]


@pytest.mark.parametrize(("text", "expected"), TOKENS, ids=[t for t, _ in TOKENS])
def test_tokens(text: str, expected: list[tuple[TokenKind, str]]) -> None:
    tokens = tokenize(text)
    assert tokens[-1].kind is TokenKind.EOF
    assert [(t.kind, t.value) for t in tokens[:-1]] == expected


def test_tokens_keep_their_source_text() -> None:
    tokens = tokenize("Clickstream 'x''y' `Q`")
    assert [t.text for t in tokens[:-1]] == ["Clickstream", "'x''y'", "`Q`"]


def test_positions_follow_lines_comments_and_multiline_strings() -> None:
    text = "SELECT a, -- note\n  'two\nlines' AS b\n/* c\n */ FROM s"
    positions = {t.text: (t.line, t.column) for t in tokenize(text)}
    assert positions["SELECT"] == (1, 1)
    assert positions["a"] == (1, 8)
    assert positions["'two\nlines'"] == (2, 3)
    assert positions["AS"] == (3, 8)
    assert positions["FROM"] == (5, 5)
    assert tokenize(text)[-1][3:5] == (5, 11)


def test_start_position_shifts_only_the_first_line() -> None:
    tokens = tokenize("a b\nc", line=7, column=10)
    assert [(t.line, t.column) for t in tokens[:3]] == [(7, 10), (7, 12), (8, 1)]
