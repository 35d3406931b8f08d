"""Formatting: canonical ksqlDB text that parses back to the same AST."""

from __future__ import annotations

from pathlib import Path

import pytest

from headwater.sql import ast, format_expression, format_statement, parse_expression, parse_script, parse_statement
from tests.sql.cases import EXPRESSIONS, STATEMENTS

DATA = Path(__file__).parent / "data"
SCRIPT_STATEMENTS = [
    piece.text for path in sorted(DATA.iterdir()) for piece in parse_script(path.read_text())
]

#: Expressions that are easy to format wrongly.
TRICKY_EXPRESSIONS = [
    "- -5",
    "-(-a)",
    "a - -1",
    "-a[1]",
    "(-a)[1]",
    "-5[1]",
    "1.",
    "-0.0",
    "1e300",
    "-2.5E-7",
    "`select` + `Mixed Case` + `back``tick`",
    "`ROWTIME`",
    "`rowtime`",
    "`SIZE` + `TABLE` + `SECONDS` + `DAY`",
    "DATEADD(`DAY`, 1, d)",
    "f(`SECONDS`)",
    "`my func`(1)",
    "TRANSFORM(a, `Weird x` => `Weird x` + 1)",
    "NOT NOT a",
    "a = (b = c)",
    "(a = b) IS NULL",
    "(a BETWEEN 1 AND 2) BETWEEN (b = c) AND (NOT d)",
    "CASE WHEN a THEN CASE b WHEN 1 THEN 2 END END",
    "'quote''s' || ''",
    "s->`field name`->x",
    "CAST(x AS STRUCT<`a b` INT, `SELECT` ARRAY<MAP<STRING, DECIMAL(3, 1)>>>)",
    "ts AT TIME ZONE 'Europe/Paris' > 1",
    "MAP()",
    "STRUCT()",
    "a LIKE b ESCAPE ''''",
]


def _round_trip(statement: ast.Statement) -> None:
    text = format_statement(statement)
    assert parse_statement(text) == statement, text
    assert format_statement(parse_statement(text)) == text


@pytest.mark.parametrize("sql", [s for s, _ in STATEMENTS] + SCRIPT_STATEMENTS)
def test_statement_round_trip(sql: str) -> None:
    _round_trip(parse_statement(sql))


@pytest.mark.parametrize("sql", [s for s, _ in EXPRESSIONS] + TRICKY_EXPRESSIONS)
def test_expression_round_trip(sql: str) -> None:
    expression = parse_expression(sql)
    text = format_expression(expression)
    assert parse_expression(text) == expression, text


#: (SQL, canonical text)
CANONICAL: list[tuple[str, str]] = [
    (
        "create stream clickstream (_time bigint, time varchar, ip varchar key) "
        "with (kafka_topic='clickstream', value_format='json')",
        "CREATE STREAM CLICKSTREAM (_TIME BIGINT, TIME STRING, IP STRING KEY) "
        "WITH (KAFKA_TOPIC='clickstream', VALUE_FORMAT='json');",
    ),
    (
        "CREATE TABLE events_per_min AS SELECT userid as k1, AS_VALUE(userid) as userid, WINDOWSTART as EVENT_TS, "
        "count(*) AS events FROM clickstream window TUMBLING (size 60 second) GROUP BY userid;",
        "CREATE TABLE EVENTS_PER_MIN AS SELECT USERID AS K1, AS_VALUE(USERID) AS USERID, WINDOWSTART AS EVENT_TS, "
        "COUNT(*) AS EVENTS FROM CLICKSTREAM WINDOW TUMBLING (SIZE 60 SECONDS) GROUP BY USERID;",
    ),
    (
        "select * from s where a > 1 and not b or c is not null emit changes",
        "SELECT * FROM S WHERE (((A > 1) AND (NOT B)) OR (C IS NOT NULL)) EMIT CHANGES;",
    ),
    (
        "SELECT * FROM a JOIN b WITHIN (1 hour, 2 hours) GRACE PERIOD 1 minute ON a.id = b.id",
        "SELECT * FROM A INNER JOIN B WITHIN (1 HOURS, 2 HOURS) GRACE PERIOD 1 MINUTES ON (A.ID = B.ID);",
    ),
    ("SELECT `TIME`, `time`, \"Count\" FROM `select`", "SELECT TIME, `time`, `Count` FROM `select`;"),
    ("print 'my-topic' from beginning limit 2", "PRINT 'my-topic' FROM BEGINNING LIMIT 2;"),
    ("CREATE SOURCE CONNECTOR c WITH (\"connector.class\"='x')",
     "CREATE SOURCE CONNECTOR C WITH ('connector.class'='x');"),
    ("CREATE SINK CONNECTOR c WITH ('connector.class'='x', 'tasks.max'=1)",
     "CREATE SINK CONNECTOR C WITH ('connector.class'='x', 'tasks.max'=1);"),
    ("INSERT INTO s VALUES (1.5E3, 1.50, -1)", "INSERT INTO S VALUES (1500.0E0, 1.50, -1);"),
]


@pytest.mark.parametrize(("sql", "canonical"), CANONICAL, ids=[c for _, c in CANONICAL])
def test_canonical_text(sql: str, canonical: str) -> None:
    assert format_statement(parse_statement(sql)) == canonical
