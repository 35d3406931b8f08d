"""The expression compiler: ksqlDB types and semantics over DuckDB, and its errors with positions.

Values are computed for real in DuckDB over the standard row of
:mod:`tests.sql.functions.harness` (columns S, I, B, D, DEC, FLAG, TS, DT, TM,
BYT, ARR, SARR, M, ST, NEST, and NULL twins N<name>).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import duckdb
import pytest

from headwater.errors import SqlSemanticError
from headwater.sql import types as ty
from headwater.sql.compile import Compiled, TableScope, compile_expression
from headwater.sql.expressions import ColumnRef, Position
from headwater.sql.functions import FunctionKind, FunctionSpec, builtin_registry, variant
from headwater.sql.parser import parse_expression
from headwater.sql.typing import literal_decimal_type
from tests.sql.functions.harness import check, check_error, compile_text, connection, ids


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection_ = connection()
    yield connection_
    connection_.close()


VALUES: list[tuple[str, Any]] = [
    # literals
    ("1", 1),
    ("-2147483648", -2147483648),
    ("3000000000", 3000000000),
    ("1.50", Decimal("1.50")),
    ("1.5E3", 1500.0),
    ("'it''s'", "it's"),
    ("TRUE", True),
    # integer arithmetic: Java's int and long, wrap-around included
    ("I + 1", 8),
    ("I - 10", -3),
    ("I * B", 70),
    ("I / 2", 3),
    ("-7 / 2", -3),
    ("7 / -2", -3),
    ("I % 4", 3),
    ("-7 % 3", -1),
    ("I / 0", None),
    ("I % 0", None),
    ("2147483647 + 1", -2147483648),
    ("-2147483648 - 1", 2147483647),
    ("65536 * 65536", 0),
    ("9223372036854775807 + 1", -9223372036854775808),
    ("CAST(-9223372036854775807 AS BIGINT) - 2", 9223372036854775807),
    ("-(-2147483648)", -2147483648),
    ("-I", -7),
    ("+I", 7),
    ("NI + 1", None),
    ("I + NULL", None),
    # DOUBLE and DECIMAL
    ("D * 2", 5.0),
    ("D / 0", float("inf")),
    ("0.0E0 / 0", float("nan")),
    ("I / 2.0E0", 3.5),
    ("D + DEC", 14.84),
    ("DEC + 1", Decimal("13.34")),
    ("DEC * DEC", Decimal("152.2756")),
    ("DEC - 0.005", Decimal("12.335")),
    ("DEC / 4", Decimal("3.085000000000")),
    ("DEC / 0", None),
    ("DEC % 5", Decimal("2.34")),
    ("-DEC", Decimal("-12.34")),
    # strings
    ("S + '!'", "hello world!"),
    ("'a' || 'b'", "ab"),
    # comparisons
    ("I > 5", True),
    ("I = 7.0", True),
    ("I <> B", True),
    ("D >= 2.5", True),
    ("S < 'world'", True),
    # ksqlDB: a comparison with NULL is false (not NULL), so its negation holds
    ("NI = 1", False),
    ("NI <> 1", False),
    ("NOT (NI < 1)", True),
    ("NI IS NOT DISTINCT FROM NULL", True),
    ("TS > '2021-01-01T00:00:00'", True),
    ("TS < '2021-01-02T03:04:05.678+01:00'", False),
    ("'2021-01-03' > DT", True),
    ("DT < TS", True),
    ("TM > '03:00:00'", True),
    ("FLAG = TRUE", True),
    ("ARR = ARRAY[3, 1, 2]", True),
    ("ST = STRUCT(A := 1, B := 'x')", True),
    ("BYT = TO_BYTES('0001FF', 'hex')", True),
    # logic and null tests
    ("I > 5 AND S = 'hello world'", True),
    ("I > 50 OR NI IS NULL", True),
    ("NOT FLAG", False),
    ("NFLAG AND FALSE", False),
    ("NFLAG OR TRUE", True),
    ("NS IS NULL", True),
    ("S IS NOT NULL", True),
    ("NI IS DISTINCT FROM 1", True),
    ("NI IS NOT DISTINCT FROM NI", True),
    ("I IS DISTINCT FROM 7", False),
    # LIKE
    ("S LIKE 'hello%'", True),
    ("S LIKE 'h_llo world'", True),
    ("S LIKE 'HELLO%'", False),
    ("S NOT LIKE '%x%'", True),
    ("'50% off' LIKE '50!% %' ESCAPE '!'", True),
    ("'500 off' LIKE '50!% %' ESCAPE '!'", False),
    ("'a\\b' LIKE 'a\\b'", True),
    ("NS LIKE '%'", None),
    # IN, BETWEEN
    ("I IN (1, 7, 9)", True),
    ("I NOT IN (1, 2)", True),
    ("I IN (1, 7.0)", True),
    ("S IN ('a', 'b')", False),
    ("NI IN (1, 2)", None),
    ("TS IN ('2021-01-02T03:04:05.678')", True),
    ("'2021-01-02T03:04:05.678' IN ('x', TS)", True),
    ("NULL IN (I, 7)", None),
    ("I BETWEEN 1 AND 10", True),
    ("I NOT BETWEEN 1 AND 10", False),
    ("D BETWEEN 2 AND 2.5", True),
    ("S BETWEEN 'a' AND 'i'", True),
    ("TS BETWEEN '2021-01-01' AND '2021-01-03'", True),
    # CASE
    ("CASE WHEN I > 5 THEN 'big' ELSE 'small' END", "big"),
    ("CASE WHEN I > 50 THEN 'big' END", None),
    ("CASE I WHEN 1 THEN 'one' WHEN 7 THEN 'seven' END", "seven"),
    ("CASE WHEN FLAG THEN 1 ELSE 2.5E0 END", 1.0),
    ("CASE WHEN FLAG THEN NULL ELSE 2 END", None),
    ("CASE WHEN NFLAG THEN 1 ELSE 2 END", 2),
    ("CASE WHEN FLAG THEN B ELSE I END", 10),
    # CAST
    ("CAST(I AS BIGINT)", 7),
    ("CAST(I AS DOUBLE)", 7.0),
    ("CAST(I AS DECIMAL(5, 2))", Decimal("7.00")),
    ("CAST(I AS STRING)", "7"),
    ("CAST(12.7E0 AS INT)", 12),
    ("CAST(-12.7E0 AS INT)", -12),
    ("CAST(1.0E10 AS INT)", None),
    ("CAST(3000000000 AS INT)", -1294967296),
    ("CAST(DEC AS INT)", 12),
    ("CAST(DEC AS DECIMAL(3, 1))", Decimal("12.3")),
    ("CAST(DEC AS DECIMAL(2, 1))", None),
    ("CAST(D AS STRING)", "2.5"),
    ("CAST(1.0E7 AS STRING)", "1.0E7"),
    ("CAST(1.0E-4 AS STRING)", "1.0E-4"),
    ("CAST(DEC AS STRING)", "12.34"),
    ("CAST(FLAG AS STRING)", "true"),
    ("CAST(' 42 ' AS INT)", 42),
    ("CAST('42' AS BIGINT)", 42),
    ("CAST('abc' AS INT)", None),
    ("CAST('12.7' AS INT)", None),
    ("CAST('1e3' AS INT)", None),
    ("CAST('2.5' AS DOUBLE)", 2.5),
    ("CAST('x' AS DOUBLE)", None),
    ("CAST('12.345' AS DECIMAL(5, 2))", Decimal("12.35")),
    ("CAST('true' AS BOOLEAN)", True),
    ("CAST('No' AS BOOLEAN)", False),
    ("CAST('maybe' AS BOOLEAN)", None),
    ("CAST(TS AS STRING)", "2021-01-02T03:04:05.678"),
    ("CAST(DT AS STRING)", "2021-01-02"),
    ("CAST(TM AS STRING)", "03:04:05"),
    ("CAST('2021-01-02T03:04:05.678' AS TIMESTAMP)", datetime(2021, 1, 2, 3, 4, 5, 678000)),
    ("CAST('2021-01-02T03:04:05+01:00' AS TIMESTAMP)", datetime(2021, 1, 2, 2, 4, 5)),
    ("CAST('2021-01-02' AS DATE)", date(2021, 1, 2)),
    ("CAST('03:04:05' AS TIME)", time(3, 4, 5)),
    ("CAST('nonsense' AS TIMESTAMP)", None),
    ("CAST(TS AS DATE)", date(2021, 1, 2)),
    ("CAST(TS AS TIME)", time(3, 4, 5, 678000)),
    ("CAST(DT AS TIMESTAMP)", datetime(2021, 1, 2)),
    ("CAST(ARR AS ARRAY<STRING>)", ["3", "1", "2"]),
    ("CAST(ARRAY[1.5E0, 2.0E0] AS ARRAY<STRING>)", ["1.5", "2.0"]),
    ("CAST(M AS MAP<STRING, DOUBLE>)", {"a": 1.0, "b": 2.0}),
    ("CAST(ST AS STRUCT<B STRING, C INT>)", {"B": "x", "C": None}),
    ("CAST(NST AS STRUCT<A BIGINT>)", None),
    ("CAST(NULL AS INT)", None),
    ("CAST(ARR AS STRING)", "[3, 1, 2]"),
    ("CAST(M AS STRING)", "{a=1, b=2}"),
    ("CAST(NI AS STRING)", None),
    # structs, arrays, maps
    ("ST->A", 1),
    ("ST->B", "x"),
    ("NEST->SUB->A", 5),
    ("NEST->L[2]", 2),
    ("NST->A", None),
    ("STRUCT(A := I, B := S)", {"A": 7, "B": "hello world"}),
    ("STRUCT(`lower` := 1)->`lower`", 1),
    ("ARRAY[1, 2, 3][2]", 2),
    ("ARRAY[1, NULL, 3]", [1, None, 3]),
    ("ARRAY[I, B]", [7, 10]),
    ("ARRAY[1, 2.5E0]", [1.0, 2.5]),
    ("ARRAY[S, NS]", ["hello world", None]),
    ("ARRAY[ARRAY[1], ARRAY[2, 3]][-1][1]", 2),
    ("MAP('a' := 1, 'b' := NI)", {"a": 1, "b": None}),
    ("MAP('a' := 1)['a'] + 1", 2),
    ("SARR[1] || '!'", "b!"),
]


@pytest.mark.parametrize(("expression", "expected"), VALUES, ids=ids(VALUES))
def test_expression_value(con, expression: str, expected: Any) -> None:
    check(con, expression, expected)


TYPES: list[tuple[str, str]] = [
    ("1", "INTEGER"),
    ("2147483648", "BIGINT"),
    ("1.5", "DECIMAL(2, 1)"),
    ("0.05", "DECIMAL(2, 2)"),
    ("100.0", "DECIMAL(4, 1)"),
    ("1.5E0", "DOUBLE"),
    ("I + B", "BIGINT"),
    ("I + I", "INTEGER"),
    ("I / I", "INTEGER"),
    ("I + D", "DOUBLE"),
    ("DEC + D", "DOUBLE"),
    ("DEC + I", "DECIMAL(13, 2)"),
    ("DEC + B", "DECIMAL(22, 2)"),
    ("DEC - DEC", "DECIMAL(5, 2)"),
    ("DEC * DEC", "DECIMAL(9, 4)"),
    ("DEC / DEC", "DECIMAL(11, 7)"),
    ("DEC % DEC", "DECIMAL(4, 2)"),
    ("CAST(1 AS DECIMAL(38, 10)) * CAST(1 AS DECIMAL(38, 10))", "DECIMAL(38, 6)"),
    ("S + S", "STRING"),
    ("I > 1", "BOOLEAN"),
    ("CASE WHEN FLAG THEN I ELSE B END", "BIGINT"),
    ("CASE WHEN FLAG THEN DEC ELSE 1 END", "DECIMAL(12, 2)"),
    ("ARRAY[I, B]", "ARRAY<BIGINT>"),
    ("MAP('a' := ST)", "MAP<STRING, STRUCT<`A` INTEGER, `B` STRING>>"),
    ("STRUCT(x := 1, `y` := S)", "STRUCT<`X` INTEGER, `y` STRING>"),
    ("NEST->SUB", "STRUCT<`A` INTEGER, `B` STRING>"),
    ("ENTRIES(M, TRUE)", "ARRAY<STRUCT<`K` STRING, `V` INTEGER>>"),
    ("TRANSFORM(ARR, x => x > 1)", "ARRAY<BOOLEAN>"),
    ("REDUCE(ARR, 0.0, (s, x) => s + x)", "DECIMAL(12, 1)"),
    ("COALESCE(I, B, DEC)", "DECIMAL(21, 2)"),
    ("GREATEST(1, 2.5E0)", "DOUBLE"),
    ("ROUND(DEC)", "DECIMAL(3, 0)"),
    ("ROUND(DEC, 1)", "DECIMAL(4, 2)"),
    ("ABS(DEC)", "DECIMAL(4, 2)"),
]


@pytest.mark.parametrize(("expression", "type_sql"), TYPES, ids=ids(TYPES))
def test_expression_type(con, expression: str, type_sql: str) -> None:
    compiled = compile_text(expression)
    assert compiled.type is not None and compiled.type.sql() == type_sql
    check(con, f"({expression}) IS NULL OR TRUE", True)  # and it runs


def test_untyped_null_has_no_type() -> None:
    assert compile_text("NULL") == Compiled("NULL", None)


ERRORS: list[tuple[str, int, int, str]] = [
    ("FOO", 1, 1, "Column 'FOO' cannot be resolved."),
    ("I + foo", 1, 5, "Column 'FOO' cannot be resolved."),
    ("I +\n  x.y", 2, 3, "'X' is not a valid stream/table name or alias."),
    ("NOPE(1)", 1, 1, "Can't find any functions with the name 'NOPE'"),
    ("UCASE(I, 2)", 1, 1, (
        "Function 'UCASE' does not accept parameters (INTEGER, INTEGER).\n"
        "Valid alternatives are:\nUCASE(VARCHAR input)"
    )),
    ("SUBSTRING(I)", 1, 1, (
        "Valid alternatives are:\nSUBSTRING(VARCHAR str, INTEGER pos)\n"
        "SUBSTRING(VARCHAR str, INTEGER pos, INTEGER length)"
    )),
    ("LEN(ARR)", 1, 1, "Function 'LEN' does not accept parameters (ARRAY<INTEGER>)."),
    ("ARRAY_CONTAINS(ARR, 'x')", 1, 1, "does not accept parameters (ARRAY<INTEGER>, VARCHAR)"),
    ("PI(1)", 1, 1, "does not accept parameters (INTEGER)"),
    ("I > 'abc'", 1, 1, "Error processing expression: Cannot compare I (INTEGER) to 'abc' (STRING) with GREATER_THAN."),
    ("S = 1", 1, 1, "Cannot compare S (STRING) to 1 (INTEGER) with EQUAL."),
    ("FLAG < TRUE", 1, 1, "with LESS_THAN."),
    ("ARR > ARRAY[1]", 1, 1, "Cannot compare ARR (ARRAY<INTEGER>) to ARRAY[1] (ARRAY<INTEGER>) with GREATER_THAN."),
    ("TM = TS", 1, 1, "Cannot compare TM (TIME) to TS (TIMESTAMP) with EQUAL."),
    ("I IS DISTINCT FROM S", 1, 1, "with IS_DISTINCT_FROM."),
    ("I IN (1, 'a')", 1, 10, "invalid input syntax for type INTEGER: \"'a'\"."),
    ("FLAG IN (1, 2)", 1, 10, "operator does not exist: BOOLEAN = INTEGER (1)\nHint: You might need to add explicit type casts."),
    ("I BETWEEN 'a' AND 'b'", 1, 1, "Cannot compare I (INTEGER) to 'a' (STRING)"),
    ("S + 1", 1, 1, "Error processing expression: Unsupported arithmetic types. STRING INTEGER"),
    ("FLAG * 2", 1, 1, "Unsupported arithmetic types. BOOLEAN INTEGER"),
    ("-S", 1, 1, "Unsupported arithmetic type for unary -: STRING"),
    ("I AND FLAG", 1, 1, "AND requires BOOLEAN operands, but I is INTEGER."),
    ("NOT S", 1, 5, "NOT requires BOOLEAN operands"),
    ("I LIKE 'a%'", 1, 1, "LIKE requires STRING operands, but I is INTEGER."),
    ("CASE WHEN I THEN 1 END", 1, 11, "WHEN operand type should be boolean.\nType for 'I' is INTEGER"),
    ("CASE WHEN FLAG THEN 1 ELSE 'x' END", 1, 28, "Invalid Case expression. Type for all 'THEN' clauses should be the same."),
    ("ARRAY[1, 'a']", 1, 10, "Invalid array constructor."),
    ("ARRAY[NULL]", 1, 1, "Cannot construct an array with all NULL elements"),
    ("MAP('a' := 1, 'b' := 'x')", 1, 22, "Invalid map constructor."),
    ("STRUCT(A := NULL)", 1, 13, "Cannot infer the type of NULL for struct field A"),
    ("CAST(FLAG AS INT)", 1, 1, "Cast of BOOLEAN to INTEGER is not supported"),
    ("CAST(BYT AS STRING)", 1, 1, "Cast of BYTES to STRING is not supported"),
    ("CAST(I AS TIMESTAMP)", 1, 1, "Cast of INTEGER to TIMESTAMP is not supported"),
    ("CAST(I AS ADDRESS)", 1, 1, "Unknown type: ADDRESS"),
    ("ST->C", 1, 1, "Could not find field 'C' in 'ST'"),
    ("NEST->SUB->`a`", 1, 1, "Could not find field 'a' in 'NEST->SUB'"),
    ("I->A", 1, 1, "Expected STRUCT type for dereference of I, got INTEGER."),
    ("S[1]", 1, 1, "Subscript expression must be of type ARRAY or MAP: S is STRING."),
    ("ARR['x']", 1, 5, "Array index must be INTEGER or BIGINT, got STRING."),
    ("M[1]", 1, 3, "Map key must be STRING, got INTEGER."),
    ("TRANSFORM(ARR, (x, y) => x)", 1, 1, "does not accept parameters (ARRAY<INTEGER>, LAMBDA)"),
    ("FILTER(ARR, x => x + 1)", 1, 13, "the lambda X => (X + 1) must return BOOLEAN, but returns INTEGER."),
    ("TRANSFORM(ARR, x => x + S)", 1, 21, "Unsupported arithmetic types. INTEGER STRING"),
    ("TRANSFORM(ARR, x => y)", 1, 21, "Column 'Y' cannot be resolved."),
    ("DATEADD(DAYS, 1, TS)", 1, 1, "Function 'DATEADD' does not accept parameters (INTERVALUNIT, INTEGER, TIMESTAMP)."),
    ("FORMAT_TIMESTAMP(TS, S)", 1, 22, "Function 'FORMAT_TIMESTAMP' requires a literal format pattern."),
    ("FORMAT_TIMESTAMP(TS, 'yyyy QQQ')", 1, 22, "invalid format pattern 'yyyy QQQ': the pattern letter 'Q' is not supported."),
    ("FORMAT_TIMESTAMP(TS, 'yyyy', 'Mars/Olympus')", 1, 30, "unknown time zone 'Mars/Olympus'."),
    ("TO_BYTES(S, 'ebcdic')", 1, 13, "unknown encoding 'ebcdic'. Supported encodings are: hex, utf8, ascii, base64."),
    ("REGEXP_EXTRACT('(a)', S, I)", 1, 26, "Function 'REGEXP_EXTRACT' requires a literal group number."),
    ("UCASE(DISTINCT S)", 1, 1, "UCASE does not take DISTINCT."),
    ("UCASE(DAYS)", 1, 1, "Function 'UCASE' does not accept parameters (INTERVALUNIT)."),
    ("TS AT TIME ZONE 'UTC'", 1, 1, "AT TIME ZONE is not supported"),
    ("STRUCT(a := 1, A := 2)", 1, 21, "Duplicate field name A in STRUCT constructor."),
    ("  UCASE(\n    I)", 1, 3, "Function 'UCASE' does not accept parameters (INTEGER)."),
]


@pytest.mark.parametrize(("expression", "line", "column", "fragment"), ERRORS, ids=ids(ERRORS))
def test_compile_error(expression: str, line: int, column: int, fragment: str) -> None:
    check_error(expression, line, column, fragment)


def test_aggregate_and_table_functions_are_refused_in_scalar_context() -> None:
    registry = builtin_registry()
    for name, kind in (("COUNT", FunctionKind.AGGREGATE), ("EXPLODE", FunctionKind.TABLE)):
        registry.register(FunctionSpec(name, kind, kind.value, "", (variant("x ANY", "BIGINT", None),)), replace=True)
    scope = TableScope({"I": ty.INTEGER})
    with pytest.raises(SqlSemanticError, match=r"^line 1:5: Use of aggregate function COUNT requires a GROUP BY"):
        compile_expression(parse_expression("1 + COUNT(*)"), scope, registry)
    with pytest.raises(SqlSemanticError, match=r"^line 1:1: Table function EXPLODE can only be used in the SELECT"):
        compile_expression(parse_expression("EXPLODE(I)"), scope, registry)


def test_errors_are_semantic_errors_with_position() -> None:
    with pytest.raises(SqlSemanticError) as caught:
        compile_text("ST->missing")
    assert (caught.value.line, caught.value.column) == (1, 1)


def test_table_scope_quotes_names_and_checks_qualifier() -> None:
    scope = TableScope({"Mixed Case": ty.STRING, "ID": ty.INTEGER}, name="T")
    assert scope.resolve(ColumnRef("Mixed Case")) == Compiled('"Mixed Case"', ty.STRING)
    assert compile_expression(parse_expression("t.id + 1"), scope).type == ty.INTEGER
    with pytest.raises(SqlSemanticError, match=r"^line 3:4: Column 'T.NOPE' cannot be resolved\.$"):
        scope.resolve(ColumnRef("NOPE", "T", pos=Position(3, 4)))


def test_scope_may_substitute_whole_expressions() -> None:
    """A planner resolves aggregate calls (or GROUP BY expressions) to its own columns."""

    class AggregateScope(TableScope):
        def resolve_expression(self, expr: object) -> Compiled | None:
            if getattr(expr, "name", None) == "COUNT":
                return Compiled('"agg0"', ty.BIGINT)
            return None

    compiled = compile_expression(parse_expression("COUNT(*) + 1"), AggregateScope({}))
    assert compiled.type == ty.BIGINT and '"agg0"' in compiled.sql


@pytest.mark.parametrize(
    ("text", "precision", "scale"),
    [("1.5", 2, 1), ("0.05", 2, 2), ("123.450", 6, 3), ("-9.9", 2, 1), ("1000.", 4, 0)],
)
def test_decimal_literal_types(text: str, precision: int, scale: int) -> None:
    assert literal_decimal_type(Decimal(text)) == ty.DecimalType(precision, scale)
