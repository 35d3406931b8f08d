"""Scripts: statement splitting with positions, ${var} substitution, DEFINE in order."""

from __future__ import annotations

import pytest

from headwater.errors import SqlSyntaxError
from headwater.sql import ast, parse_script, split_statements, substitute_variables


def test_split_keeps_text_and_start_positions() -> None:
    script = "SHOW STREAMS;\n-- comment; with semicolon\n  CREATE STREAM s (a VARCHAR)\n  WITH (KAFKA_TOPIC='a;b');"
    pieces = split_statements(script)
    assert [p.text for p in pieces] == [
        "SHOW STREAMS;",
        "CREATE STREAM s (a VARCHAR)\n  WITH (KAFKA_TOPIC='a;b');",
    ]
    assert [(p.line, p.column) for p in pieces] == [(1, 1), (3, 3)]
    assert script[pieces[1].offset :].startswith("CREATE STREAM")


@pytest.mark.parametrize(
    ("script", "texts"),
    [
        ("", []),
        ("  -- only a comment\n", []),
        (";;  ;", []),
        ("SHOW TABLES", ["SHOW TABLES"]),
        ("SHOW TABLES ;  SHOW TOPICS  \n", ["SHOW TABLES ;", "SHOW TOPICS"]),
        ("SELECT ';' AS `;`, \";\" FROM s; /* ; */ SHOW TYPES;", ["SELECT ';' AS `;`, \";\" FROM s;", "SHOW TYPES;"]),
        ("SELECT 'x'';y' FROM s;SHOW TYPES;", ["SELECT 'x'';y' FROM s;", "SHOW TYPES;"]),
    ],
)
def test_split_cases(script: str, texts: list[str]) -> None:
    assert [p.text for p in split_statements(script)] == texts


@pytest.mark.parametrize(
    ("text", "variables", "expected"),
    [
        ("CREATE STREAM ${name} (a INT)", {"name": "clicks"}, "CREATE STREAM clicks (a INT)"),
        ("WITH (value_format='${format}', partitions=${p})", {"FORMAT": "JSON", "p": "3"},
         "WITH (value_format='JSON', partitions=3)"),
        ("SELECT '${v}' FROM s", {"v": "it's"}, "SELECT 'it''s' FROM s"),
        ("SELECT `${v}` FROM s", {"v": "a`b"}, "SELECT `a``b` FROM s"),
        ("SELECT '$${literal}' FROM s", {}, "SELECT '${literal}' FROM s"),
        ("SELECT a -- ${undefined} is fine in a comment\nFROM s", {},
         "SELECT a -- ${undefined} is fine in a comment\nFROM s"),
        ("SELECT ${A}${b} FROM s", {"a": "x", "B": "y"}, "SELECT xy FROM s"),
        ("SELECT cost$ FROM s", {}, "SELECT cost$ FROM s"),
    ],
)
def test_substitute_variables(text: str, variables: dict[str, str], expected: str) -> None:
    assert substitute_variables(text, variables) == expected


def test_undefined_variable_is_an_error_at_its_position() -> None:
    with pytest.raises(SqlSyntaxError) as caught:
        substitute_variables("SELECT a\nFROM ${missing}", {"other": "x"})
    assert (caught.value.line, caught.value.column) == (2, 6)
    assert "Variable 'missing' is not defined" in str(caught.value)


def test_parse_script_applies_define_and_undefine_in_order() -> None:
    script = """
        DEFINE topic = 'clicks';
        DEFINE fmt = 'JSON';
        CREATE STREAM s (a INT) WITH (KAFKA_TOPIC='${topic}', VALUE_FORMAT='${fmt}');
        UNDEFINE topic;
        SHOW VARIABLES;
    """
    parsed = parse_script(script)
    create = parsed[2]
    assert create.text == "CREATE STREAM s (a INT) WITH (KAFKA_TOPIC='clicks', VALUE_FORMAT='JSON');"
    assert isinstance(create.statement, ast.CreateSource)
    assert ast.property_values(create.statement.properties) == {"KAFKA_TOPIC": "clicks", "VALUE_FORMAT": "JSON"}
    with pytest.raises(SqlSyntaxError, match="Variable 'topic' is not defined"):
        parse_script(script + "DROP STREAM ${topic};")


def test_parse_script_takes_session_variables_and_leaves_them_alone() -> None:
    variables = {"name": "s"}
    parsed = parse_script("DEFINE name = 't'; DROP STREAM ${name};", variables)
    assert parsed[1].statement == ast.DropSource(ast.SourceKind.STREAM, "T")
    assert variables == {"name": "s"}
    assert parse_script("DROP STREAM ${NAME};", variables)[0].statement == ast.DropSource(ast.SourceKind.STREAM, "S")


def test_parse_script_positions_are_script_positions() -> None:
    with pytest.raises(SqlSyntaxError) as caught:
        parse_script("SHOW STREAMS;\n\nSHOW TABLES;  SELECT * FORM s;")
    assert (caught.value.line, caught.value.column) == (3, 24)
    parsed = parse_script("SHOW STREAMS;\n  SHOW TABLES;")
    assert (parsed[1].statement.pos.line, parsed[1].statement.pos.column) == (2, 3)
