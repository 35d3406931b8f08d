"""The parser turns each statement and expression form into the AST it stands for."""

from __future__ import annotations

import pytest

from headwater.sql import ast, parse, parse_expression, parse_statement
from tests.sql.cases import EXPRESSIONS, STATEMENTS


@pytest.mark.parametrize(("sql", "expected"), STATEMENTS, ids=[s for s, _ in STATEMENTS])
def test_statement(sql: str, expected: ast.Statement) -> None:
    assert parse_statement(sql) == expected


@pytest.mark.parametrize(("sql", "expected"), EXPRESSIONS, ids=[s for s, _ in EXPRESSIONS])
def test_expression(sql: str, expected: ast.Expression) -> None:
    assert parse_expression(sql) == expected


def test_keywords_are_case_insensitive() -> None:
    lower = parse_statement("select * from s where a is not null emit changes limit 1")
    upper = parse_statement("SELECT * FROM S WHERE A IS NOT NULL EMIT CHANGES LIMIT 1")
    assert lower == upper


def test_quoted_identifiers_keep_case_and_may_be_keywords() -> None:
    statement = parse_statement('SELECT `from`, "Select" AS `Weird ``name```  FROM `my-stream`')
    assert statement == ast.Query(
        (ast.SingleColumn(ast.ColumnRef("from")), ast.SingleColumn(ast.ColumnRef("Select"), "Weird `name`")),
        ast.AliasedRelation("my-stream"),
    )


def test_many_statements_with_comments_and_optional_last_semicolon() -> None:
    statements = parse(
        """
        -- a comment; with a semicolon
        SHOW STREAMS; /* block
        comment ; */ SHOW TABLES;;
        DESCRIBE s
        """
    )
    assert statements == [ast.Show(ast.ShowKind.STREAMS), ast.Show(ast.ShowKind.TABLES), ast.DescribeSource("S")]


def test_positions_are_line_and_column_of_the_first_token() -> None:
    statements = parse("SHOW STREAMS;\n  SELECT a,\n    b + 1 AS c FROM s;")
    assert (statements[0].pos.line, statements[0].pos.column) == (1, 1)
    query = statements[1]
    assert isinstance(query, ast.Query)
    assert (query.pos.line, query.pos.column) == (2, 3)
    item = query.select[1]
    assert isinstance(item, ast.SingleColumn)
    assert (item.pos.line, item.pos.column) == (3, 5)
    assert isinstance(item.expression, ast.BinaryOp)
    assert (item.expression.right.pos.line, item.expression.right.pos.column) == (3, 9)
    assert isinstance(query.from_, ast.AliasedRelation)
    assert (query.from_.pos.line, query.from_.pos.column) == (3, 21)


def test_positions_are_offset_by_the_start_of_the_text() -> None:
    statement = parse_statement("SELECT a\nFROM s", line=10, column=5)
    assert isinstance(statement, ast.Query)
    assert (statement.pos.line, statement.pos.column) == (10, 5)
    assert (statement.from_.pos.line, statement.from_.pos.column) == (11, 6)


def test_every_node_below_a_statement_has_a_position() -> None:
    statement = parse_statement(
        "CREATE TABLE t AS SELECT c.k, COUNT(*) AS n FROM s c JOIN u ON c.k = u.k "
        "WINDOW TUMBLING (SIZE 1 MINUTE) WHERE CASE WHEN a THEN b END GROUP BY c.k HAVING COUNT(*) > 1"
    )
    unplaced = [node for node in ast.walk(statement) if node.pos.line == 0]
    assert unplaced == []


def test_with_property_values_as_python_values() -> None:
    statement = parse_statement("CREATE STREAM s (a INT) WITH (KAFKA_TOPIC='t', PARTITIONS=3, WRAP_SINGLE_VALUE=true)")
    assert isinstance(statement, ast.CreateSource)
    assert ast.property_values(statement.properties) == {"KAFKA_TOPIC": "t", "PARTITIONS": 3, "WRAP_SINGLE_VALUE": True}
    assert list(statement.properties) == ["KAFKA_TOPIC", "PARTITIONS", "WRAP_SINGLE_VALUE"]


def test_column_ref_knows_pseudo_columns() -> None:
    assert ast.ColumnRef("ROWTIME").is_pseudo
    assert ast.ColumnRef("WINDOWEND").is_pseudo
    assert not ast.ColumnRef("rowtime").is_pseudo  # quoted lower-case is an ordinary column
    assert not ast.ColumnRef("USERID").is_pseudo


def test_duration_in_milliseconds() -> None:
    statement = parse_statement("SELECT * FROM s WINDOW HOPPING (SIZE 1 HOUR, ADVANCE BY 90 SECONDS) GROUP BY k")
    assert isinstance(statement, ast.Query)
    window = statement.window
    assert isinstance(window, ast.HoppingWindow)
    assert (window.size.millis, window.advance.millis) == (3_600_000, 90_000)


def test_nodes_hash_and_compare_without_positions() -> None:
    a = parse_expression("x + 1")
    b = parse_expression("  x   +   1")
    assert a == b and hash(a) == hash(b)
    assert a.pos != b.pos or a.pos.column == b.pos.column


@pytest.mark.parametrize(
    ("sql", "line", "column"),
    [
        ("x\n  AND y", 1, 1),
        ("  a + b * c", 1, 3),
        ("NOT a", 1, 1),
        ("-a", 1, 1),
        ("-5", 1, 1),
        ("(a) = b", 1, 2),
        ("payload->after->id", 1, 1),
        ("f(x)[1]", 1, 1),
        ("CASE WHEN a THEN b END", 1, 1),
    ],
)
def test_expression_position_is_its_first_token(sql: str, line: int, column: int) -> None:
    expression = parse_expression(sql)
    assert (expression.pos.line, expression.pos.column) == (line, column)
