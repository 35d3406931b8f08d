"""The function registry: SHOW FUNCTIONS / DESCRIBE FUNCTION metadata, plugins, and test coverage of it."""

from __future__ import annotations

import re

import duckdb
import pytest

from headwater.errors import SqlError, SqlSemanticError
from headwater.sql import types as ty
from headwater.sql.compile import TableScope, compile_expression
from headwater.sql.functions import REGISTRY, FunctionKind, builtin_registry, install_functions, scalar, variant
from headwater.sql.functions.registry import Call
from headwater.sql.functions.signature import ArrayOf, Generic, LambdaOf, parse_params
from headwater.sql.parser import parse_expression
from tests.sql import test_compile
from tests.sql.functions import test_collections, test_datetime, test_json_url, test_numeric, test_string

#: Section 1.12 of the ksqlDB reference: every scalar function it lists.
KSQLDB_SCALARS = """
ABS ACOS ASIN ATAN ATAN2 CBRT CEIL COS COSH COT DEGREES EXP FLOOR LN LOG PI POWER RADIANS RANDOM ROUND SIGN SIN
SINH SQRT TAN TANH TRUNC GREATEST LEAST GEO_DISTANCE GENERATE_SERIES AS_VALUE ENTRIES ARRAY_CONCAT ARRAY_CONTAINS
ARRAY_DISTINCT ARRAY_EXCEPT ARRAY_INTERSECT ARRAY_JOIN ARRAY_LENGTH ARRAY_MAX ARRAY_MIN ARRAY_REMOVE ARRAY_SORT
ARRAY_UNION AS_MAP ELT FIELD JSON_ARRAY_CONTAINS MAP_KEYS MAP_VALUES MAP_UNION SLICE FILTER TRANSFORM REDUCE CHR
CONCAT CONCAT_WS ENCODE EXTRACTJSONFIELD FROM_BYTES TO_BYTES IS_JSON_STRING JSON_ARRAY_LENGTH JSON_CONCAT JSON_KEYS
JSON_RECORDS JSON_ITEMS TO_JSON_STRING INITCAP INSTR LCASE UCASE LEN LPAD RPAD MASK MASK_KEEP_LEFT MASK_KEEP_RIGHT
MASK_LEFT MASK_RIGHT MD5 REPLACE REGEXP_EXTRACT REGEXP_EXTRACT_ALL REGEXP_REPLACE REGEXP_SPLIT_TO_ARRAY SPLIT
SPLIT_TO_MAP SUBSTRING TRIM UUID BIGINT_FROM_BYTES DOUBLE_FROM_BYTES INT_FROM_BYTES COALESCE IFNULL NULLIF
CONVERT_TZ DATEADD DATESUB TIMEADD TIMESUB TIMESTAMPADD TIMESTAMPSUB FORMAT_DATE FORMAT_TIME FORMAT_TIMESTAMP
PARSE_DATE PARSE_TIME PARSE_TIMESTAMP FROM_DAYS FROM_UNIXTIME UNIX_DATE UNIX_TIMESTAMP DATETOSTRING STRINGTODATE
STRINGTOTIMESTAMP TIMESTAMPTOSTRING URL_DECODE_PARAM URL_ENCODE_PARAM URL_EXTRACT_FRAGMENT URL_EXTRACT_HOST
URL_EXTRACT_PARAMETER URL_EXTRACT_PATH URL_EXTRACT_PORT URL_EXTRACT_PROTOCOL URL_EXTRACT_QUERY
""".split()  # noqa: SIM905 - the list as the reference writes it


def test_every_ksqldb_scalar_function_is_registered() -> None:
    missing = [name for name in KSQLDB_SCALARS if name not in REGISTRY]
    assert missing == []


def test_every_registered_function_is_exercised_by_a_case() -> None:
    expressions = " ".join(
        case[0]
        for module in (test_numeric, test_string, test_collections, test_json_url, test_datetime)
        for table in ("CASES", "COLUMN_CASES")
        for case in getattr(module, table, [])
    ) + " ".join(case[0] for case in test_compile.VALUES)
    called = set(re.findall(r"([A-Z_0-9]+)\s*\(", expressions.upper()))
    # Table functions are exercised by tests/sql/functions/test_table_functions.py and the golden cases.
    assert [spec.name for spec in REGISTRY if spec.name not in called and spec.kind is FunctionKind.SCALAR] == []


def test_show_functions_lists_name_type_and_category() -> None:
    rows = REGISTRY.show_functions()
    assert rows == sorted(rows, key=lambda r: r["name"])
    by_name = {r["name"]: r for r in rows}
    assert by_name["UCASE"] == {"name": "UCASE", "type": "SCALAR", "category": "STRING"}
    assert by_name["ABS"]["category"] == "MATHEMATICAL"
    assert by_name["FORMAT_TIMESTAMP"]["category"] == "DATE / TIME"
    assert by_name["REGEXP_REPLACE"]["category"] == "REGULAR EXPRESSION"
    assert by_name["TRANSFORM"]["category"] == "LAMBDA"
    assert {r["type"] for r in rows} == {"SCALAR", "TABLE"}
    assert by_name["EXPLODE"] == {"name": "EXPLODE", "type": "TABLE", "category": "TABLE"}


def test_describe_function_has_ksqldb_shape() -> None:
    described = REGISTRY.describe("substring")
    assert described["@type"] == "describe_function"
    assert described["name"] == "SUBSTRING" and described["type"] == "SCALAR" and described["path"] == "internal"
    assert {"description", "author", "version", "functions"} <= described.keys()
    first = described["functions"][0]
    assert first["arguments"] == [
        {"name": "str", "type": "VARCHAR", "description": "", "isVariadic": False},
        {"name": "pos", "type": "INTEGER", "description": "", "isVariadic": False},
    ]
    assert first["returnType"] == "VARCHAR" and first["argumentTypes"] == ["VARCHAR", "INTEGER"]
    concat = REGISTRY.describe("CONCAT")["functions"][0]
    assert concat["arguments"][0]["isVariadic"] is True
    transform = REGISTRY.describe("TRANSFORM")["functions"][0]
    assert transform["argumentTypes"] == ["ARRAY<T>", "LAMBDA<T, O>"] and transform["returnType"] == "ARRAY<O>"


def test_describe_unknown_function() -> None:
    with pytest.raises(SqlSemanticError, match="Can't find any functions with the name 'NOPE'"):
        REGISTRY.describe("nope")


def test_a_plugin_registers_and_runs_like_a_builtin() -> None:
    registry = builtin_registry()

    def triple(call: Call) -> str:
        return f"({call.sql[0]} * 3)"

    registry.register(scalar(
        "TRIPLE", "OTHER", "Three times a number.",
        variant("x BIGINT", "BIGINT", triple),
        variant("x DOUBLE", "DOUBLE", "({0} * 3.0)"),
    ))
    registry.add_setup("CREATE OR REPLACE MACRO plugin_seven() AS 7")
    registry.register(scalar("SEVEN", "OTHER", "Seven.", variant("", "INT", "CAST(plugin_seven() AS INTEGER)")))
    con = duckdb.connect()
    install_functions(con, registry)
    scope = TableScope({"I": ty.INTEGER})
    sql = compile_expression(parse_expression("TRIPLE(I) + TRIPLE(0.5E0) + SEVEN()"), scope, registry)
    assert sql.type == ty.DOUBLE
    assert con.sql(f'SELECT {sql.sql} FROM (SELECT 2 AS "I")').fetchall() == [(14.5,)]
    assert "TRIPLE" not in REGISTRY
    assert {"name": "TRIPLE", "type": "SCALAR", "category": "OTHER"} in registry.show_functions()


def test_registering_a_name_twice_is_refused() -> None:
    registry = builtin_registry()
    with pytest.raises(SqlError, match="already registered"):
        registry.register(scalar("UCASE", "STRING", "again", variant("s STRING", "STRING", "{0}")))
    registry.register(scalar("UCASE", "STRING", "replaced", variant("s STRING", "STRING", "{0}")), replace=True)


def test_function_kinds_cover_aggregates_and_tables() -> None:
    assert {k.value for k in FunctionKind} == {"SCALAR", "AGGREGATE", "TABLE"}


def test_signature_text_parses_generics_lambdas_and_variadics() -> None:
    params = parse_params("array ARRAY<T>, init S, fn LAMBDA(S, T) => S, rest STRING...")
    assert params[0].type == ArrayOf(Generic("T"))
    assert params[2].type == LambdaOf((Generic("S"), Generic("T")), Generic("S"))
    assert params[3].variadic and not params[0].variadic
    with pytest.raises(SqlError):
        parse_params("a INT..., b INT")
    with pytest.raises(SqlError):
        parse_params("a WHATEVER")


def test_install_is_idempotent_and_sets_utc() -> None:
    con = duckdb.connect()
    install_functions(con)
    install_functions(con)
    assert con.sql("SELECT current_setting('TimeZone')").fetchall() == [("UTC",)]


def test_statement_helpers_answer_show_and_describe() -> None:
    from headwater.sql.expressions import Position
    from headwater.sql.functions import describe_function, function_names

    assert function_names() == REGISTRY.show_functions()
    assert describe_function("ucase")["name"] == "UCASE"
    with pytest.raises(SqlSemanticError, match=r"^line 2:18: Can't find any functions with the name 'NOPE'$"):
        describe_function("nope", Position(2, 18))
