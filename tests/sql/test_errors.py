"""Malformed SQL is a SqlSyntaxError naming the line, the column and, in ksqlDB's ANTLR wording, what was expected."""

from __future__ import annotations

import pytest

from headwater.errors import HeadwaterError, SqlError, SqlSyntaxError
from headwater.sql import parse, parse_expression, parse_type

#: (SQL, line, column, words the message must contain)
MALFORMED: list[tuple[str, int, int, str]] = [
    ("SELECT * FORM t;", 1, 10, "Syntax Error\nmismatched input 'FORM' expecting {',', 'FROM'}"),
    ("SELECT a, b FORM t;", 1, 18, "mismatched input 't' expecting {',', 'FROM'}"),
    ("SELECT FROM t;", 1, 8, '"FROM" is a reserved keyword and it can\'t be used as an identifier. '
     "You can use it as an identifier by escaping it as `FROM`"),
    ("SELEC * FROM t;", 1, 1, "Syntax Error\nUnknown statement 'SELEC'\nDid you mean 'SELECT'?"),
    ("SHOW STREAMS\nSHOW TABLES;", 2, 1, "missing ';' at 'SHOW'"),
    ("SELECT * FROM t WHERE;", 1, 22, "mismatched input ';' expecting expression"),
    ("SELECT * FROM t WHERE a = ;", 1, 27, "mismatched input ';' expecting expression"),
    ("SELECT * FROM t\n  WHERE a = 1\n  GROUPBY b;", 3, 3,
     "mismatched input 'GROUPBY' expecting {'GROUP', 'PARTITION', 'HAVING', 'EMIT', 'LIMIT'"),
    ("SELECT * FROM t EMIT NOW;", 1, 22, "expecting {'CHANGES', 'FINAL'}"),
    ("SELECT * FROM t LIMIT ten;", 1, 23, "mismatched input 'ten' expecting row count"),
    ("SELECT * FROM t WINDOW TUMBLING (60 SECONDS) GROUP BY k;", 1, 34, "expecting 'SIZE'"),
    ("SELECT * FROM t WINDOW TUMBLING (SIZE 60 FORTNIGHTS) GROUP BY k;", 1, 42, "expecting time unit"),
    ("SELECT * FROM t WINDOW SLIDING (SIZE 1 SECOND) GROUP BY k;", 1, 24, "expecting {'TUMBLING', 'HOPPING', 'SESSION'}"),
    ("SELECT * FROM t WINDOW HOPPING (SIZE 1 MINUTE) GROUP BY k;", 1, 46, "expecting ','"),
    ("SELECT * FROM a JOIN b WHERE a.x = b.x;", 1, 24, "mismatched input 'WHERE' expecting {'AS', 'WITHIN', 'ON'}"),
    ("SELECT * FROM a LEFT b ON a.x = b.x;", 1, 22, "mismatched input 'b' expecting {'OUTER', 'JOIN'}"),
    ("SELECT CAST(a AS) FROM t;", 1, 17, "mismatched input ')' expecting type"),
    ("SELECT CAST(a AS DECIMAL(2, 5)) FROM t;", 1, 18, "DECIMAL precision must be >= scale"),
    ("SELECT CASE END FROM t;", 1, 13, "mismatched input 'END' expecting {'WHEN', expression}"),
    ("SELECT a FROM t WHERE a LIKE 'x' ESCAPE '!!';", 1, 41, "Escape string must be a single character"),
    ("SELECT 'unterminated FROM t;", 1, 8, "extraneous input ''' expecting {'*', expression}"),
    ("SELECT a FROM t WHERE b = \"x;", 1, 27, "extraneous input '\"' expecting expression"),
    ("SELECT a /* never closed FROM t;", 1, 11, "extraneous input '*' expecting expression"),
    ("SELECT a # b FROM t;", 1, 10, "mismatched input '#' expecting {'AS', ',', 'FROM'}"),
    ("SELECT 99999999999999999999 FROM t;", 1, 8, "Invalid numeric literal"),
    ("CREATE STREAM s (a INT, b) WITH (KAFKA_TOPIC='t');", 1, 26, "mismatched input ')' expecting type"),
    ("CREATE STREAM s (a INT PRIMARY) WITH (KAFKA_TOPIC='t');", 1, 31, "mismatched input ')' expecting 'KEY'"),
    ("CREATE STREAM s (a INT) WITH (KAFKA_TOPIC=t);", 1, 43, "mismatched input 't' expecting literal"),
    ("CREATE STREAM s (a INT) WITH (KAFKA_TOPIC='t', kafka_topic='u');", 1, 48, "Duplicate property 'KAFKA_TOPIC'"),
    ("CREATE STREEM s (a INT);", 1, 8, "Syntax Error\nno viable alternative at input 'CREATE STREEM'"),
    ("CREATE STREAM s AS SELECT * FROM t WHERE GROUP BY k;", 1, 42, "mismatched input 'GROUP' expecting expression"),
    ("CREATE SINK CONNECTOR c ('a'='b');", 1, 25, "mismatched input '(' expecting 'WITH'"),
    ("DROP STREAM IF s;", 1, 16, "mismatched input 's' expecting 'EXISTS'"),
    ("DROP VIEW v;", 1, 6, "no viable alternative at input 'DROP VIEW'"),
    ("INSERT INTO t (a, b) SELECT * FROM s;", 1, 22, "mismatched input 'SELECT' expecting 'VALUES'"),
    ("INSERT t VALUES (1);", 1, 8, "no viable alternative at input 'INSERT t'"),
    ("SET auto.offset.reset = 'earliest';", 1, 5, "mismatched input 'auto' expecting property name"),
    ("SHOW EVERYTHING;", 1, 6, "no viable alternative at input 'SHOW EVERYTHING'"),
    ("TERMINATE;", 1, 10, "mismatched input ';' expecting {'ALL', query id}"),
    ("PRINT t FROM START;", 1, 14, "expecting 'BEGINNING'"),
    ("SELECT a[1 FROM t;", 1, 12, "mismatched input 'FROM' expecting ']'"),
    ("SELECT f(a, FROM t;", 1, 13, '"FROM" is a reserved keyword'),
    ("SELECT a FROM t WHERE a IN 1, 2;", 1, 28, "mismatched input '1' expecting '('"),
    ("SELECT a FROM t WHERE a IS 5;", 1, 28, "mismatched input '5' expecting {'NOT', 'NULL', 'DISTINCT'}"),
    ("SELECT MAP('a' = 1) FROM t;", 1, 19, "mismatched input ')' expecting ':='"),
    ("SELECT * FROM s JOIN t WITHIN 5 ON s.a = t.a;", 1, 33, "expecting time unit"),
    ("SELECT a, FROM s;", 1, 11, '"FROM" is a reserved keyword'),
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
    assert str(caught.value) == "line 1:14: Syntax Error\nmismatched input '<EOF>' expecting stream or table name"


def test_trailing_text_after_an_expression() -> None:
    with pytest.raises(SqlSyntaxError) as caught:
        parse_expression("a + b c")
    assert (caught.value.line, caught.value.column) == (1, 7)
    assert "extraneous input 'c' expecting <EOF>" in str(caught.value)


def test_type_errors() -> None:
    with pytest.raises(SqlSyntaxError) as caught:
        parse_type("MAP<STRING>")
    assert (caught.value.line, caught.value.column) == (1, 11)
    assert "mismatched input '>' expecting ','" in str(caught.value)


def test_syntax_errors_are_headwater_sql_errors() -> None:
    with pytest.raises(SqlError):
        parse("nonsense")
    with pytest.raises(HeadwaterError):
        parse("nonsense")


def test_no_viable_alternative_shows_the_statement_so_far() -> None:
    with pytest.raises(SqlSyntaxError) as caught:
        parse("DESCRIBE;")
    assert str(caught.value) == "line 1:9: Syntax Error\nno viable alternative at input 'DESCRIBE;'"
    with pytest.raises(SqlSyntaxError) as caught:
        parse("CREATE  /* x */ STREEM s (a INT);")
    assert "no viable alternative at input 'CREATE STREEM'" in str(caught.value)
