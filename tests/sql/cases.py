"""Data tables shared by the parser and formatter tests: SQL text and the AST it must give."""

from __future__ import annotations

from decimal import Decimal

from headwater.sql import ast
from headwater.sql import types as ty

S = ast.StringLiteral
I = ast.IntegerLiteral  # noqa: E741 - reads like the SQL it stands for
C = ast.ColumnRef
SECONDS = ast.TimeUnit.SECONDS


def d(value: int, unit: ast.TimeUnit = SECONDS) -> ast.Duration:
    return ast.Duration(value, unit)


def q(*select: ast.SelectItem, source: ast.Relation | str = "S", **clauses: object) -> ast.Query:
    relation = ast.AliasedRelation(source) if isinstance(source, str) else source
    return ast.Query(tuple(select), relation, **clauses)  # type: ignore[arg-type]


def col(name: str, alias: str | None = None, source: str | None = None) -> ast.SingleColumn:
    return ast.SingleColumn(C(name, source), alias)


STAR = ast.AllColumns()
COUNT_STAR = ast.FunctionCall("COUNT", star=True)

#: (SQL, expected statement)
STATEMENTS: list[tuple[str, ast.Statement]] = [
    # --- CREATE STREAM / TABLE ---
    (
        "CREATE STREAM s (id INT KEY, name VARCHAR, `Mixed` STRING, \"q\" BIGINT) "
        "WITH (kafka_topic='t', value_format='JSON', partitions=2, replicas=1, wrap_single_value=false);",
        ast.CreateSource(
            ast.SourceKind.STREAM,
            "S",
            (
                ast.TableElement("ID", ty.INTEGER, ast.ColumnConstraint.KEY),
                ast.TableElement("NAME", ty.STRING),
                ast.TableElement("Mixed", ty.STRING),
                ast.TableElement("q", ty.BIGINT),
            ),
            {"KAFKA_TOPIC": S("t"), "VALUE_FORMAT": S("JSON"), "PARTITIONS": I(2), "REPLICAS": I(1),
             "WRAP_SINGLE_VALUE": ast.BooleanLiteral(False)},
        ),
    ),
    (
        "create or replace source table if not exists users (user_id int primary key, h bytes headers, "
        "k bytes header('trace')) with ('KAFKA_TOPIC'='users', format='json', timestamp='ts', "
        "timestamp_format='yyyy-MM-dd''T''HH:mm:ssX')",
        ast.CreateSource(
            ast.SourceKind.TABLE,
            "USERS",
            (
                ast.TableElement("USER_ID", ty.INTEGER, ast.ColumnConstraint.PRIMARY_KEY),
                ast.TableElement("H", ty.BYTES, ast.ColumnConstraint.HEADERS),
                ast.TableElement("K", ty.BYTES, ast.ColumnConstraint.HEADER, "trace"),
            ),
            {"KAFKA_TOPIC": S("users"), "FORMAT": S("json"), "TIMESTAMP": S("ts"),
             "TIMESTAMP_FORMAT": S("yyyy-MM-dd'T'HH:mm:ssX")},
            or_replace=True,
            if_not_exists=True,
            is_source=True,
        ),
    ),
    (
        "CREATE STREAM inferred WITH (KAFKA_TOPIC='x', VALUE_FORMAT='AVRO', VALUE_SCHEMA_ID=-1)",
        ast.CreateSource(ast.SourceKind.STREAM, "INFERRED", (),
                         {"KAFKA_TOPIC": S("x"), "VALUE_FORMAT": S("AVRO"), "VALUE_SCHEMA_ID": I(-1)}),
    ),
    (
        "CREATE STREAM t (a ARRAY<INT>, m MAP<STRING, DOUBLE>, n STRUCT<x DECIMAL(4, 2), `y` DATE>, "
        "p INT ARRAY, ts TIMESTAMP, tm TIME, addr ADDRESS) WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON');",
        ast.CreateSource(
            ast.SourceKind.STREAM,
            "T",
            (
                ast.TableElement("A", ty.ArrayType(ty.INTEGER)),
                ast.TableElement("M", ty.MapType(ty.STRING, ty.DOUBLE)),
                ast.TableElement("N", ty.StructType((ty.StructField("X", ty.DecimalType(4, 2)),
                                                     ty.StructField("y", ty.DATE)))),
                ast.TableElement("P", ty.ArrayType(ty.INTEGER)),
                ast.TableElement("TS", ty.TIMESTAMP),
                ast.TableElement("TM", ty.TIME),
                ast.TableElement("ADDR", ty.CustomType("ADDRESS")),
            ),
            {"KAFKA_TOPIC": S("t"), "VALUE_FORMAT": S("JSON")},
        ),
    ),
    # --- CSAS / CTAS ---
    (
        "CREATE STREAM errors AS SELECT userid, request, status FROM clickstream WHERE status >= 400 EMIT CHANGES;",
        ast.CreateAsSelect(
            ast.SourceKind.STREAM,
            "ERRORS",
            q(col("USERID"), col("REQUEST"), col("STATUS"), source="CLICKSTREAM",
              where=ast.Comparison(">=", C("STATUS"), I(400)), emit=ast.EmitType.CHANGES),
        ),
    ),
    (
        "CREATE OR REPLACE TABLE IF NOT EXISTS t WITH (KAFKA_TOPIC='out', KEY_FORMAT='json') AS "
        "SELECT k, COUNT(*) FROM s GROUP BY k EMIT FINAL",
        ast.CreateAsSelect(
            ast.SourceKind.TABLE,
            "T",
            q(col("K"), ast.SingleColumn(COUNT_STAR), group_by=(C("K"),), emit=ast.EmitType.FINAL),
            {"KAFKA_TOPIC": S("out"), "KEY_FORMAT": S("json")},
            or_replace=True,
            if_not_exists=True,
        ),
    ),
    # --- INSERT ---
    (
        "INSERT INTO target WITH (QUERY_ID='my_query') SELECT * FROM s;",
        ast.InsertInto("TARGET", q(STAR), {"QUERY_ID": S("my_query")}),
    ),
    ("INSERT INTO target SELECT s.* FROM s", ast.InsertInto("TARGET", q(ast.AllColumns("S")))),
    (
        "INSERT INTO s (rowtime, id, name) VALUES (1500000000000, -5, 'it''s');",
        ast.InsertValues("S", ("ROWTIME", "ID", "NAME"), (I(1500000000000), I(-5), S("it's"))),
    ),
    ("INSERT INTO s VALUES (1.5, NULL, true)",
     ast.InsertValues("S", None, (ast.DecimalLiteral(Decimal("1.5")), ast.NullLiteral(), ast.BooleanLiteral(True)))),
    # --- SELECT clauses ---
    (
        "SELECT * FROM s WHERE ROWTIME > 5 PARTITION BY a, b EMIT CHANGES LIMIT 10",
        q(STAR, where=ast.Comparison(">", C("ROWTIME"), I(5)), partition_by=(C("A"), C("B")),
          emit=ast.EmitType.CHANGES, limit=10),
    ),
    ("SELECT * FROM s PARTITION BY ()", q(STAR, partition_by=())),
    ("SELECT * FROM s PARTITION BY NULL", q(STAR, partition_by=(ast.NullLiteral(),))),
    ("SELECT a FROM s GROUP BY (a, b)", q(col("A"), group_by=(C("A"), C("B")))),
    ("SELECT a FROM s GROUP BY (a) + 1, b",
     q(col("A"), group_by=(ast.BinaryOp("+", C("A"), I(1)), C("B")))),
    ("SELECT s->address->* FROM s",
     q(ast.StructAll(ast.Dereference(C("S"), "ADDRESS")))),
    ("SELECT a b, c AS d, e emit FROM s EMIT CHANGES",
     q(col("A", "B"), col("C", "D"), col("E", "EMIT"), emit=ast.EmitType.CHANGES)),
    ("SELECT * FROM s AS x", q(STAR, source=ast.AliasedRelation("S", "X"))),
    (
        "SELECT * FROM s WINDOW TUMBLING (SIZE 1 MINUTE, RETENTION 7 DAYS, GRACE PERIOD 10 SECONDS) GROUP BY k",
        q(STAR, window=ast.TumblingWindow(d(1, ast.TimeUnit.MINUTES), d(7, ast.TimeUnit.DAYS), d(10)),
          group_by=(C("K"),)),
    ),
    (
        "SELECT * FROM s WINDOW HOPPING (SIZE 60 SECONDS, ADVANCE BY 5000 MILLISECONDS, GRACE PERIOD 0 SECONDS) "
        "GROUP BY k",
        q(STAR, window=ast.HoppingWindow(d(60), d(5000, ast.TimeUnit.MILLISECONDS), grace=d(0)),
          group_by=(C("K"),)),
    ),
    (
        "SELECT * FROM s WINDOW w SESSION (30 SECOND, RETENTION 2 HOURS) GROUP BY k",
        q(STAR, window=ast.SessionWindow(d(30), d(2, ast.TimeUnit.HOURS), name="W"), group_by=(C("K"),)),
    ),
    # --- joins ---
    (
        "SELECT * FROM a JOIN b ON a.id = b.id INNER JOIN c ON a.id = c.id",
        q(STAR, source=ast.Join(ast.AliasedRelation("A"), (
            ast.JoinedSource(ast.JoinType.INNER, ast.AliasedRelation("B"),
                             ast.Comparison("=", C("ID", "A"), C("ID", "B"))),
            ast.JoinedSource(ast.JoinType.INNER, ast.AliasedRelation("C"),
                             ast.Comparison("=", C("ID", "A"), C("ID", "C"))),
        ))),
    ),
    (
        "SELECT * FROM l x LEFT OUTER JOIN r y WITHIN 1 HOUR ON x.k = y.k "
        "RIGHT JOIN r2 WITHIN (10 SECONDS, 20 SECONDS) GRACE PERIOD 5 SECONDS ON x.k = r2.k "
        "FULL OUTER JOIN r3 AS z WITHIN 1 MINUTE GRACE PERIOD 1 SECOND ON x.k = z.k",
        q(STAR, source=ast.Join(ast.AliasedRelation("L", "X"), (
            ast.JoinedSource(ast.JoinType.LEFT, ast.AliasedRelation("R", "Y"),
                             ast.Comparison("=", C("K", "X"), C("K", "Y")),
                             ast.WithinExpression(d(1, ast.TimeUnit.HOURS), d(1, ast.TimeUnit.HOURS))),
            ast.JoinedSource(ast.JoinType.RIGHT, ast.AliasedRelation("R2"),
                             ast.Comparison("=", C("K", "X"), C("K", "R2")),
                             ast.WithinExpression(d(10), d(20), d(5))),
            ast.JoinedSource(ast.JoinType.FULL, ast.AliasedRelation("R3", "Z"),
                             ast.Comparison("=", C("K", "X"), C("K", "Z")),
                             ast.WithinExpression(d(1, ast.TimeUnit.MINUTES), d(1, ast.TimeUnit.MINUTES), d(1))),
        ))),
    ),
    # --- DROP / ALTER ---
    ("DROP STREAM s;", ast.DropSource(ast.SourceKind.STREAM, "S")),
    ("DROP TABLE IF EXISTS t DELETE TOPIC", ast.DropSource(ast.SourceKind.TABLE, "T", True, True)),
    ("ALTER STREAM s ADD COLUMN a INT, ADD b ARRAY<STRING>",
     ast.AlterSource(ast.SourceKind.STREAM, "S", (ast.TableElement("A", ty.INTEGER),
                                                  ast.TableElement("B", ty.ArrayType(ty.STRING))))),
    # --- query lifecycle ---
    ("TERMINATE CSAS_ERRORS_0;", ast.Terminate("CSAS_ERRORS_0")),
    ("terminate all", ast.Terminate(None)),
    ("PAUSE q1", ast.PauseQuery("Q1")),
    ("RESUME ALL", ast.ResumeQuery(None)),
    # --- SHOW / LIST ---
    ("SHOW STREAMS;", ast.Show(ast.ShowKind.STREAMS)),
    ("LIST TABLES EXTENDED", ast.Show(ast.ShowKind.TABLES, extended=True)),
    ("SHOW TOPICS", ast.Show(ast.ShowKind.TOPICS)),
    ("SHOW ALL TOPICS EXTENDED", ast.Show(ast.ShowKind.TOPICS, extended=True, all_topics=True)),
    ("SHOW QUERIES EXTENDED", ast.Show(ast.ShowKind.QUERIES, extended=True)),
    ("SHOW FUNCTIONS", ast.Show(ast.ShowKind.FUNCTIONS)),
    ("LIST PROPERTIES", ast.Show(ast.ShowKind.PROPERTIES)),
    ("SHOW VARIABLES", ast.Show(ast.ShowKind.VARIABLES)),
    ("SHOW TYPES", ast.Show(ast.ShowKind.TYPES)),
    ("SHOW CONNECTORS", ast.Show(ast.ShowKind.CONNECTORS)),
    ("SHOW SINK CONNECTORS", ast.Show(ast.ShowKind.CONNECTORS, connector_type=ast.ConnectorType.SINK)),
    ("SHOW CONNECTOR PLUGINS", ast.Show(ast.ShowKind.CONNECTOR_PLUGINS)),
    # --- DESCRIBE / EXPLAIN / PRINT ---
    ("DESCRIBE clickstream", ast.DescribeSource("CLICKSTREAM")),
    ("DESCRIBE clickstream EXTENDED", ast.DescribeSource("CLICKSTREAM", True)),
    ("DESCRIBE EXTENDED clickstream", ast.DescribeSource("CLICKSTREAM", True)),
    ("DESCRIBE STREAMS EXTENDED", ast.DescribeSources(ast.SourceKind.STREAM, True)),
    ("DESCRIBE TABLES", ast.DescribeSources(ast.SourceKind.TABLE)),
    ("DESCRIBE FUNCTION substring", ast.DescribeFunction("SUBSTRING")),
    ("DESCRIBE CONNECTOR datagen_clickstream", ast.DescribeConnector("DATAGEN_CLICKSTREAM")),
    ("EXPLAIN CSAS_ERRORS_0", ast.Explain(query_id="CSAS_ERRORS_0")),
    ("EXPLAIN SELECT * FROM s EMIT CHANGES", ast.Explain(statement=q(STAR, emit=ast.EmitType.CHANGES))),
    ("print clickstream limit 3;", ast.Print("clickstream", limit=3)),
    ("PRINT 'mysql.maf.movie_ids' FROM BEGINNING INTERVAL 2 LIMIT 10",
     ast.Print("mysql.maf.movie_ids", True, 2, 10)),
    ("PRINT `Mixed-Topic` SAMPLE 5", ast.Print("Mixed-Topic", interval=5)),
    # --- session ---
    ("RUN SCRIPT '/scripts/create-connectors.sql';", ast.RunScript("/scripts/create-connectors.sql")),
    ("SET 'auto.offset.reset' = 'earliest';", ast.SetProperty("auto.offset.reset", "earliest")),
    ("UNSET 'auto.offset.reset'", ast.UnsetProperty("auto.offset.reset")),
    ("ALTER SYSTEM 'ksql.streams.num.stream.threads'='4'",
     ast.AlterSystem("ksql.streams.num.stream.threads", "4")),
    ("DEFINE format = 'JSON';", ast.DefineVariable("format", "JSON")),
    ("UNDEFINE format", ast.UndefineVariable("format")),
    # --- connectors, types, assertions ---
    (
        "CREATE SINK CONNECTOR IF NOT EXISTS es_sink WITH ('connector.class'='ElasticsearchSinkConnector', "
        "'topics'='T', tasks_max=1)",
        ast.CreateConnector(ast.ConnectorType.SINK, "ES_SINK",
                            {"connector.class": S("ElasticsearchSinkConnector"), "topics": S("T"),
                             "TASKS_MAX": I(1)}, True),
    ),
    ("DROP CONNECTOR IF EXISTS es_sink", ast.DropConnector("ES_SINK", True)),
    ("CREATE TYPE ADDRESS AS STRUCT<number INT, street VARCHAR>;",
     ast.CreateType("ADDRESS", ty.StructType((ty.StructField("NUMBER", ty.INTEGER),
                                              ty.StructField("STREET", ty.STRING))))),
    ("CREATE TYPE IF NOT EXISTS ids AS ARRAY<BIGINT>", ast.CreateType("IDS", ty.ArrayType(ty.BIGINT), True)),
    ("DROP TYPE IF EXISTS ADDRESS", ast.DropType("ADDRESS", True)),
    ("ASSERT TOPIC clicks WITH (PARTITIONS=1) TIMEOUT 3 SECONDS",
     ast.AssertTopic("clicks", True, {"PARTITIONS": I(1)}, d(3))),
    ("ASSERT NOT EXISTS SCHEMA SUBJECT 'clicks-value' ID 4",
     ast.AssertSchema("clicks-value", 4, exists=False)),
]

#: (SQL expression, expected expression)
EXPRESSIONS: list[tuple[str, ast.Expression]] = [
    # literals
    ("'it''s'", S("it's")),
    ("42", I(42)),
    ("-42", I(-42)),
    ("9223372036854775807", I(9223372036854775807)),
    ("1.50", ast.DecimalLiteral(Decimal("1.50"))),
    ("-.5", ast.DecimalLiteral(Decimal("-0.5"))),
    ("1.5E3", ast.DoubleLiteral(1500.0)),
    ("2e-2", ast.DoubleLiteral(0.02)),
    ("DECIMAL '12.30'", ast.DecimalLiteral(Decimal("12.30"))),
    ("TRUE", ast.BooleanLiteral(True)),
    ("false", ast.BooleanLiteral(False)),
    ("NULL", ast.NullLiteral()),
    ("ARRAY[1, 2, 3]", ast.ArrayConstructor((I(1), I(2), I(3)))),
    ("ARRAY[]", ast.ArrayConstructor(())),
    ("MAP('a' := 1, 'b' := 2)", ast.MapConstructor(((S("a"), I(1)), (S("b"), I(2))))),
    ("STRUCT(name := 'x', `Age` := 3)", ast.StructConstructor((("NAME", S("x")), ("Age", I(3))))),
    # references
    ("userid", C("USERID")),
    ("c.userid", C("USERID", "C")),
    ("`Quoted Name`", C("Quoted Name")),
    ('"dq"."Col"', C("Col", "dq")),
    ("ROWTIME", C("ROWTIME")),
    ("ROWPARTITION + ROWOFFSET", ast.BinaryOp("+", C("ROWPARTITION"), C("ROWOFFSET"))),
    ("WINDOWSTART", C("WINDOWSTART")),
    ("time", C("TIME")),
    ("key", C("KEY")),
    ("payload->after->id", ast.Dereference(ast.Dereference(C("PAYLOAD"), "AFTER"), "ID")),
    ("arr[1]", ast.Subscript(C("ARR"), I(1))),
    ("m['k']->f[-1]", ast.Subscript(ast.Dereference(ast.Subscript(C("M"), S("k")), "F"), I(-1))),
    # arithmetic and precedence
    ("a + b * c", ast.BinaryOp("+", C("A"), ast.BinaryOp("*", C("B"), C("C")))),
    ("(a + b) * c", ast.BinaryOp("*", ast.BinaryOp("+", C("A"), C("B")), C("C"))),
    ("a - b - c", ast.BinaryOp("-", ast.BinaryOp("-", C("A"), C("B")), C("C"))),
    ("a / b % c", ast.BinaryOp("%", ast.BinaryOp("/", C("A"), C("B")), C("C"))),
    ("-a * b", ast.BinaryOp("*", ast.UnaryOp("-", C("A")), C("B"))),
    ("- -5", ast.UnaryOp("-", I(-5))),
    ("+a", ast.UnaryOp("+", C("A"))),
    ("a - -1", ast.BinaryOp("-", C("A"), I(-1))),
    ("a || b || c", ast.BinaryOp("||", ast.BinaryOp("||", C("A"), C("B")), C("C"))),
    ("a || b + c", ast.BinaryOp("||", C("A"), ast.BinaryOp("+", C("B"), C("C")))),
    # comparison and logic
    ("a = 1", ast.Comparison("=", C("A"), I(1))),
    ("a != 1", ast.Comparison("<>", C("A"), I(1))),
    ("a <> 1", ast.Comparison("<>", C("A"), I(1))),
    ("a <= b + 1", ast.Comparison("<=", C("A"), ast.BinaryOp("+", C("B"), I(1)))),
    ("a OR b AND c", ast.LogicalOp("OR", C("A"), ast.LogicalOp("AND", C("B"), C("C")))),
    ("NOT a AND b", ast.LogicalOp("AND", ast.Not(C("A")), C("B"))),
    ("NOT a = 1", ast.Not(ast.Comparison("=", C("A"), I(1)))),
    ("a IS NULL", ast.IsNull(C("A"))),
    ("a IS NOT NULL OR b", ast.LogicalOp("OR", ast.IsNull(C("A"), True), C("B"))),
    ("a IS DISTINCT FROM b", ast.IsDistinctFrom(C("A"), C("B"))),
    ("a IS NOT DISTINCT FROM NULL", ast.IsDistinctFrom(C("A"), ast.NullLiteral(), True)),
    ("request LIKE '%html%'", ast.Like(C("REQUEST"), S("%html%"))),
    ("s NOT LIKE 'a!%%' ESCAPE '!'", ast.Like(C("S"), S("a!%%"), "!", True)),
    ("status IN (404, 405)", ast.InList(C("STATUS"), (I(404), I(405)))),
    ("status NOT IN (1)", ast.InList(C("STATUS"), (I(1),), True)),
    ("x BETWEEN 1 AND 10 AND y", ast.LogicalOp("AND", ast.Between(C("X"), I(1), I(10)), C("Y"))),
    ("x NOT BETWEEN a + 1 AND b", ast.Between(C("X"), ast.BinaryOp("+", C("A"), I(1)), C("B"), True)),
    ("ts AT TIME ZONE 'UTC'", ast.AtTimeZone(C("TS"), "UTC")),
    # CASE, CAST
    (
        "CASE WHEN payload->after->video = 1 THEN true ELSE false END",
        ast.Case(None, (ast.WhenClause(ast.Comparison("=", ast.Dereference(ast.Dereference(C("PAYLOAD"), "AFTER"),
                                                                          "VIDEO"), I(1)),
                                       ast.BooleanLiteral(True)),), ast.BooleanLiteral(False)),
    ),
    (
        "CASE status WHEN 200 THEN 'ok' WHEN 404 THEN 'missing' END",
        ast.Case(C("STATUS"), (ast.WhenClause(I(200), S("ok")), ast.WhenClause(I(404), S("missing")))),
    ),
    ("CAST(bytes AS DOUBLE)", ast.Cast(C("BYTES"), ty.DOUBLE)),
    ("CAST(x AS DECIMAL(10, 2))", ast.Cast(C("X"), ty.DecimalType(10, 2))),
    ("CAST(x AS MAP<STRING, ARRAY<INT>>)", ast.Cast(C("X"), ty.MapType(ty.STRING, ty.ArrayType(ty.INTEGER)))),
    # functions
    ("COUNT(*)", COUNT_STAR),
    ("count(DISTINCT userid)", ast.FunctionCall("COUNT", (C("USERID"),), distinct=True)),
    ("AS_VALUE(userid)", ast.FunctionCall("AS_VALUE", (C("USERID"),))),
    ("UUID()", ast.FunctionCall("UUID")),
    ("SUBSTRING(s, 1, 3)", ast.FunctionCall("SUBSTRING", (C("S"), I(1), I(3)))),
    ("TIMESTAMPADD(SECONDS, 5, ts)",
     ast.FunctionCall("TIMESTAMPADD", (ast.TimeUnitLiteral(SECONDS), I(5), C("TS")))),
    ("DATEADD(DAY, 1, d)",
     ast.FunctionCall("DATEADD", (ast.TimeUnitLiteral(ast.TimeUnit.DAYS), I(1), C("D")))),
    ("f(day)", ast.FunctionCall("F", (C("DAY"),))),
    ("TRANSFORM(arr, x => x + 1)",
     ast.FunctionCall("TRANSFORM", (C("ARR"), ast.Lambda(("X",), ast.BinaryOp("+", ast.LambdaVariable("X"), I(1)))))),
    (
        "TRANSFORM(m, (k, v) => UCASE(k), (k, v) => v * 2)",
        ast.FunctionCall("TRANSFORM", (
            C("M"),
            ast.Lambda(("K", "V"), ast.FunctionCall("UCASE", (ast.LambdaVariable("K"),))),
            ast.Lambda(("K", "V"), ast.BinaryOp("*", ast.LambdaVariable("V"), I(2))),
        )),
    ),
    (
        "REDUCE(arr, 0, (s, x) => s + x + y)",
        ast.FunctionCall("REDUCE", (C("ARR"), I(0), ast.Lambda(("S", "X"), ast.BinaryOp(
            "+", ast.BinaryOp("+", ast.LambdaVariable("S"), ast.LambdaVariable("X")), C("Y"))))),
    ),
    ("FILTER(arr, x => (x > 1))",
     ast.FunctionCall("FILTER", (C("ARR"), ast.Lambda(("X",), ast.Comparison(">", ast.LambdaVariable("X"), I(1)))))),
    ("f((a), (b))", ast.FunctionCall("F", (C("A"), C("B")))),
]
