"""The scripts users run on ksqlDB today parse unchanged: the clickstream demo, its
create-connectors.sql, seed 001's KSQL, and the statements the SQL issues name."""

from __future__ import annotations

from pathlib import Path

import pytest

from headwater.sql import ast, parse_script, parse_statement
from headwater.sql import types as ty

DATA = Path(__file__).parent / "data"


def _statements(name: str) -> list[ast.Statement]:
    return [parsed.statement for parsed in parse_script((DATA / name).read_text())]


def _by_name(statements: list[ast.Statement]) -> dict[str, ast.Statement]:
    return {s.name: s for s in statements if isinstance(s, (ast.CreateSource, ast.CreateAsSelect))}


def test_clickstream_statements() -> None:
    statements = _statements("clickstream_statements.sql")
    assert [type(s).__name__ for s in statements] == ["CreateSource"] * 3 + ["CreateAsSelect"] * 11
    named = _by_name(statements)
    assert list(named) == [
        "CLICKSTREAM", "CLICKSTREAM_CODES", "WEB_USERS", "USER_CLICKSTREAM", "ENRICHED_ERROR_CODES",
        "EVENTS_PER_MIN", "PAGES_PER_MIN", "CLICK_USER_SESSIONS", "ERRORS_PER_MIN_ALERT", "BANDWIDTH_PER_MIN",
        "USER_SESSION_BANDWIDTH", "ERRORS_PER_MIN", "ENRICHED_ERROR_CODES_COUNT", "USER_IP_ACTIVITY",
    ]
    clickstream = named["CLICKSTREAM"]
    assert isinstance(clickstream, ast.CreateSource)
    assert [(e.name, e.type) for e in clickstream.elements][:3] == [
        ("_TIME", ty.BIGINT), ("TIME", ty.STRING), ("IP", ty.STRING)]
    assert ast.property_values(clickstream.properties) == {"KAFKA_TOPIC": "clickstream", "VALUE_FORMAT": "json"}
    users = named["WEB_USERS"]
    assert isinstance(users, ast.CreateSource) and users.kind is ast.SourceKind.TABLE
    assert users.elements[0] == ast.TableElement("USER_ID", ty.INTEGER, ast.ColumnConstraint.PRIMARY_KEY)
    assert users.elements[1].name == "REGISTERED_AT"


def test_clickstream_enrichment_join() -> None:
    named = _by_name(_statements("clickstream_statements.sql"))
    user_clickstream = named["USER_CLICKSTREAM"]
    assert isinstance(user_clickstream, ast.CreateAsSelect)
    assert user_clickstream.kind is ast.SourceKind.STREAM
    query = user_clickstream.query
    assert query.from_ == ast.Join(
        ast.AliasedRelation("CLICKSTREAM", "C"),
        (ast.JoinedSource(ast.JoinType.LEFT, ast.AliasedRelation("WEB_USERS", "U"),
                          ast.Comparison("=", ast.ColumnRef("USERID", "C"), ast.ColumnRef("USER_ID", "U"))),),
    )
    assert [item.expression for item in query.select if isinstance(item, ast.SingleColumn)] == [
        ast.ColumnRef("USERID"), ast.ColumnRef("USERNAME", "U"), ast.ColumnRef("IP"), ast.ColumnRef("CITY", "U"),
        ast.ColumnRef("REQUEST"), ast.ColumnRef("STATUS"), ast.ColumnRef("BYTES"),
    ]
    codes = named["ENRICHED_ERROR_CODES"]
    assert isinstance(codes, ast.CreateAsSelect) and isinstance(codes.query.from_, ast.Join)
    assert codes.query.from_.joins[0].criteria == ast.Comparison(
        "=", ast.ColumnRef("STATUS", "CLICKSTREAM"), ast.ColumnRef("CODE", "CLICKSTREAM_CODES"))


@pytest.mark.parametrize(
    ("table", "window"),
    [
        ("EVENTS_PER_MIN", ast.TumblingWindow(ast.Duration(60, ast.TimeUnit.SECONDS))),
        ("PAGES_PER_MIN", ast.HoppingWindow(ast.Duration(60, ast.TimeUnit.SECONDS),
                                            ast.Duration(5, ast.TimeUnit.SECONDS))),
        ("CLICK_USER_SESSIONS", ast.SessionWindow(ast.Duration(30, ast.TimeUnit.SECONDS))),
        ("ERRORS_PER_MIN_ALERT", ast.HoppingWindow(ast.Duration(60, ast.TimeUnit.SECONDS),
                                                   ast.Duration(20, ast.TimeUnit.SECONDS))),
        ("BANDWIDTH_PER_MIN", ast.TumblingWindow(ast.Duration(60, ast.TimeUnit.SECONDS))),
        ("USER_SESSION_BANDWIDTH", ast.SessionWindow(ast.Duration(30, ast.TimeUnit.SECONDS))),
        ("ENRICHED_ERROR_CODES_COUNT", ast.TumblingWindow(ast.Duration(30, ast.TimeUnit.SECONDS))),
    ],
)
def test_clickstream_windows(table: str, window: ast.WindowExpression) -> None:
    statement = _by_name(_statements("clickstream_statements.sql"))[table]
    assert isinstance(statement, ast.CreateAsSelect) and statement.kind is ast.SourceKind.TABLE
    assert statement.query.window == window
    assert statement.query.group_by


def test_clickstream_aggregates_having_and_key_format() -> None:
    named = _by_name(_statements("clickstream_statements.sql"))
    alert = named["ERRORS_PER_MIN_ALERT"]
    assert isinstance(alert, ast.CreateAsSelect)
    count = ast.FunctionCall("COUNT", star=True)
    assert alert.query.where == ast.Comparison(">", ast.ColumnRef("STATUS"), ast.IntegerLiteral(400))
    assert alert.query.having == ast.LogicalOp(
        "AND", ast.Comparison(">", count, ast.IntegerLiteral(5)), ast.IsNull(count, negated=True))
    sessions = named["CLICK_USER_SESSIONS"]
    assert isinstance(sessions, ast.CreateAsSelect)
    assert sessions.query.select[2] == ast.SingleColumn(ast.ColumnRef("WINDOWEND"), "EVENT_TS")
    bandwidth = named["BANDWIDTH_PER_MIN"]
    assert isinstance(bandwidth, ast.CreateAsSelect)
    assert bandwidth.query.select[1] == ast.SingleColumn(
        ast.FunctionCall("AS_VALUE", (ast.ColumnRef("USERNAME"),)), "USERNAME")
    assert bandwidth.query.select[3] == ast.SingleColumn(
        ast.FunctionCall("SUM", (ast.ColumnRef("BYTES"),)), "TOTAL_BYTES")
    activity = named["USER_IP_ACTIVITY"]
    assert isinstance(activity, ast.CreateAsSelect)
    assert ast.property_values(activity.properties) == {"KEY_FORMAT": "json"}
    assert activity.query.group_by == (ast.ColumnRef("USERNAME"), ast.ColumnRef("IP"), ast.ColumnRef("CITY"))
    assert activity.query.select[-1] == ast.SingleColumn(count, "COUNT")


def test_create_connectors_script() -> None:
    statements = _statements("create_connectors.sql")
    assert [s.name for s in statements if isinstance(s, ast.CreateConnector)] == [
        "DATAGEN_CLICKSTREAM_CODES", "DATAGEN_CLICKSTREAM_USERS", "DATAGEN_CLICKSTREAM"]
    codes = statements[0]
    assert isinstance(codes, ast.CreateConnector) and codes.connector_type is ast.ConnectorType.SOURCE
    assert ast.property_values(codes.properties) == {
        "connector.class": "io.confluent.kafka.connect.datagen.DatagenConnector",
        "kafka.topic": "clickstream_codes",
        "quickstart": "clickstream_codes",
        "maxInterval": "20",
        "iterations": "100",
        "format": "json",
        "key.converter": "org.apache.kafka.connect.converters.IntegerConverter",
    }


def test_seed_001_ksql() -> None:
    statements = _statements("maf_queries.ksql")
    assert statements[0] == ast.SetProperty("auto.offset.reset", "earliest")
    source = statements[1]
    assert isinstance(source, ast.CreateSource)
    after = ty.StructType((
        ty.StructField("ORIGINAL_TITLE", ty.STRING), ty.StructField("POPULARITY", ty.DOUBLE),
        ty.StructField("ID", ty.INTEGER), ty.StructField("VIDEO", ty.INTEGER), ty.StructField("ADULT", ty.INTEGER)))
    assert source.elements == (ast.TableElement("PAYLOAD", ty.StructType((ty.StructField("AFTER", after),))),)
    assert ast.property_values(source.properties)["KAFKA_TOPIC"] == "mysql.maf.movie_ids"
    cleansed = statements[4]
    assert isinstance(cleansed, ast.CreateSource)
    assert ast.property_values(cleansed.properties)["PARTITIONS"] == 2
    insert = statements[6]
    assert isinstance(insert, ast.InsertInto) and insert.target == "MOVIE_IDS_DATA"
    after_ref = ast.Dereference(ast.ColumnRef("PAYLOAD"), "AFTER")
    assert insert.query.select[0] == ast.SingleColumn(ast.Dereference(after_ref, "ORIGINAL_TITLE"), "ORIGINAL_TITLE")
    assert insert.query.select[3] == ast.SingleColumn(
        ast.Case(None, (ast.WhenClause(ast.Comparison("=", ast.Dereference(after_ref, "VIDEO"), ast.IntegerLiteral(1)),
                                       ast.BooleanLiteral(True)),), ast.BooleanLiteral(False)),
        "VIDEO",
    )
    assert isinstance(statements[7], ast.InsertInto)


#: Statements quoted in the SQL issues (parts 1-3) and in the clickstream README.
ISSUE_STATEMENTS = [
    "CREATE STREAM clickstream (_time BIGINT, time VARCHAR, ip VARCHAR, request VARCHAR, status INT, userid INT, "
    "bytes BIGINT, agent VARCHAR) WITH (kafka_topic='clickstream', value_format='json', partitions=1);",
    "CREATE STREAM errors AS SELECT userid, request, status FROM clickstream WHERE status >= 400 EMIT CHANGES;",
    "CREATE TABLE bandwidth_per_min AS SELECT userid AS k, AS_VALUE(userid) AS userid, WINDOWSTART AS event_ts, "
    "SUM(bytes) AS total_bytes FROM clickstream WINDOW TUMBLING (SIZE 60 SECOND) GROUP BY userid EMIT CHANGES;",
    "CREATE TABLE web_users (user_id INT PRIMARY KEY, registered_at BIGINT, username VARCHAR, first_name VARCHAR, "
    "last_name VARCHAR, city VARCHAR, level VARCHAR) WITH (kafka_topic='clickstream_users', value_format='json', "
    "partitions=1);",
    "CREATE STREAM user_clickstream AS SELECT userid, u.username, ip, u.city, request, status, bytes "
    "FROM clickstream c LEFT JOIN web_users u ON c.userid = u.user_id;",
    "SELECT username, COUNT(*) FROM user_clickstream WINDOW SESSION (30 SECOND) GROUP BY username EMIT CHANGES;",
    "RUN SCRIPT '/scripts/create-connectors.sql';",
    "print clickstream limit 3;",
    "print clickstream_codes limit 3;",
    "show topics;",
]


@pytest.mark.parametrize("sql", ISSUE_STATEMENTS)
def test_issue_statements_parse(sql: str) -> None:
    parse_statement(sql)
