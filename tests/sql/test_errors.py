"""Malformed SQL is a SqlSyntaxError naming the line, the column and what was expected."""

from __future__ import annotations

import pytest

from headwater.errors import HeadwaterError, SqlError, SqlSyntaxError
from headwater.sql import parse, parse_expression, parse_type

#: (SQL, line, column, words the message must contain)
MALFORMED: list[tuple[str, int, int, str]] = [
    ("SELECT * FORM t;", 1, 10, "Syntax error at or near 'FORM'; expected one of ',', FROM"),
    ("SELECT a, b FORM t;", 1, 18, "Syntax error at or near 't'; expected one of ',', FROM"),
    ("SELECT FROM t;", 1, 8, "at or near 'FROM'; expected one of '*', expression"),
    ("SELEC * FROM t;", 1, 1, "at or near 'SELEC'; expected one of SELECT, CREATE, INSERT"),
    ("SHOW STREAMS\nSHOW TABLES;", 2, 1, "at or near 'SHOW'; expected one of EXTENDED, ';'"),
    ("SELECT * FROM t WHERE;", 1, 22, "at or near ';'; expected expression"),
    ("SELECT * FROM t WHERE a = ;", 1, 27, "expected expression"),
    ("SELECT * FROM t\n  WHERE a = 1\n  GROUPBY b;", 3, 3,
     "at or near 'GROUPBY'; expected one of GROUP, PARTITION, HAVING, EMIT, LIMIT"),
    ("SELECT * FROM t EMIT NOW;", 1, 22, "expected one of CHANGES, FINAL"),
    ("SELECT * FROM t LIMIT ten;", 1, 23, "expected row count"),
    ("SELECT * FROM t WINDOW TUMBLING (60 SECONDS) GROUP BY k;", 1, 34, "expected SIZE"),
    ("SELECT * FROM t WINDOW TUMBLING (SIZE 60 FORTNIGHTS) GROUP BY k;", 1, 42, "expected time unit"),
    ("SELECT * FROM t WINDOW SLIDING (SIZE 1 SECOND) GROUP BY k;", 1, 24, "expected one of TUMBLING, HOPPING, SESSION"),
    ("SELECT * FROM t WINDOW HOPPING (SIZE 1 MINUTE) GROUP BY k;", 1, 46, "expected ','"),
    ("SELECT * FROM a JOIN b WHERE a.x = b.x;", 1, 24, "expected one of AS, WITHIN, ON"),
    ("SELECT * FROM a LEFT b ON a.x = b.x;", 1, 22, "at or near 'b'; expected one of OUTER, JOIN"),
    ("SELECT CAST(a AS) FROM t;", 1, 17, "at or near ')'; expected type"),
    ("SELECT CAST(a AS DECIMAL(2, 5)) FROM t;", 1, 18, "DECIMAL precision must be >= scale"),
    ("SELECT CASE END FROM t;", 1, 13, "at or near 'END'; expected one of WHEN, expression"),
    ("SELECT a FROM t WHERE a LIKE 'x' ESCAPE '!!';", 1, 41, "Escape string must be a single character"),
    ("SELECT 'unterminated FROM t;", 1, 8, "unterminated string literal"),
    ("SELECT a FROM t WHERE b = \"x;", 1, 27, "unterminated quoted identifier"),
    ("SELECT a /* never closed FROM t;", 1, 10, "unterminated comment"),
    ("SELECT a # b FROM t;", 1, 10, "at or near '#': unexpected character"),
    ("SELECT 99999999999999999999 FROM t;", 1, 8, "Invalid numeric literal"),
    ("CREATE STREAM s (a INT, b) WITH (KAFKA_TOPIC='t');", 1, 26, "at or near ')'; expected type"),
    ("CREATE STREAM s (a INT PRIMARY) WITH (KAFKA_TOPIC='t');", 1, 31, "expected KEY"),
    ("CREATE STREAM s (a INT) WITH (KAFKA_TOPIC=t);", 1, 43, "at or near 't'; expected literal"),
    ("CREATE STREAM s (a INT) WITH (KAFKA_TOPIC='t', kafka_topic='u');", 1, 48, "Duplicate property 'KAFKA_TOPIC'"),
    ("CREATE STREEM s (a INT);", 1, 8, "expected one of OR, TYPE, SINK, SOURCE, STREAM, TABLE"),
    ("CREATE STREAM s AS SELECT * FROM t WHERE GROUP BY k;", 1, 42, "at or near 'GROUP'; expected expression"),
    ("CREATE SINK CONNECTOR c ('a'='b');", 1, 25, "at or near '('; expected WITH"),
    ("DROP STREAM IF s;", 1, 16, "expected EXISTS"),
    ("DROP VIEW v;", 1, 6, "expected one of STREAM, TABLE, CONNECTOR, TYPE"),
    ("INSERT INTO t (a, b) SELECT * FROM s;", 1, 22, "at or near 'SELECT'; expected VALUES"),
    ("INSERT t VALUES (1);", 1, 8, "expected INTO"),
    ("SET auto.offset.reset = 'earliest';", 1, 5, "expected property name"),
    ("SHOW EVERYTHING;", 1, 6, "at or near 'EVERYTHING'; expected one of PROPERTIES"),
    ("TERMINATE;", 1, 10, "expected one of ALL, query id"),
    ("PRINT t FROM START;", 1, 14, "expected BEGINNING"),
    ("SELECT a[1 FROM t;", 1, 12, "at or near 'FROM'; expected ']'"),
    ("SELECT f(a, FROM t;", 1, 13, "expected expression"),
    ("SELECT a FROM t WHERE a IN 1, 2;", 1, 28, "expected '('"),
    ("SELECT a FROM t WHERE a IS 5;", 1, 28, "at or near '5'; expected one of NOT, NULL, DISTINCT"),
    ("SELECT MAP('a' = 1) FROM t;", 1, 19, "at or near ')'; expected ':='"),
    ("SELECT * FROM s JOIN t WITHIN 5 ON s.a = t.a;", 1, 33, "expected time unit"),
    ("SELECT a, FROM s;", 1, 11, "expected one of '*', expression"),
]


@pytest.mark.parametrize(("sql", "line", "column", "message"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_statement(sql: str, line: int, column: int, message: str) -> None:
    with pytest.raises(SqlSyntaxError) as caught:
        parse(sql)
    error = caught.value
    assert (error.line, error.column) == (line, column), str(error)
    assert message in str(error)
    assert str(error).startswith(f"line {line}:{column}: ")


def test_end_of_input_is_named() -> None:
    with pytest.raises(SqlSyntaxError) as caught:
        parse("SELECT * FROM")
    assert str(caught.value) == "line 1:14: Syntax error at or near '<EOF>'; expected stream or table name"


def test_trailing_text_after_an_expression() -> None:
    with pytest.raises(SqlSyntaxError) as caught:
        parse_expression("a + b c")
    assert (caught.value.line, caught.value.column) == (1, 7)
    assert "expected end of input" in str(caught.value)


def test_type_errors() -> None:
    with pytest.raises(SqlSyntaxError) as caught:
        parse_type("MAP<STRING>")
    assert (caught.value.line, caught.value.column) == (1, 11)
    assert "expected ','" in str(caught.value)


def test_syntax_errors_are_headwater_sql_errors() -> None:
    with pytest.raises(SqlError):
        parse("nonsense")
    with pytest.raises(HeadwaterError):
        parse("nonsense")
