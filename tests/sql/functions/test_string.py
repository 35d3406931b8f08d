"""String, mask, regular-expression and bytes functions, evaluated in DuckDB."""

from __future__ import annotations

from typing import Any

import pytest

from headwater.sql import types as ty
from tests.sql.functions.harness import check, ids

CASES: list[tuple[str, Any]] = [
    # CHR
    ("CHR(75)", "K"),
    ("CHR('\\u004b')", "K"),
    ("CHR(22909)", "好"),
    ("CHR('\\u597d')", "好"),
    ("CHR(-1)", None),
    ("CHR('K')", None),
    ("CHR(NI)", None),
    # CONCAT / CONCAT_WS / ||
    ("CONCAT('a', 'b', 'c')", "abc"),
    ("CONCAT(S, '!', NS)", "hello world!"),
    ("CONCAT(NS, NS)", ""),
    ("CONCAT(TO_BYTES('AB', 'hex'), TO_BYTES('CD', 'hex'))", b"\xab\xcd"),
    ("CONCAT(BYT, NBYT)", b"\x00\x01\xff"),
    ("'a' || 'b' || NS", "ab"),
    ("S + '!'", "hello world!"),
    ("S + NS", None),
    ("CONCAT_WS(', ', 'a', NS, 'b')", "a, b"),
    ("CONCAT_WS(NS, 'a', 'b')", None),
    ("CONCAT_WS(TO_BYTES('00', 'hex'), TO_BYTES('01', 'hex'), TO_BYTES('02', 'hex'))", b"\x01\x00\x02"),
    # ELT / FIELD
    ("ELT(2, 'a', 'b', 'c')", "b"),
    ("ELT(4, 'a', 'b', 'c')", None),
    ("ELT(0, 'a')", None),
    ("ELT(-1, 'a', 'b')", None),
    ("FIELD('b', 'a', 'b', 'c')", 2),
    ("FIELD('z', 'a', 'b')", 0),
    ("FIELD(NS, 'a', NS)", 0),
    # INITCAP
    ("INITCAP('the quick BROWN fox')", "The Quick Brown Fox"),
    ("INITCAP(NS)", None),
    ("INITCAP('')", ""),
    # INSTR
    ("INSTR('CORPORATE FLOOR', 'OR')", 2),
    ("INSTR('CORPORATE FLOOR', 'OR', 3)", 5),
    ("INSTR('CORPORATE FLOOR', 'OR', 3, 2)", 14),
    ("INSTR('CORPORATE FLOOR', 'OR', -3)", 5),
    ("INSTR('CORPORATE FLOOR', 'OR', -3, 2)", 2),
    ("INSTR('CORPORATE FLOOR', 'MISSING')", 0),
    ("INSTR('aaa', 'aa', 1, 2)", 2),
    ("INSTR(NS, 'a')", 0),
    # LCASE / UCASE / LEN
    ("LCASE('Hello')", "hello"),
    ("UCASE(S)", "HELLO WORLD"),
    ("UCASE(NS)", None),
    ("LEN(S)", 11),
    ("LEN('')", 0),
    ("LEN(BYT)", 3),
    ("LEN(NS)", None),
    # LPAD / RPAD
    ("LPAD('Foo', 7, 'Bar')", "BarBFoo"),
    ("LPAD('Foo', 2, 'Bar')", "Fo"),
    ("LPAD('Foo', 5, '')", None),
    ("LPAD('Foo', -1, 'x')", None),
    ("LPAD(NS, 5, 'x')", None),
    ("RPAD('Foo', 7, 'Bar')", "FooBarB"),
    ("RPAD('Foo', 1, 'Bar')", "F"),
    ("LPAD(TO_BYTES('AB', 'hex'), 3, TO_BYTES('00', 'hex'))", b"\x00\x00\xab"),
    ("RPAD(TO_BYTES('AB', 'hex'), 2, TO_BYTES('FF', 'hex'))", b"\xab\xff"),
    # MD5, REPLACE
    ("MD5('a')", "0cc175b9c0f1b6a831c399e269772661"),
    ("REPLACE('Hello World', 'o', '0')", "Hell0 W0rld"),
    ("REPLACE(S, NS, 'x')", None),
    # SPLIT / SPLIT_TO_MAP
    ("SPLIT('a,b,,c', ',')", ["a", "b", "", "c"]),
    ("SPLIT('abc', '')", ["a", "b", "c"]),
    ("SPLIT('', ',')", [""]),
    ("SPLIT(NS, ',')", None),
    ("SPLIT_TO_MAP('apple=1;banana=2', ';', '=')", {"apple": "1", "banana": "2"}),
    ("SPLIT_TO_MAP('a=1;b;;a=3', ';', '=')", {"a": "3"}),
    ("SPLIT_TO_MAP('a=1=2', ';', '=')", {"a": "1"}),
    ("SPLIT_TO_MAP('a=1', '', '=')", None),
    ("SPLIT_TO_MAP('a=1', '=', '=')", None),
    ("SPLIT_TO_MAP(NS, ';', '=')", None),
    # SUBSTRING: 1-based, negative from the end, clamped.
    ("SUBSTRING('Hello World', 7)", "World"),
    ("SUBSTRING('Hello World', 2, 4)", "ello"),
    ("SUBSTRING('Hello World', -5)", "World"),
    ("SUBSTRING('Hello World', -5, 2)", "Wo"),
    ("SUBSTRING('Hello', 0, 2)", "He"),
    ("SUBSTRING('Hello', 10)", ""),
    ("SUBSTRING('Hello', -10, 3)", "Hel"),
    ("SUBSTRING('Hello', 2, -1)", ""),
    ("SUBSTRING(NS, 1)", None),
    ("SUBSTRING(BYT, 2)", b"\x01\xff"),
    ("SUBSTRING(BYT, -1, 1)", b"\xff"),
    # TRIM: Java's String.trim
    ("TRIM('  hi  ')", "hi"),
    ("TRIM(CONCAT(CHR(9), 'hi', CHR(10)))", "hi"),
    ("TRIM(NS)", None),
    ("LEN(UUID())", 36),
    ("UUID() = UUID()", False),
    # MASK family
    ("MASK('AbCd#$123xy Z')", "XxXx--nnnxx-X"),
    ("MASK('AbCd#$123xy Z', '*', '-', '.', '=')", "*-*-==...--=*"),
    ("MASK('AbCd#$123xy Z', NULL, NULL, '#', NULL)", "AbCd#$###xy Z"),
    ("MASK(NS)", None),
    ("MASK_KEEP_LEFT('AbCd#$123xy Z', 5)", "AbCd#-nnnxx-X"),
    ("MASK_KEEP_LEFT('AbCd#$123xy Z', 5, '*', '-', '.', '=')", "AbCd#=...--=*"),
    ("MASK_KEEP_RIGHT('AbCd#$123xy Z', 5)", "XxXx--nn3xy Z"),
    ("MASK_LEFT('AbCd#$123xy Z', 5)", "XxXx-$123xy Z"),
    ("MASK_LEFT('AbCd#$123xy Z', 5, '*', '-', '.', '=')", "*-*-=$123xy Z"),
    ("MASK_RIGHT('AbCd#$123xy Z', 5)", "AbCd#$12nxx-X"),
    ("MASK_RIGHT('ab', 5)", "xx"),
    ("MASK_LEFT('ab', -1)", None),
    # regular expressions
    ("REGEXP_EXTRACT('.*', 'helloworld')", "helloworld"),
    ("REGEXP_EXTRACT('(([AEIOU]).)', 'aBcDeFgH', 1)", None),
    ("REGEXP_EXTRACT('(([aeiou]).)', 'aBcDeFgH', 2)", "a"),
    ("REGEXP_EXTRACT('x', 'abc')", None),
    ("REGEXP_EXTRACT('b', NS)", None),
    ("REGEXP_EXTRACT_ALL('\\d+', 'a1b22c333')", ["1", "22", "333"]),
    ("REGEXP_EXTRACT_ALL('(\\w)(\\d)', 'a1 b2 c3', 2)", ["1", "2", "3"]),
    ("REGEXP_EXTRACT_ALL('x', 'abc')", []),
    ("REGEXP_REPLACE('aabbcc', '(b+)', '<$1>')", "aa<bb>cc"),
    ("REGEXP_REPLACE('a.b.c', '\\.', '\\$')", "a$b$c"),
    ("REGEXP_REPLACE('abc', 'x', 'y')", "abc"),
    ("REGEXP_REPLACE(NS, 'x', 'y')", None),
    ("REGEXP_SPLIT_TO_ARRAY('a1b22c', '\\d+')", ["a", "b", "c"]),
    ("REGEXP_SPLIT_TO_ARRAY('a,b,,', ',')", ["a", "b", "", ""]),
    ("REGEXP_SPLIT_TO_ARRAY(NS, ',')", None),
    # bytes
    ("TO_BYTES('4D4B4B', 'hex')", b"MKK"),
    ("TO_BYTES('ksql', 'utf8')", b"ksql"),
    ("TO_BYTES('ksql', 'ASCII')", b"ksql"),
    ("TO_BYTES('a3NxbA==', 'base64')", b"ksql"),
    ("TO_BYTES('zz', 'hex')", None),
    ("TO_BYTES(NS, 'hex')", None),
    ("FROM_BYTES(TO_BYTES('ksql', 'utf8'), 'hex')", "6B73716C"),
    ("FROM_BYTES(BYT, 'base64')", "AAH/"),
    ("FROM_BYTES(TO_BYTES('6B73716C', 'hex'), 'utf8')", "ksql"),
    ("FROM_BYTES(TO_BYTES('FF', 'hex'), 'utf8')", None),
    ("FROM_BYTES(BYT, S)", None),
    ("ENCODE('ksql', 'utf8', 'base64')", "a3NxbA=="),
    ("ENCODE('a3NxbA==', 'base64', 'hex')", "6b73716c"),
    ("ENCODE('6b73716c', 'hex', 'utf8')", "ksql"),
    ("ENCODE(NS, 'utf8', 'hex')", None),
    ("INT_FROM_BYTES(TO_BYTES('0000FFFF', 'hex'))", 65535),
    ("INT_FROM_BYTES(TO_BYTES('FFFFFFFF', 'hex'))", -1),
    ("INT_FROM_BYTES(TO_BYTES('FFFF0000', 'hex'), 'LITTLE_ENDIAN')", 65535),
    ("INT_FROM_BYTES(TO_BYTES('00FF', 'hex'))", None),
    ("INT_FROM_BYTES(NBYT)", None),
    ("BIGINT_FROM_BYTES(TO_BYTES('0000000000000101', 'hex'))", 257),
    ("BIGINT_FROM_BYTES(TO_BYTES('FEFFFFFFFFFFFFFF', 'hex'), 'LITTLE_ENDIAN')", -2),
    ("BIGINT_FROM_BYTES(TO_BYTES('8000000000000000', 'hex'))", -9223372036854775808),
    ("DOUBLE_FROM_BYTES(TO_BYTES('400921FB54442D18', 'hex'))", 3.141592653589793),
    ("DOUBLE_FROM_BYTES(TO_BYTES('182D4454FB210940', 'hex'), 'LITTLE_ENDIAN')", 3.141592653589793),
    ("DOUBLE_FROM_BYTES(TO_BYTES('C000000000000000', 'hex'))", -2.0),
    ("DOUBLE_FROM_BYTES(TO_BYTES('0000000000000001', 'hex'))", 5e-324),
    ("DOUBLE_FROM_BYTES(TO_BYTES('7FF0000000000000', 'hex'))", float("inf")),
    ("DOUBLE_FROM_BYTES(TO_BYTES('7FF8000000000000', 'hex'))", float("nan")),
    ("DOUBLE_FROM_BYTES(TO_BYTES('0000000000000000', 'hex'))", 0.0),
]


@pytest.mark.parametrize(("expression", "expected"), CASES, ids=ids(CASES))
def test_string_function(con, expression: str, expected: Any) -> None:
    check(con, expression, expected)


COLUMN_CASES: list[tuple[str, dict, Any]] = [
    ("INSTR(V, 'b', P)", {"V": (ty.STRING, "abcabc"), "P": (ty.INTEGER, -1)}, 5),
    ("ARRAY_SORT(SPLIT(V, ','), P2)", {"V": (ty.STRING, "b,a"), "P2": (ty.STRING, "desc")}, ["b", "a"]),
    ("FROM_BYTES(TO_BYTES(V, E), E)", {"V": (ty.STRING, "aGk="), "E": (ty.STRING, "BASE64")}, "aGk="),
    ("REGEXP_REPLACE(V, 'a', R)", {"V": (ty.STRING, "aXa"), "R": (ty.STRING, "b")}, "bXb"),
]


@pytest.mark.parametrize(("expression", "columns", "expected"), COLUMN_CASES, ids=ids(COLUMN_CASES))
def test_string_function_of_columns(con, expression: str, columns: dict, expected: Any) -> None:
    check(con, expression, expected, columns)
