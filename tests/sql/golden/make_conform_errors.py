"""Writes the golden cases of ksqlDB's syntax errors, PARTITION BY / key validation and number formatting
(conform_syntax.json, conform_validation.json, conform_formatting.json; issue 14, causes 1, 4 and 7).

Expected errors and outputs come from ksqlDB's rules, spelled out here, never from running Headwater:

- a syntax error is ``line L:C: Syntax Error`` and then the message of ANTLR's DefaultErrorStrategy at the
  offending token (ksqlDB's SqlBase grammar, its error listener): ``missing ';' at 'X'`` when a statement
  starts where the ``;`` is due (single-token insertion), ``extraneous input 'X' expecting ...`` when the token
  after ``X`` is one the rule expects (single-token deletion), ``mismatched input 'X' expecting ...``
  otherwise, and ``no viable alternative at input '...'`` when the prediction of which statement this is fails
  (the statements sharing a first word: CREATE, DROP, SHOW...). An extraneous reserved keyword gets ksqlDB's own
  text (``"FROM" is a reserved keyword and it can't be used as an identifier...``). A quote that is never
  closed is an UNRECOGNIZED token (the grammar's catch-all) that the parser then reports. The expected sets are
  ANTLR's token sets, which a case does not pin (it checks the message up to ``expecting``);
- a persistent query's projection must hold every key (FinalProjectNode): ``Key(s) missing from projection
  (ie, SELECT). The query used to build `X` must include the <kind>(s) <all the expressions> in its
  projection (eg, SELECT ...)``, kind ``key column`` / ``partitioning expression`` / ``grouping expression``;
  a key twice is the duplicate-key error; AS_VALUE copies a key into the value;
- PARTITION BY re-keys a stream before GROUP BY (LogicalPlanner); over a table, a key other than the table's
  own is refused by SchemaKTable.selectKey (``Cannot repartition a TABLE source. If this is a join, make sure
  that the criteria uses the TABLE's key column ID instead of [A]``) and the table's own key changes nothing;
  an aggregate there is no scalar function (``Can't find any functions with the name 'COUNT'``), a window
  bound is refused as outside a windowed projection;
- DELIMITED is written by Commons CSV 1.4 (minimal quoting): the first field of a record is quoted when it is
  empty or does not start with an ASCII letter or digit (so ``-5`` is ``"-5"``), any field holding the
  delimiter, a quote or a line break, or starting at or below ``#``, or ending at or below a space;
- doubles are Java's ``Double.toString`` wherever Jackson writes them, nested in arrays, maps and structs as at
  the top level, NaN and the infinities as JSON strings.

Run ``python -m tests.sql.golden.make_conform_errors`` after changing a spec and commit the JSON.
"""

from __future__ import annotations

import json
from typing import Any

from tests.sql.golden.make_conform_cases import (
    csv_first_field,
    java_double,
    rec,
    stream,
    table,
    write_case_files,
)

Case = dict[str, Any]

S = stream("S", "ID INT KEY, A INT, B STRING", "s")
T = table("T", "ID INT PRIMARY KEY, A INT, B STRING", "t")
RESERVED = "\"{w}\" is a reserved keyword and it can't be used as an identifier. " \
           "You can use it as an identifier by escaping it as `{w}`"


def error(name: str, statements: list[str], message: str, position: str | None = None,
          kind: str = "SqlSyntaxError") -> Case:
    expected: dict[str, Any] = {"type": kind, "message": message}
    if position is not None:
        expected["position"] = position
    return {"name": name, "statements": statements, "expectedException": expected}


# -- cause 1: syntax errors ------------------------------------------------------------------------------
def syntax_cases() -> list[Case]:
    with_ = "WITH (kafka_topic='s', value_format='JSON', partitions=1)"
    cases = [
        error("a missing comma between two columns: mismatched input",
              [f"CREATE STREAM S (ID INT KEY, A INT B STRING) {with_};"],
              "line 1:36: Syntax Error\nmismatched input 'B' expecting", "1:36"),
        error("a missing comma in the projection, the next word an alias: extraneous input",
              [S, "CREATE STREAM O AS SELECT ID A B FROM S;"],
              "Syntax Error\nextraneous input 'B' expecting", "1:32"),
        error("a missing comma between WITH properties: mismatched input",
              [f"CREATE STREAM S (ID INT KEY) WITH (kafka_topic='s' value_format='JSON', partitions=1);"],
              "Syntax Error\nmismatched input 'value_format' expecting", "1:52"),
        error("a misspelt statement keyword after CREATE: no viable alternative",
              [f"CREATE STREM S (ID INT KEY, A INT) {with_};"],
              "line 1:8: Syntax Error\nno viable alternative at input 'CREATE STREM'", "1:8"),
        error("a misspelt keyword after CREATE OR REPLACE: no viable alternative",
              [f"CREATE OR REPLACE TABEL T (ID INT PRIMARY KEY) {with_};"],
              "Syntax Error\nno viable alternative at input 'CREATE OR REPLACE TABEL'", "1:19"),
        error("a misspelt keyword after DROP: no viable alternative", [S, "DROP STREEM S;"],
              "Syntax Error\nno viable alternative at input 'DROP STREEM'", "1:6"),
        error("SHOW of something that is not listed: no viable alternative", ["SHOW STREAM;"],
              "Syntax Error\nno viable alternative at input 'SHOW STREAM'", "1:6"),
        error("a misspelt FROM keeps the text as written (lower case)", [S, "create stream o as select * form s;"],
              "Syntax Error\nmismatched input 'form' expecting", "1:29"),
        error("a misspelt GROUP BY after WHERE", [S, "CREATE TABLE O AS SELECT ID, COUNT(*) AS C FROM S "
                                                    "WHERE A > 1 GRUOP BY ID;"],
              "Syntax Error\nmismatched input 'GRUOP' expecting", "1:63"),
        error("a misspelt EMIT CHANGES", [S, "SELECT * FROM S EMIT CHANGS;"],
              "Syntax Error\nmismatched input 'CHANGS' expecting", "1:22"),
        error("a parenthesis left open in the projection", [S, "CREATE STREAM O AS SELECT ID, (A + 1 FROM S;"],
              "Syntax Error\nmismatched input 'FROM' expecting", "1:38"),
        error("the third line of a statement", [S, "CREATE STREAM O AS\n  SELECT *\nFORM S;"],
              "line 3:1: Syntax Error\nmismatched input 'FORM' expecting", "3:1"),
        error("a string never closed in VALUES: the quote is an unrecognized token, the next word fits",
              [S, "INSERT INTO S (ID, B) VALUES (1, 'abc);"],
              "Syntax Error\nextraneous input ''' expecting", "1:34"),
        error("a string never closed in WITH: the quote is an unrecognized token",
              [f"CREATE STREAM S (ID INT KEY) WITH (value_format='JSON', kafka_topic='s);"],
              "Syntax Error\nmismatched input ''' expecting", "1:69"),
        error("a character no token starts with", [S, "CREATE STREAM O AS SELECT ID, A # B FROM S;"],
              "Syntax Error\nmismatched input '#' expecting", "1:33"),
        error("a missing semicolon between two statements: missing ';' at the second",
              [f"CREATE STREAM S (ID INT KEY, A INT) {with_}\nCREATE STREAM O AS SELECT * FROM S;"],
              "line 2:1: Syntax Error\nmissing ';' at 'CREATE'", "2:1"),
        error("a missing semicolon after SHOW STREAMS", ["SHOW STREAMS\nSHOW TABLES;"],
              "Syntax Error\nmissing ';' at 'SHOW'", "2:1"),
        error("a word after a complete statement: extraneous input", ["SHOW STREAMS foo;"],
              "Syntax Error\nextraneous input 'foo' expecting", "1:14"),
        error("an unknown first word", ["SELEKT * FROM S;"], "line 1:1: Syntax Error\nUnknown statement 'SELEKT'", "1:1"),
    ]
    for word, column in (("SELECT", 30), ("WHERE", 30), ("FROM", 30)):
        cases.append(error(f"the reserved word {word} as a column name",
                           [f"CREATE STREAM S (ID INT KEY, {word} STRING) {with_};"],
                           "Syntax Error\n" + RESERVED.format(w=word), f"1:{column}"))
    cases += [
        error("a reserved word where the projection's next item is due", [S, "CREATE STREAM O AS SELECT ID,\nFROM S;"],
              "line 2:1: Syntax Error\n" + RESERVED.format(w="FROM"), "2:1"),
        error("a reserved word in lower case keeps its spelling", [f"CREATE STREAM S (ID INT KEY, from STRING) {with_};"],
              "Syntax Error\n" + RESERVED.format(w="from"), "1:30"),
        {
            "name": "a reserved word escaped with back quotes, as the error suggests, is a column name",
            "statements": [f"CREATE STREAM S (ID INT KEY, `FROM` STRING) {with_};",
                           "CREATE STREAM O AS SELECT ID, `FROM` FROM S;"],
            "inputs": [rec("s", 1, {"FROM": "x"}, 1)],
            "outputs": [rec("O", 1, {"FROM": "x"}, 1)],
        },
    ]
    return cases


# -- cause 4: PARTITION BY and key validation --------------------------------------------------------------
def validation_cases() -> list[Case]:
    semantic = "SqlSemanticError"
    windowed = "WINDOW TUMBLING (SIZE 1 SECOND) "
    cases = [
        error("PARTITION BY over a table by a value column is refused", [T, "CREATE TABLE O AS SELECT * FROM T PARTITION BY A;"],
              "Cannot repartition a TABLE source. If this is a join, make sure that the criteria uses the TABLE's key "
              "column ID instead of [A]", kind=semantic),
        error("PARTITION BY over a table by an expression is refused",
              [T, "CREATE TABLE O AS SELECT ID, B FROM T PARTITION BY A + 1;"],
              "Cannot repartition a TABLE source. If this is a join, make sure that the criteria uses the TABLE's key "
              "column ID instead of [(A + 1)]", kind=semantic),
        error("PARTITION BY over a table with two key columns is refused",
              [table("T2", "K1 INT PRIMARY KEY, K2 STRING PRIMARY KEY, A INT", "t2", "format='JSON'"),
               "CREATE TABLE O AS SELECT * FROM T2 PARTITION BY A;"],
              "Cannot repartition a TABLE source. If this is a join, joins on tables with multiple columns is not yet "
              "supported.", kind=semantic),
        {
            "name": "PARTITION BY over a table by its own key changes nothing",
            "statements": [T, "CREATE TABLE O AS SELECT * FROM T PARTITION BY ID;"],
            "inputs": [rec("t", 1, {"A": 1, "B": "x"}, 1), rec("t", 1, None, 2)],
            "outputs": [rec("O", 1, {"A": 1, "B": "x"}, 1), rec("O", 1, None, 2)],
        },
        error("PARTITION BY an aggregate in a stream query: no scalar function of that name",
              [S, "CREATE STREAM O AS SELECT ID, A FROM S PARTITION BY COUNT(*);"],
              "Can't find any functions with the name 'COUNT'", kind=semantic),
        error("PARTITION BY an aggregate in an aggregation", [S, "CREATE TABLE O AS SELECT A, COUNT(*) AS C FROM S "
                                                                 "GROUP BY A PARTITION BY SUM(A);"],
              "Can't find any functions with the name 'SUM'", kind=semantic),
        error("PARTITION BY a column that does not exist, in an aggregation",
              [S, "CREATE TABLE O AS SELECT A, COUNT(*) AS C FROM S GROUP BY A PARTITION BY NOPE;"],
              "'NOPE' cannot be resolved", kind=semantic),
        error("PARTITION BY a window bound of a windowed aggregation",
              [S, f"CREATE TABLE O AS SELECT A, COUNT(*) AS C FROM S {windowed}GROUP BY A PARTITION BY WINDOWSTART;"],
              "Window bounds column WINDOWSTART can only be used in the SELECT clause of windowed aggregations and can "
              "not be passed to aggregate functions.", kind=semantic),
        error("PARTITION BY WINDOWEND of a stream that is not windowed",
              [S, "CREATE STREAM O AS SELECT ID, A FROM S PARTITION BY WINDOWEND;"],
              "'WINDOWEND' cannot be resolved", kind=semantic),
        error("PARTITION BY over a table, in an aggregation", [T, "CREATE TABLE O AS SELECT ID, COUNT(*) AS C FROM T "
                                                                  "GROUP BY ID PARTITION BY A;"],
              "Cannot repartition a TABLE source.", kind=semantic),
        {
            "name": "PARTITION BY before GROUP BY: the grouping decides the key and the counts",
            "statements": [S, "CREATE TABLE O AS SELECT A, COUNT(*) AS C FROM S GROUP BY A PARTITION BY B;"],
            "inputs": [rec("s", 1, {"A": 7, "B": "x"}, 1), rec("s", 2, {"A": 7, "B": "y"}, 2),
                       rec("s", 3, {"A": 8, "B": "x"}, 3)],
            "outputs": [rec("O", 7, {"C": 1}, 1), rec("O", 7, {"C": 2}, 2), rec("O", 8, {"C": 1}, 3)],
        },
        error("a PARTITION BY column left out of the projection",
              [S, "CREATE STREAM O AS SELECT ID, B FROM S PARTITION BY A;"],
              "Key missing from projection (ie, SELECT). The query used to build `O` must include the partitioning "
              "expression A in its projection (eg, SELECT A...).", kind=semantic),
        error("a PARTITION BY expression left out of the projection",
              [S, "CREATE STREAM O AS SELECT B FROM S PARTITION BY A + 1;"],
              "The query used to build `O` must include the partitioning expression (A + 1) in its projection "
              "(eg, SELECT (A + 1)...).", kind=semantic),
        error("two PARTITION BY columns left out of the projection",
              [S, "CREATE STREAM O AS SELECT ID FROM S PARTITION BY A, B;"],
              "Keys missing from projection (ie, SELECT). The query used to build `O` must include the partitioning "
              "expressions A, B in its projection (eg, SELECT A, B...).", kind=semantic),
        error("a struct field PARTITION BY left out of the projection",
              [stream("W", "ID INT KEY, P STRUCT<F INT>, B STRING", "w"),
               "CREATE STREAM O AS SELECT ID, B FROM W PARTITION BY P->F;"],
              "must include the partitioning expression P->F in its projection", kind=semantic),
        error("the GROUP BY column left out of the projection",
              [S, "CREATE TABLE O AS SELECT COUNT(*) AS C FROM S GROUP BY A;"],
              "Key missing from projection (ie, SELECT). The query used to build `O` must include the grouping "
              "expression A in its projection (eg, SELECT A...).", kind=semantic),
        error("a GROUP BY expression left out of the projection",
              [S, "CREATE TABLE O AS SELECT COUNT(*) AS C FROM S GROUP BY A + 1;"],
              "must include the grouping expression (A + 1) in its projection (eg, SELECT (A + 1)...).", kind=semantic),
        error("one of two GROUP BY columns left out of the projection",
              [S, "CREATE TABLE O AS SELECT A, COUNT(*) AS C FROM S GROUP BY A, B;"],
              "Keys missing from projection (ie, SELECT). The query used to build `O` must include the grouping "
              "expressions", kind=semantic),
        error("the key column left out of a stream's projection",
              [S, "CREATE STREAM O AS SELECT A, B FROM S;"],
              "Key missing from projection (ie, SELECT). The query used to build `O` must include the key column ID "
              "in its projection (eg, SELECT ID...).", kind=semantic),
        error("the key column left out of a table's projection", [T, "CREATE TABLE O AS SELECT A, B FROM T;"],
              "must include the key column ID in its projection", kind=semantic),
        error("a key column twice in a stream's projection", [S, "CREATE STREAM O AS SELECT ID, ID AS I2, A FROM S;"],
              "The projection contains a key column more than once: `ID` and `I2`.", kind=semantic),
        error("a grouping column twice in the projection",
              [S, "CREATE TABLE O AS SELECT A, A AS X, COUNT(*) AS C FROM S GROUP BY A;"],
              "The projection contains a key column more than once: `A` and `X`.", kind=semantic),
        error("a PARTITION BY expression twice in the projection",
              [S, "CREATE STREAM O AS SELECT A + 1 AS K, A + 1 AS K2, B FROM S PARTITION BY A + 1;"],
              "The projection contains a key column more than once: `K` and `K2`.", kind=semantic),
        {
            "name": "AS_VALUE copies the key into the value",
            "statements": [S, "CREATE STREAM O AS SELECT ID, AS_VALUE(ID) AS I2, A FROM S;"],
            "inputs": [rec("s", 4, {"A": 1}, 1)],
            "outputs": [rec("O", 4, {"I2": 4, "A": 1}, 1)],
        },
        {
            "name": "a PARTITION BY expression selected with an alias names the key",
            "statements": [S, "CREATE STREAM O AS SELECT A + 1 AS K, B FROM S PARTITION BY A + 1;"],
            "inputs": [rec("s", 4, {"A": 1, "B": "b"}, 1)],
            "outputs": [rec("O", 2, {"B": "b"}, 1)],
        },
        {
            "name": "a GROUP BY expression selected without an alias is the key KSQL_COL_0",
            "statements": [S, "CREATE TABLE O AS SELECT A + 1, COUNT(*) AS C FROM S GROUP BY A + 1;", "DESCRIBE O;"],
            "inputs": [rec("s", 4, {"A": 1}, 1)],
            "outputs": [rec("O", 2, {"C": 1}, 1)],
            "responses": [None, None, {"sourceDescription": {"fields": [
                {"name": "KSQL_COL_0", "type": "KEY"}, {"name": "C"}]}}],
        },
    ]
    return cases


# -- cause 7: DELIMITED quoting and nested doubles ----------------------------------------------------
def formatting_cases() -> list[Case]:
    cases = []
    delimited = "CREATE STREAM O WITH (value_format='DELIMITED') AS SELECT ID, X, B FROM S;"
    firsts = [("BIGINT", -5, "-5"), ("BIGINT", 5, "5"), ("DECIMAL(4,2)", "-1.50", "-1.50"),
              ("DOUBLE", -2e22, java_double(-2e22)), ("DOUBLE", 0.5, "0.5"), ("BOOLEAN", True, "true"),
              ("STRING", "-x", "-x"), ("STRING", "_x", "_x"), ("STRING", "é", "é"), ("STRING", "a-b", "a-b"),
              ("STRING", "9 lives", "9 lives"), ("STRING", "+1", "+1")]
    for sql_type, given, text in firsts:
        line = f"{csv_first_field(text)},b"
        cases.append({
            "name": f"DELIMITED first field {sql_type} {given!r} is written {line}",
            "statements": [stream("S", f"ID INT KEY, X {sql_type}, B STRING", "s"), delimited],
            "inputs": [rec("s", 1, json.dumps({"X": given, "B": "b"}) if sql_type != "DECIMAL(4,2)"
                           else f'{{"X": {given}, "B": "b"}}', 1)],
            "outputs": [rec("O", 1, line, 1) | {"valueText": line}],
        })
    for given, text in ((-5.0, "x,-5.0"), (-1.5, "x,-1.5")):
        cases.append({
            "name": f"DELIMITED does not quote {given!r} in a later field",
            "statements": [stream("S", "ID INT KEY, B STRING, X DOUBLE", "s"),
                           "CREATE STREAM O WITH (value_format='DELIMITED') AS SELECT ID, B, X FROM S;"],
            "inputs": [rec("s", 1, {"B": "x", "X": given}, 1)],
            "outputs": [rec("O", 1, text, 1) | {"valueText": text}],
        })
    cases.append({
        "name": "a DELIMITED key of a negative INT is quoted (the key is a record of one field)",
        "statements": [stream("S", "ID INT KEY, K INT, V INT", "s"),
                       "CREATE STREAM O WITH (key_format='DELIMITED') AS SELECT K, V FROM S PARTITION BY K;"],
        "inputs": [rec("s", 1, {"K": -7, "V": 1}, 1)],
        "outputs": [rec("O", '"-7"', {"V": 1}, 1) | {"keyText": '"-7"'}],
    })
    doubles = [2e22, 1e-4, 1.5, 922337203692.0, -2.5e-5, 1e7, 0.001, 0.0]

    def texts(values: list[float]) -> str:
        return ",".join(java_double(v) for v in values)

    nested = [
        ("ARRAY<DOUBLE>", "L", doubles, f'[{texts(doubles)}]'),
        ("MAP<STRING, DOUBLE>", "M", {"a": 2e22, "b": 1.5, "c": 1e-4}, f'{{"a":{java_double(2e22)},"b":1.5,'
                                                                      f'"c":{java_double(1e-4)}}}'),
        ("STRUCT<X DOUBLE, Y DOUBLE>", "R", {"X": 1e-7, "Y": 3.25}, f'{{"X":{java_double(1e-7)},"Y":3.25}}'),
        ("ARRAY<STRUCT<D DOUBLE>>", "N", [{"D": 1.2e10}, {"D": 2.0}], f'[{{"D":{java_double(1.2e10)}}},{{"D":2.0}}]'),
        ("ARRAY<DOUBLE>", "L", [1.5, 2.0], "[1.5,2.0]"),
    ]
    for sql_type, column, value, text in nested:
        value_text = f'{{"{column}":{text}}}'
        cases.append({
            "name": f"JSON writes the doubles of a {sql_type} as Java's Double.toString: {text}",
            "statements": [stream("S", f"ID INT KEY, {column} {sql_type}", "s"),
                           f"CREATE STREAM O AS SELECT ID, {column} FROM S;"],
            "inputs": [rec("s", 1, json.dumps({column: value}), 1)],
            "outputs": [rec("O", 1, {column: value}, 1) | {"valueText": value_text}],
        })
    specials = ["NaN", "Infinity", "-Infinity", "1e300"]
    shown = ",".join(f'"{t}"' if t in ("NaN", "Infinity", "-Infinity") else java_double(float(t)) for t in specials)
    cases.append({
        "name": "JSON writes NaN and the infinities inside an array as strings, as Jackson does",
        "statements": [stream("S", "ID INT KEY, T1 STRING, T2 STRING, T3 STRING, T4 STRING", "s"),
                       "CREATE STREAM O AS SELECT ID, ARRAY[CAST(T1 AS DOUBLE), CAST(T2 AS DOUBLE), CAST(T3 AS DOUBLE), "
                       "CAST(T4 AS DOUBLE)] AS L FROM S;"],
        "inputs": [rec("s", 1, {f"T{i + 1}": t for i, t in enumerate(specials)}, 1)],
        "outputs": [rec("O", 1, {"L": [t if t in ("NaN", "Infinity", "-Infinity") else float(t) for t in specials]}, 1)
                    | {"valueText": f'{{"L":[{shown}]}}'}],
    })
    cases.append({
        "name": "JSON writes the doubles of a computed struct as Java does",
        "statements": [stream("S", "ID INT KEY, D DOUBLE", "s"),
                       "CREATE STREAM O AS SELECT ID, STRUCT(BIG := D * 1e10, SMALL := D / 1e10) AS P FROM S;"],
        "inputs": [rec("s", 1, {"D": 2.5}, 1)],
        "outputs": [rec("O", 1, {"P": {"BIG": 2.5e10, "SMALL": 2.5e-10}}, 1)
                    | {"valueText": f'{{"P":{{"BIG":{java_double(2.5e10)},"SMALL":{java_double(2.5 / 1e10)}}}}}'}],
    })
    return cases


FILES = {
    "conform_syntax": syntax_cases,
    "conform_validation": validation_cases,
    "conform_formatting": formatting_cases,
}


def main() -> None:
    write_case_files(FILES, "make_conform_errors.py")


if __name__ == "__main__":
    main()
