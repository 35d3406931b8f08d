"""Crafted statements: no identifier, literal, pattern, path, type, function or property a user types
makes the engine run SQL of the user's choosing in DuckDB, write a file, read one, or load an extension.

Each place user text reaches DuckDB SQL gets payloads that close DuckDB's quotes and try a ``COPY ... TO``
or a ``read_text``; the answer must be a clear error or the correct result, with no file written and the
secret file's contents nowhere a user can see them (answers, rows, errors, topics).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from headwater.session import Session
from tests.security.attack import (
    EARLIEST,
    SECRET,
    Target,
    assert_harmless,
    attack,
    backquoted,
    double_quoted,
    ksql_string,
)

SOURCE = (
    "CREATE STREAM src (id INT KEY, s VARCHAR, j VARCHAR, ts BIGINT, arr ARRAY<INT>, st STRUCT<a INT>, "
    "m MAP<VARCHAR, INT>) WITH (kafka_topic='src', value_format='json', partitions=1);"
    "INSERT INTO src (id, s, j, ts, arr, st, m) VALUES (1, 'abc', '{\"a\": 1}', 1700000000000, ARRAY[1, 2], "
    "STRUCT(a := 1), MAP('k' := 1));"
)


@pytest.fixture
def target(tmp_path: Path) -> Target:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    return Target(out=tmp_path / "written.csv", secret=secret)


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    with Session(str(tmp_path / "log"), properties=EARLIEST) as opened:
        opened.execute(SOURCE)
        yield opened


QUOTES: dict[str, Callable[[str], str]] = {"backquoted": backquoted, "double-quoted": double_quoted}


def records(session: Session, topic: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in everything_logged_topic(session, topic)]


def everything_logged_topic(session: Session, topic: str) -> list[str]:
    log, values = session.log, []
    offset = log.beginning_offset(topic, 0)
    while offset < log.end_offset(topic, 0):
        fetched = log.read(topic, 0, offset)
        values.extend(v.decode() for v in fetched.records.column("value").to_pylist() if v is not None)
        offset = fetched.next_offset
    return values


# -- INSERT INTO ... VALUES: the findings of issue 12 -------------------------------------------------


@pytest.mark.parametrize("quote", QUOTES)
def test_insert_values_with_a_crafted_column_name_inserts_the_value_and_nothing_else(
    session: Session, target: Target, quote: str
) -> None:
    for i, name in enumerate(target.identifiers()):
        column = QUOTES[quote](name)
        outcome = attack(session, [
            f"CREATE STREAM t{i} (id INT, {column} VARCHAR) WITH (kafka_topic='t{i}', value_format='json', "
            "partitions=1);",
            f"INSERT INTO t{i} (id, {column}) VALUES (1, 'given');",  # the column given
            f"INSERT INTO t{i} (id) VALUES (2);",  # the column omitted
            f"INSERT INTO t{i} VALUES (3, 'all');",  # every column, in schema order
        ])
        assert_harmless(target, session, outcome)
        assert outcome.errors == []
        assert records(session, f"t{i}") == [
            {"ID": 1, name: "given"}, {"ID": 2, name: None}, {"ID": 3, name: "all"}
        ]


def test_a_column_named_read_text_never_returns_the_file(session: Session, target: Target) -> None:
    name = backquoted(f"read_text('{target.secret}')")
    outcome = attack(session, [
        f"CREATE STREAM r (id INT KEY, {name} VARCHAR) WITH (kafka_topic='r', value_format='json', partitions=1);",
        f"INSERT INTO r (id, {name}) VALUES (1, 'x');",
        "INSERT INTO r (id) VALUES (2);",
        f"SELECT {name} FROM r EMIT CHANGES LIMIT 2;",
    ])
    assert_harmless(target, session, outcome)
    assert outcome.rows == [["x"], [None]]


# -- identifiers: aliases, sinks, sources, struct fields, lambdas, function and type names ---------------


@pytest.mark.parametrize("quote", QUOTES)
def test_crafted_aliases_reach_rows_and_topics_as_names(session: Session, target: Target, quote: str) -> None:
    for i, name in enumerate(target.identifiers()):
        alias = QUOTES[quote](name)
        outcome = attack(session, [
            f"SELECT s AS {alias}, id FROM src EMIT CHANGES LIMIT 1;",
            f"CREATE STREAM sink{i} AS SELECT id, s AS {alias} FROM src EMIT CHANGES;",
        ])
        session.wait_until_processed()
        assert_harmless(target, session, outcome)
        assert outcome.errors == [] and outcome.rows == [["abc", 1]]
        assert records(session, f"SINK{i}") == [{name: "abc"}]


@pytest.mark.parametrize("quote", QUOTES)
def test_crafted_source_names_and_aliases(session: Session, target: Target, quote: str) -> None:
    for i, name in enumerate(target.identifiers()):
        source = QUOTES[quote](name + str(i))
        outcome = attack(session, [
            f"CREATE STREAM {source} (id INT KEY, v VARCHAR) WITH (kafka_topic='n{i}', value_format='json', "
            "partitions=1);",
            f"INSERT INTO {source} (id, v) VALUES (7, 'seven');",
            f"SELECT x.v, x.id FROM {source} x EMIT CHANGES LIMIT 1;",
            f"SELECT {source}.v FROM {source} EMIT CHANGES LIMIT 1;",
        ])
        assert_harmless(target, session, outcome)
        assert outcome.errors == [] and outcome.rows == [["seven", 7], ["seven"]]


@pytest.mark.parametrize("quote", QUOTES)
def test_crafted_struct_fields(session: Session, target: Target, quote: str) -> None:
    for i, name in enumerate(target.identifiers()):
        field = QUOTES[quote](name)
        outcome = attack(session, [
            f"CREATE STREAM st{i} (id INT KEY, v STRUCT<{field} VARCHAR>) WITH (kafka_topic='st{i}', "
            "value_format='json', partitions=1);",
            f"INSERT INTO st{i} (id, v) VALUES (1, STRUCT({field} := 'inside'));",
            f"SELECT v->{field} AS f, STRUCT({field} := 1) AS built FROM st{i} EMIT CHANGES LIMIT 1;",
            f"SELECT CAST(NULL AS STRUCT<{field} INT>) AS c FROM src EMIT CHANGES LIMIT 1;",
        ])
        assert_harmless(target, session, outcome)
        assert outcome.errors == []
        assert outcome.rows == [["inside", {name: 1}], [None]]


@pytest.mark.parametrize("quote", QUOTES)
def test_crafted_lambda_function_and_type_names_are_refused_clearly(
    session: Session, target: Target, quote: str
) -> None:
    for name in target.identifiers():
        quoted = QUOTES[quote](name)
        outcome = attack(session, [
            f"SELECT TRANSFORM(arr, {quoted} => {quoted} + 1) AS t FROM src EMIT CHANGES LIMIT 1;",
            f"SELECT {quoted}(s) AS f FROM src EMIT CHANGES LIMIT 1;",
            f"SELECT CAST(s AS {quoted}) AS c FROM src EMIT CHANGES LIMIT 1;",
        ])
        assert_harmless(target, session, outcome)
        # A quoted lambda variable is a name like any other; unknown functions and types are errors.
        assert outcome.rows in ([], [[[2, 3]]])
        assert len(outcome.errors) == 3 - len(outcome.rows)


def test_duckdb_functions_and_statements_are_not_ksql(session: Session, target: Target) -> None:
    outcome = attack(session, [
        f"SELECT read_text('{target.secret}') AS r FROM src EMIT CHANGES LIMIT 1;",
        f"SELECT read_csv('{target.secret}') AS r FROM src EMIT CHANGES LIMIT 1;",
        f"SELECT s FROM read_text('{target.secret}') EMIT CHANGES LIMIT 1;",
        "SELECT getenv('HOME') AS h FROM src EMIT CHANGES LIMIT 1;",
        f"{target.copy};",
        f"ATTACH '{target.out}' AS a;",
        "INSTALL httpfs;",
        "LOAD httpfs;",
        "PRAGMA enable_external_access;",
        f"EXPORT DATABASE '{target.out}';",
        "SET 'enable_external_access'='true';",  # a ksqlDB property or nothing: DuckDB never sees it
    ])
    assert_harmless(target, session, outcome)
    assert outcome.rows == []
    assert len(outcome.errors) == 11


# -- string literals: plain, LIKE/ESCAPE, JSON paths, date patterns, time zones, regular expressions --------


def test_crafted_string_literals_are_values(session: Session, target: Target) -> None:
    for i, text in enumerate(target.strings()):
        literal = ksql_string(text)
        outcome = attack(session, [
            f"INSERT INTO src (id, s) VALUES ({10 + i}, {literal});",
            f"SELECT {literal} AS lit, s = {literal} AS same, CONCAT(s, {literal}) AS c, m[{literal}] AS mv, "
            f"s LIKE {literal} AS l, s LIKE {literal} ESCAPE '!' AS e FROM src EMIT CHANGES LIMIT 1;",
        ])
        assert_harmless(target, session, outcome)
        assert outcome.errors == []
        assert outcome.rows == [[text, False, "abc" + text, None, False, False]]
    stored = [r["S"] for r in records(session, "src")]
    assert stored == ["abc", *target.strings()]


def test_crafted_escape_characters_are_refused_clearly(session: Session, target: Target) -> None:
    for text in target.strings():
        outcome = attack(session, [f"SELECT s FROM src WHERE s LIKE 'a%' ESCAPE {ksql_string(text)} EMIT CHANGES;"])
        assert_harmless(target, session, outcome)
        assert len(outcome.errors) == 1 and "escape" in outcome.errors[0].lower()


FUNCTIONS = [
    "EXTRACTJSONFIELD(j, {p})",
    "JSON_ARRAY_CONTAINS(j, {p})",
    "FORMAT_TIMESTAMP(FROM_UNIXTIME(ts), {p})",
    "FORMAT_TIMESTAMP(FROM_UNIXTIME(ts), 'yyyy', {p})",
    "PARSE_TIMESTAMP(s, {p})",
    "PARSE_TIMESTAMP('2024', 'yyyy', {p})",
    "CONVERT_TZ(FROM_UNIXTIME(ts), {p}, 'UTC')",
    "TIMESTAMPTOSTRING(ts, {p})",
    "STRINGTOTIMESTAMP(s, {p})",
    "FORMAT_DATE(FROM_DAYS(1), {p})",
    "PARSE_DATE(s, {p})",
    "REGEXP_REPLACE(s, {p}, {p})",
    "REGEXP_EXTRACT({p}, s)",
    "REGEXP_SPLIT_TO_ARRAY(s, {p})",
    "SPLIT(s, {p})",
    "REPLACE(s, 'a', {p})",
    "INSTR(s, {p})",
    "MASK(s, {p})",
    "URL_EXTRACT_PARAMETER(s, {p})",
    "FROM_BYTES(TO_BYTES(s, 'utf8'), {p})",
    "ENCODE(s, 'utf8', {p})",
]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_crafted_function_arguments(session: Session, target: Target, function: str) -> None:
    for text in target.strings():
        call = function.format(p=ksql_string(text))
        outcome = attack(session, [f"SELECT {call} AS r FROM src EMIT CHANGES LIMIT 1;"])
        assert_harmless(target, session, outcome)
        # A clear refusal, or a row (the value, or NULL where ksqlDB gives NULL): never a hang.
        assert len(outcome.errors) + len(outcome.rows) == 1, outcome


# -- WITH properties and pull-query filters -------------------------------------------------------------


@pytest.mark.parametrize("prop", ["kafka_topic", "value_format", "key_format", "timestamp", "timestamp_format",
                                  "value_delimiter", "value_schema_full_name", "wrap_single_value"])
def test_crafted_with_properties(session: Session, target: Target, prop: str) -> None:
    for i, text in enumerate(target.strings()):
        props = {"kafka_topic": f"'w{i}'", "value_format": "'delimited'", "partitions": "1",
                 "timestamp": "'TS'"} | {prop: ksql_string(text)}
        with_ = ", ".join(f"{k}={v}" for k, v in props.items())
        outcome = attack(session, [
            f"CREATE STREAM w{i} (id INT KEY, ts VARCHAR, v VARCHAR) WITH ({with_});",
            f"INSERT INTO w{i} (id, ts, v) VALUES (1, '2024', 'x');",
            f"CREATE STREAM ws{i} WITH ({with_.replace('w' + str(i), 'ws' + str(i))}) AS SELECT * FROM src;",
        ])
        assert_harmless(target, session, outcome)


def test_crafted_pull_query_filters(session: Session, target: Target) -> None:
    outcome = attack(session, [
        "CREATE TABLE latest AS SELECT id, LATEST_BY_OFFSET(s) AS s FROM src GROUP BY id EMIT CHANGES;",
    ])
    session.wait_until_processed()
    for text in target.strings():
        literal = ksql_string(text)
        outcome = attack(session, [
            f"SELECT * FROM latest WHERE id = 1 AND s <> {literal};",
            f"SELECT id, {literal} AS lit FROM latest WHERE s LIKE {literal} OR id = 1;",
            f"SELECT * FROM latest WHERE s = {literal};",
        ])
        assert_harmless(target, session, outcome)
        assert outcome.errors == []
        assert outcome.rows == [[1, "abc"], [1, text]]


@pytest.mark.parametrize("quote", QUOTES)
def test_crafted_names_in_pull_queries(session: Session, target: Target, quote: str) -> None:
    for i, name in enumerate(target.identifiers()):
        column = QUOTES[quote](name)
        outcome = attack(session, [
            f"CREATE TABLE pt{i} AS SELECT id, LATEST_BY_OFFSET(s) AS {column} FROM src GROUP BY id EMIT CHANGES;",
        ])
        session.wait_until_processed()
        outcome = attack(session, [
            f"SELECT * FROM pt{i} WHERE id = 1;",
            f"SELECT {column}, id FROM pt{i} WHERE {column} = 'abc';",
        ])
        assert_harmless(target, session, outcome)
        assert outcome.errors == [] and outcome.rows == [[1, "abc"], ["abc", 1]]


def test_json_paths_with_quotes_and_backslashes_read_their_key(session: Session, target: Target) -> None:
    crafted = f"'); {target.copy}; --"
    document = json.dumps({'a"b': 1, "a\\b": 2, "x'y": 3, crafted: 4})
    paths = ["$['a\"b']", '$["a\\b"]', "$[\"x'y\"]", '$["' + crafted + '"]']
    calls = ", ".join(f"EXTRACTJSONFIELD(j, {ksql_string(p)}) AS p{i}" for i, p in enumerate(paths))
    outcome = attack(session, [
        f"INSERT INTO src (id, j) VALUES (5, {ksql_string(document)});",
        f"SELECT {calls} FROM src WHERE id = 5 EMIT CHANGES LIMIT 1;",
    ])
    assert_harmless(target, session, outcome)
    assert outcome.errors == [] and outcome.rows == [["1", "2", "3", "4"]]
