"""Writes the ksqlDB-conformance golden cases (conform_*.json, issue 14) from readable specs.

Expected outputs come from ksqlDB's documented behaviour and the rules of its
code, spelled out here, never from running Headwater:

- comparisons with NULL are false (ksqlDB's generated code checks each side
  for null first), so ``NOT (a = 1)`` holds for a NULL ``a``;
- doubles are written with Java's ``Double.toString`` (Jackson and the
  DELIMITED writer both use it): plain between 1e-3 and 1e7, else
  ``d.dddE±n``; NaN and the infinities are JSON strings (Jackson quotes
  non-numeric numbers); DECIMALs keep their scale (``BigDecimal.toString``);
- join projections name a column that several sources have
  ``<ALIAS>_<NAME>`` (ksqlDB's AstSanitizer); key columns come first in a
  schema, in GROUP BY order for an aggregation;
- EXPLODE / CUBE_EXPLODE as ksqlDB's Explode and Cube UDTFs compute them.

Run ``python -m tests.sql.golden.make_conform_cases`` after changing a spec and
commit the JSON; the runner only reads the JSON. A case whose behaviour
Headwater does not have yet carries ``pending`` (see ``PENDING``).
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from itertools import permutations
from pathlib import Path
from typing import Any

CASES = Path(__file__).parent / "cases"
Case = dict[str, Any]

#: Cases that state ksqlDB's behaviour Headwater does not have yet: name -> reason.
PENDING: dict[str, str] = {}


def java_double(x: float) -> str:
    """Java's ``Double.toString`` (JDK 19+: the shortest digits that read back as ``x``)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0.0" if math.copysign(1, x) < 0 else "0.0"
    sign = "-" if x < 0 else ""
    digits_t = Decimal(repr(abs(x))).as_tuple()
    digits = "".join(map(str, digits_t.digits)).rstrip("0") or "0"
    exponent = digits_t.exponent + len(digits_t.digits) - 1  # of the first digit  # type: ignore[operator]
    if 1e-3 <= abs(x) < 1e7:
        if exponent >= 0:
            whole = digits[: exponent + 1].ljust(exponent + 1, "0")
            frac = digits[exponent + 1:] or "0"
        else:
            whole, frac = "0", "0" * (-exponent - 1) + digits
        return f"{sign}{whole}.{frac}"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{exponent}"


def csv_first_field(text: str) -> str:
    """The first field of a DELIMITED record as Commons CSV 1.4 (ksqlDB's) writes it: quoted when it is empty or
    does not start with an ASCII letter or digit (so ``-5`` is ``"-5"``)."""
    if text and text[0].isascii() and text[0].isalnum() and not any(c in text for c in ',"\r\n') and text[-1] > " ":
        return text
    return '"' + text.replace('"', '""') + '"'


def stream(name: str, columns: str, topic: str, fmt: str = "value_format='JSON'", partitions: int = 1) -> str:
    return f"CREATE STREAM {name} ({columns}) WITH (kafka_topic='{topic}', {fmt}, partitions={partitions});"


def table(name: str, columns: str, topic: str, fmt: str = "value_format='JSON'") -> str:
    return f"CREATE TABLE {name} ({columns}) WITH (kafka_topic='{topic}', {fmt}, partitions=1);"


def rec(topic: str, key: Any, value: Any, ts: int = 0) -> dict[str, Any]:
    return {"topic": topic, "key": key, "value": value, "timestamp": ts}


# -- cause 8: NULL comparisons, null keys ---------------------------------------------------------
OPS = {"=": lambda a, b: a == b, "<>": lambda a, b: a != b, "<": lambda a, b: a < b,
       "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}
S_AB = stream("S", "ID INT KEY, A INT, B INT", "s")


def ksql_compare(op: str, a: Any, b: Any) -> bool:
    return False if a is None or b is None else OPS[op](a, b)


def null_cases() -> list[Case]:
    cases: list[Case] = []
    values = [None, 0, 1, 2]
    for op in OPS:
        for negated in (False, True):
            cond = f"NOT (A {op} 1)" if negated else f"A {op} 1"
            kept = [(i, a) for i, a in enumerate(values, 1) if ksql_compare(op, a, 1) != negated]
            cases.append({
                "name": f"WHERE {cond}: a comparison with NULL is false",
                "statements": [S_AB, f"CREATE STREAM OUT AS SELECT ID, A FROM S WHERE {cond};"],
                "inputs": [rec("s", i, {"A": a, "B": 0}, i) for i, a in enumerate(values, 1)],
                "outputs": [rec("OUT", i, {"A": a}, i) for i, a in kept],
            })
        cases.append({
            "name": f"SELECT A {op} 1: false, not NULL, for a NULL A",
            "statements": [S_AB, f"CREATE STREAM OUT AS SELECT ID, A {op} 1 AS R FROM S;"],
            "inputs": [rec("s", i, {"A": a}, i) for i, a in enumerate(values, 1)],
            "outputs": [rec("OUT", i, {"R": ksql_compare(op, a, 1)}, i) for i, a in enumerate(values, 1)],
        })
    pairs = [(None, 1), (1, None), (None, None), (1, 1), (1, 2), (2, 1)]
    for op in OPS:
        for negated in (False, True):
            cond = f"NOT (A {op} B)" if negated else f"A {op} B"
            cases.append({
                "name": f"WHERE {cond} over two columns that may be NULL",
                "statements": [S_AB, f"CREATE STREAM OUT AS SELECT ID, A, B FROM S WHERE {cond};"],
                "inputs": [rec("s", i, {"A": a, "B": b}, i) for i, (a, b) in enumerate(pairs, 1)],
                "outputs": [rec("OUT", i, {"A": a, "B": b}, i) for i, (a, b) in enumerate(pairs, 1)
                            if ksql_compare(op, a, b) != negated],
            })
    strings = [None, "x", "y"]
    for op in ("=", "<>"):
        for negated in (False, True):
            cond = f"NOT (N {op} 'x')" if negated else f"N {op} 'x'"
            cases.append({
                "name": f"WHERE {cond} over a STRING that may be NULL",
                "statements": [stream("S", "ID INT KEY, N STRING", "s"),
                               f"CREATE STREAM OUT AS SELECT ID, N FROM S WHERE {cond};"],
                "inputs": [rec("s", i, {"N": n}, i) for i, n in enumerate(strings, 1)],
                "outputs": [rec("OUT", i, {"N": n}, i) for i, n in enumerate(strings, 1)
                            if ksql_compare(op, n, "x") != negated],
            })
    # Null keys are written as null keys (no bytes), whatever the key format.
    samples = {("KAFKA", "INT"): 5, ("KAFKA", "BIGINT"): 5, ("KAFKA", "STRING"): "k",
               ("JSON", "INT"): 5, ("JSON", "BIGINT"): 5, ("JSON", "STRING"): '"k"',
               ("DELIMITED", "INT"): "5", ("DELIMITED", "BIGINT"): "5", ("DELIMITED", "STRING"): "k"}
    decoded = {("JSON", "STRING"): "k"}
    for (fmt, type_), sample in samples.items():
        cases.append({
            "name": f"a null {fmt} {type_} key is written as a null key",
            "statements": [stream("S", f"K {type_} KEY, V INT", "s", f"key_format='{fmt}', value_format='JSON'"),
                           "CREATE STREAM OUT AS SELECT * FROM S;"],
            "inputs": [rec("s", None, {"V": 1}, 1), rec("s", sample, {"V": 2}, 2)],
            "outputs": [rec("OUT", None, {"V": 1}, 1), rec("OUT", decoded.get((fmt, type_), sample), {"V": 2}, 2)],
        })
    for fmt in ("KAFKA", "JSON", "DELIMITED"):
        for type_, value, shown in (("INT", 7, 7 if fmt != "DELIMITED" else "7"), ("STRING", "p", "p")):
            cases.append({
                "name": f"PARTITION BY a {type_} column that is null gives a null {fmt} key",
                "statements": [stream("S", f"ID INT KEY, P {type_}, V INT", "s", f"key_format='{fmt}', value_format='JSON'"),
                               "CREATE STREAM OUT AS SELECT P, ID, V FROM S PARTITION BY P;"],
                "inputs": [rec("s", None, {"P": None, "V": 1}, 1), rec("s", None, {"P": value, "V": 2}, 2)],
                "outputs": [rec("OUT", None, {"ID": None, "V": 1}, 1), rec("OUT", shown, {"ID": None, "V": 2}, 2)],
            })
    return cases


# -- cause 3: null values through a CSAS ------------------------------------------------------------
def null_value_cases() -> list[Case]:
    cases = []
    shapes = {"JSON": ("ID INT KEY, A INT, B STRING", {"A": 1, "B": "b"}),
              "DELIMITED": ("ID INT KEY, A INT, B STRING", "1,b"),
              "KAFKA": ("ID INT KEY, A INT", None)}
    for fmt, (columns, value) in shapes.items():
        projection = "ID, A" if fmt != "KAFKA" else "ID, A"
        for select in ("*", projection):
            name = f"CSAS SELECT {select} passes a {fmt} null value on as a null value"
            cases.append({
                "name": name,
                "statements": [stream("S", columns, "s", f"value_format='{fmt}'"),
                               f"CREATE STREAM OUT AS SELECT {select} FROM S;"],
                "inputs": [rec("s", 1, None, 1)],
                "outputs": [rec("OUT", 1, None, 1)],
            })
        cases.append({
            "name": f"CSAS with WHERE drops a {fmt} null value (the filter fails on no row)",
            "statements": [stream("S", columns, "s", f"value_format='{fmt}'"),
                           "CREATE STREAM OUT AS SELECT * FROM S WHERE A > 0;"],
            "inputs": [rec("s", 1, None, 1)],
            "outputs": [],
        })
    del value
    return cases


# -- cause 7: number and text formatting ------------------------------------------------------------
DOUBLES = [0.0, -0.0, 1.0, -1.0, 0.5, 100.5, 1e-3, 9.99e-4, 1e-4, 1.5e-10, 1e7, 9999999.0, 12345678.9,
           922337203692.0, 1e21, 1.7976931348623157e308, 3.141592653589793, -2.5e-5, 123456.789, 0.1,
           0.30000000000000004, 2e22, -1e7, 1234567.0, 1e6, 12.0, -0.001, 5e-5, 0.00099999]
DECIMALS = [("DECIMAL(4, 2)", "12.3", "12.30"), ("DECIMAL(4, 2)", "0", "0.00"), ("DECIMAL(4, 2)", "-1.5", "-1.50"),
            ("DECIMAL(4, 2)", "99.99", "99.99"), ("DECIMAL(4, 2)", "0.05", "0.05"), ("DECIMAL(10, 0)", "12345", "12345"),
            ("DECIMAL(6, 3)", "1.2", "1.200"), ("DECIMAL(2, 2)", "0.1", "0.10"), ("DECIMAL(3, 2)", "-0.5", "-0.50"),
            ("DECIMAL(5, 1)", "1234.5", "1234.5"), ("DECIMAL(5, 4)", "0.0001", "0.0001"), ("DECIMAL(8, 2)", "-999.9", "-999.90"),
            ("DECIMAL(3, 0)", "-7", "-7"), ("DECIMAL(6, 2)", "10", "10.00")]


def number_cases() -> list[Case]:
    cases = []
    source = stream("S", "ID INT KEY, A STRING, D DOUBLE", "s")
    for x in DOUBLES:
        text = java_double(x)
        for fmt in ("JSON", "DELIMITED"):
            expected_text = f'{{"A":"x","D":{text}}}' if fmt == "JSON" else f"x,{text}"
            cases.append({
                "name": f"{fmt} writes the DOUBLE {x!r} as Java's Double.toString: {text}",
                "statements": [source, f"CREATE STREAM OUT WITH (value_format='{fmt}') AS SELECT ID, A, D FROM S;"],
                "inputs": [rec("s", 1, json.dumps({"A": "x", "D": x}), 1)],
                "outputs": [rec("OUT", 1, {"A": "x", "D": x} if fmt == "JSON" else expected_text, 1)
                            | {"valueText": expected_text}],
            })
    for sql_type, given, text in DECIMALS:
        for fmt in ("JSON", "DELIMITED"):
            expected_text = f'{{"A":"x","C":{text}}}' if fmt == "JSON" else f"x,{text}"
            cases.append({
                "name": f"{fmt} writes {given} as {sql_type} with its scale: {text}",
                "statements": [stream("S", f"ID INT KEY, A STRING, C {sql_type}", "s"),
                               f"CREATE STREAM OUT WITH (value_format='{fmt}') AS SELECT ID, A, C FROM S;"],
                "inputs": [rec("s", 1, f'{{"A": "x", "C": {given}}}', 1)],
                "outputs": [rec("OUT", 1, {"A": "x", "C": float(text)} if fmt == "JSON" else expected_text, 1)
                            | {"valueText": expected_text}],
            })
    for given, text in (("NaN", "NaN"), ("Infinity", "Infinity"), ("-Infinity", "-Infinity")):
        for fmt in ("JSON", "DELIMITED"):
            expected_text = f'{{"A":"x","D":"{text}"}}' if fmt == "JSON" else f"x,{text}"
            cases.append({
                "name": f"{fmt} writes the DOUBLE {given} as ksqlDB does: {expected_text}",
                "statements": [stream("S", "ID INT KEY, A STRING, T STRING", "s"),
                               f"CREATE STREAM OUT WITH (value_format='{fmt}') AS SELECT ID, A, CAST(T AS DOUBLE) AS D "
                               "FROM S;"],
                "inputs": [rec("s", 1, {"A": "x", "T": given}, 1)],
                "outputs": [rec("OUT", 1, {"A": "x", "D": text} if fmt == "JSON" else expected_text, 1)
                            | {"valueText": expected_text}],
            })
    quoting = [("a,b", 'x,"a,b"'), ('say "hi"', 'x,"say ""hi"""'), (" lead", 'x," lead"'), ("trail ", 'x,"trail "'),
               ("#tag", 'x,"#tag"'), ("", "x,"), (None, "x,"), ("plain", "x,plain"), ("line\nbreak", 'x,"line\nbreak"')]
    for b, text in quoting:
        cases.append({
            "name": f"DELIMITED quotes the second field {b!r} as Commons CSV's minimal quoting does",
            "statements": [stream("S", "ID INT KEY, A STRING, B STRING", "s"),
                           "CREATE STREAM OUT WITH (value_format='DELIMITED') AS SELECT ID, A, B FROM S;"],
            "inputs": [rec("s", 1, {"A": "x", "B": b}, 1)],
            "outputs": [rec("OUT", 1, text, 1) | {"valueText": text}],
        })
    cases.append({
        "name": "DELIMITED quotes an empty first field, so the line is not empty",
        "statements": [stream("S", "ID INT KEY, A STRING, B STRING", "s"),
                       "CREATE STREAM OUT WITH (value_format='DELIMITED') AS SELECT ID, A, B FROM S;"],
        "inputs": [rec("s", 1, {"A": "", "B": "b"}, 1)],
        "outputs": [rec("OUT", 1, '"",b', 1) | {"valueText": '"",b'}],
    })
    for column, type_, given, text in (("N", "INT", -5, '"-5",b'), ("D", "DOUBLE", -1.5, '"-1.5",b')):
        name = f"DELIMITED quotes a negative {type_} in the first field (Commons CSV's first-field rule)"
        cases.append({
            "name": name,
            "statements": [stream("S", f"ID INT KEY, {column} {type_}, B STRING", "s"),
                           f"CREATE STREAM OUT WITH (value_format='DELIMITED') AS SELECT ID, {column}, B FROM S;"],
            "inputs": [rec("s", 1, {column: given, "B": "b"}, 1)],
            "outputs": [rec("OUT", 1, text, 1) | {"valueText": text}],
        })
    return cases


# -- causes 2 and 6: join naming, self joins, GROUP BY over a join ------------------------------------
S_J = stream("S", "ID INT KEY, NAME STRING, V INT", "s")
S2_J = stream("S2", "ID INT KEY, NAME STRING, W INT", "s2")
T_J = table("T", "ID INT PRIMARY KEY, NAME STRING, F INT", "t")
T2_J = table("T2", "ID INT PRIMARY KEY, NAME STRING, G INT", "t2")


def join_cases() -> list[Case]:
    cases = []
    for aliases in (True, False):
        a, b = ("L", "R") if aliases else ("S", "T")
        frm = "S L" if aliases else "S"
        right = "T R" if aliases else "T"
        for jt in ("INNER", "LEFT"):
            outputs = [rec("J", 1, {f"{a}_NAME": "s1", f"{b}_NAME": "t1", "V": 5, "F": 10}, 10)]
            if jt == "LEFT":
                outputs.append(rec("J", 2, {f"{a}_NAME": "s2", f"{b}_NAME": None, "V": 6, "F": None}, 11))
            cases.append({
                "name": f"stream-table {jt} JOIN names clashing columns {a}_ID, {a}_NAME, {b}_NAME",
                "statements": [S_J, T_J, f"CREATE STREAM J AS SELECT {a}.ID, {a}.NAME, {b}.NAME, V, F FROM {frm} "
                                         f"{jt} JOIN {right} ON {a}.ID = {b}.ID;", "DESCRIBE J;"],
                "responses": [None, None, None, {"sourceDescription": {"fields": [
                    {"name": f"{a}_ID", "type": "KEY"}, {"name": f"{a}_NAME"}, {"name": f"{b}_NAME"}, {"name": "V"},
                    {"name": "F"}]}}],
                "inputs": [rec("t", 1, {"NAME": "t1", "F": 10}, 0), rec("s", 1, {"NAME": "s1", "V": 5}, 10),
                           rec("s", 2, {"NAME": "s2", "V": 6}, 11)],
                "outputs": outputs,
            })
        a2, b2 = ("A", "B") if aliases else ("S", "S2")
        cases.append({
            "name": f"stream-stream JOIN names clashing columns {a2}_ID, {a2}_NAME, {b2}_NAME",
            "statements": [S_J, S2_J, f"CREATE STREAM J AS SELECT {a2}.ID, {a2}.NAME, {b2}.NAME, V, W FROM "
                                      f"{'S A' if aliases else 'S'} JOIN {'S2 B' if aliases else 'S2'} WITHIN 10 SECONDS "
                                      f"ON {a2}.ID = {b2}.ID;"],
            "inputs": [rec("s", 1, {"NAME": "s1", "V": 5}, 10), rec("s2", 1, {"NAME": "x1", "W": 7}, 12)],
            "outputs": [rec("J", 1, {f"{a2}_NAME": "s1", f"{b2}_NAME": "x1", "V": 5, "W": 7}, 12)],
        })
        a3, b3 = ("A", "B") if aliases else ("T", "T2")
        for jt in ("INNER", "LEFT"):
            outputs = [rec("J", 1, {f"{a3}_NAME": "t1", f"{b3}_NAME": "u1", "F": 10, "G": 20}, 5)]
            if jt == "LEFT":
                outputs.insert(0, rec("J", 1, {f"{a3}_NAME": "t1", f"{b3}_NAME": None, "F": 10, "G": None}, 0))
            cases.append({
                "name": f"table-table {jt} JOIN names clashing columns {a3}_ID, {a3}_NAME, {b3}_NAME",
                "statements": [T_J, T2_J, f"CREATE TABLE J AS SELECT {a3}.ID, {a3}.NAME, {b3}.NAME, F, G FROM "
                                          f"{'T A' if aliases else 'T'} {jt} JOIN {'T2 B' if aliases else 'T2'} "
                                          f"ON {a3}.ID = {b3}.ID;"],
                "inputs": [rec("t", 1, {"NAME": "t1", "F": 10}, 0), rec("t2", 1, {"NAME": "u1", "G": 20}, 5)],
                "outputs": outputs,
            })
    fk = table("O", "K INT PRIMARY KEY, ID INT, NAME STRING", "o")
    for jt in ("INNER", "LEFT"):
        cases.append({
            "name": f"foreign-key {jt} JOIN selecting both sides' ID names them O_ID and T_ID",
            "statements": [T_J, fk, f"CREATE TABLE J AS SELECT O.K, O.ID, T.ID, O.NAME, T.NAME FROM O {jt} JOIN T "
                                    "ON O.ID = T.ID;", "DESCRIBE J;"],
            "responses": [None, None, None, {"sourceDescription": {"fields": [
                {"name": "K", "type": "KEY"}, {"name": "O_ID"}, {"name": "T_ID"}, {"name": "O_NAME"},
                {"name": "T_NAME"}]}}],
            "inputs": [rec("t", 1, {"NAME": "t1", "F": 10}, 0), rec("o", 100, {"ID": 1, "NAME": "o1"}, 5)],
            "outputs": [rec("J", 100, {"O_ID": 1, "T_ID": 1, "O_NAME": "o1", "T_NAME": "t1"}, 5)],
        })
    cases += [
        {
            "name": "a join column no other source has keeps its name; an alias wins",
            "statements": [S_J, T_J, "CREATE STREAM J AS SELECT L.ID AS ID, L.V, R.F AS FF, L.NAME AS N1 FROM S L "
                                     "JOIN T R ON L.ID = R.ID;", "DESCRIBE J;"],
            "responses": [None, None, None, {"sourceDescription": {"fields": [
                {"name": "ID", "type": "KEY"}, {"name": "V"}, {"name": "FF"}, {"name": "N1"}]}}],
            "inputs": [rec("t", 1, {"NAME": "t1", "F": 10}, 0), rec("s", 1, {"NAME": "s1", "V": 5}, 10)],
            "outputs": [rec("J", 1, {"V": 5, "FF": 10, "N1": "s1"}, 10)],
        },
        {
            "name": "an unqualified column that two join sources have is ambiguous",
            "statements": [S_J, T_J, "CREATE STREAM J AS SELECT L.ID, NAME FROM S L JOIN T R ON L.ID = R.ID;"],
            "expectedException": {"type": "SqlSemanticError", "message": "Column 'NAME' is ambiguous"},
        },
        {
            "name": "the joined stream's prefixed key feeds the next query",
            "statements": [S_J, T_J, "CREATE STREAM J AS SELECT S.ID, S.NAME, T.NAME FROM S JOIN T ON S.ID = T.ID;",
                           "CREATE STREAM K AS SELECT S_ID, S_NAME AS WHO FROM J;"],
            "inputs": [rec("t", 1, {"NAME": "t1", "F": 10}, 0), rec("s", 1, {"NAME": "s1", "V": 5}, 10)],
            "outputs": [rec("J", 1, {"S_NAME": "s1", "T_NAME": "t1"}, 10), rec("K", 1, {"WHO": "s1"}, 10)],
        },
        {
            "name": "SELECT * of a join prefixes every column with its source",
            "statements": [S_J, T_J, "CREATE STREAM J AS SELECT * FROM S L JOIN T R ON L.ID = R.ID;", "DESCRIBE J;"],
            "responses": [None, None, None, {"sourceDescription": {"fields": [
                {"name": "L_ID", "type": "KEY"}, {"name": "L_NAME"}, {"name": "L_V"}, {"name": "R_ID"},
                {"name": "R_NAME"}, {"name": "R_F"}]}}],
            "inputs": [rec("t", 1, {"NAME": "t1", "F": 10}, 0), rec("s", 1, {"NAME": "s1", "V": 5}, 10)],
            "outputs": [rec("J", 1, {"L_NAME": "s1", "L_V": 5, "R_ID": 1, "R_NAME": "t1", "R_F": 10}, 10)],
        },
    ]
    for kind, ddl in (("stream", S_J), ("table", T_J)):
        src = "S" if kind == "stream" else "T"
        within = " WITHIN 10 SECONDS" if kind == "stream" else ""
        verb = "STREAM" if kind == "stream" else "TABLE"
        cases.append({
            "name": f"a self join of a {kind} is refused, aliases or not",
            "statements": [ddl, f"CREATE {verb} J AS SELECT A.ID, A.NAME FROM {src} A JOIN {src} B{within} ON "
                                "A.ID = B.ID;"],
            "expectedException": {"type": "SqlSemanticError",
                                  "message": f"Can not join '{src}' to '{src}': self joins are not yet supported."},
        })
    joined_inputs = [rec("t", 1, {"NAME": "t1", "F": 10}, 0), rec("t", 2, {"NAME": "t2", "F": 20}, 0),
                     rec("s", 1, {"NAME": "s1", "V": 5}, 10), rec("s", 2, {"NAME": "s2", "V": 6}, 11),
                     rec("s", 1, {"NAME": "s3", "V": 7}, 12)]
    cases += [
        {
            "name": "GROUP BY over a join: a column no other source has keeps its name",
            "statements": [S_J, T_J, "CREATE TABLE C AS SELECT F, SUM(V) AS TOTAL FROM S JOIN T ON S.ID = T.ID "
                                     "GROUP BY F;"],
            "inputs": joined_inputs,
            "outputs": [rec("C", 10, {"TOTAL": 5}, 10), rec("C", 20, {"TOTAL": 6}, 11), rec("C", 10, {"TOTAL": 12}, 12)],
        },
        {
            "name": "GROUP BY over a join with WHERE (it filters the joined rows) and HAVING",
            "statements": [S_J, T_J, "CREATE TABLE C AS SELECT T.NAME, COUNT(*) AS N FROM S JOIN T ON S.ID = T.ID "
                                     "WHERE V > 5 GROUP BY T.NAME HAVING COUNT(*) >= 1;"],
            "inputs": joined_inputs,
            "outputs": [rec("C", "t2", {"N": 1}, 11), rec("C", "t1", {"N": 1}, 12)],
        },
        {
            "name": "a windowed GROUP BY over a join",
            "statements": [S_J, T_J, "CREATE TABLE C AS SELECT T.NAME, COUNT(*) AS N FROM S JOIN T ON S.ID = T.ID "
                                     "WINDOW TUMBLING (SIZE 10 SECONDS) GROUP BY T.NAME;"],
            "inputs": joined_inputs,
            "outputs": [rec("C", "t1", {"N": 1}, 10) | {"window": {"start": 0, "end": 10000}},
                        rec("C", "t2", {"N": 1}, 11) | {"window": {"start": 0, "end": 10000}},
                        rec("C", "t1", {"N": 2}, 12) | {"window": {"start": 0, "end": 10000}}],
        },
        {
            "name": "DROP of a GROUP BY over a join terminates both its queries",
            "statements": [S_J, T_J, "CREATE TABLE C AS SELECT F, COUNT(*) AS N FROM S JOIN T ON S.ID = T.ID "
                                     "GROUP BY F;", "DROP TABLE C;", "SHOW QUERIES;", "DROP STREAM S;"],
            "responses": [None, None, None, None, {"queries": []}, {"commandStatus": {"status": "SUCCESS"}}],
        },
    ]
    name = "GROUP BY over a stream-table join in one statement"
    cases.append({
        "name": name,
        "statements": [S_J, T_J, "CREATE TABLE C AS SELECT T.NAME, COUNT(*) AS N FROM S JOIN T ON S.ID = T.ID "
                                 "GROUP BY T.NAME;"],
        "inputs": [rec("t", 1, {"NAME": "t1", "F": 10}, 0), rec("s", 1, {"NAME": "s1", "V": 5}, 10),
                   rec("s", 1, {"NAME": "s2", "V": 6}, 11)],
        "outputs": [rec("C", "t1", {"N": 1}, 10), rec("C", "t1", {"N": 2}, 11)],
    })
    return cases


# -- cause 6: keys first, GROUP BY key order -----------------------------------------------------------
P_SRC = stream("P", "K INT KEY, ID INT, NAME STRING, X STRING", "p")


def key_cases() -> list[Case]:
    cases = []
    for projection in ("NAME, K", "K, NAME"):
        cases.append({
            "name": f"DESCRIBE lists the key first (CSAS SELECT {projection})",
            "statements": [P_SRC, f"CREATE STREAM B AS SELECT {projection} FROM P;", "DESCRIBE B;"],
            "responses": [None, None, {"sourceDescription": {"fields": [{"name": "K", "type": "KEY"},
                                                                        {"name": "NAME"}]}}],
        })
    cases.append({
        "name": "DESCRIBE lists the GROUP BY key first, before the aggregates",
        "statements": [P_SRC, "CREATE TABLE B AS SELECT COUNT(*) AS C, NAME FROM P GROUP BY NAME;", "DESCRIBE B;"],
        "responses": [None, None, {"sourceDescription": {"fields": [{"name": "NAME", "type": "KEY"},
                                                                    {"name": "C"}]}}],
    })
    cases.append({
        "name": "DESCRIBE lists the PARTITION BY key first",
        "statements": [P_SRC, "CREATE STREAM B AS SELECT K, X, NAME FROM P PARTITION BY NAME;", "DESCRIBE B;"],
        "responses": [None, None, {"sourceDescription": {"fields": [{"name": "NAME", "type": "KEY"},
                                                                    {"name": "K"}, {"name": "X"}]}}],
    })
    cases.append({
        "name": "SELECT * of a CSAS lists the key first",
        "statements": [P_SRC, "CREATE STREAM B AS SELECT NAME, K FROM P;"],
        "inputs": [rec("p", 1, {"ID": 1, "NAME": "a", "X": "x"}, 1)],
        "outputs": [rec("B", 1, {"NAME": "a"}, 1)],
        "queries": [{"sql": "SELECT * FROM B;", "rows": [[1, "a"]]}],
    })
    dup = ("Each key column must only be in the projection once. If you intended to copy the key into the value, "
           "then consider using the AS_VALUE function to indicate which key reference should be copied.")
    for what, sql, first, second in (
            ("the stream key", "CREATE STREAM B AS SELECT K, K AS K2, NAME FROM P;", "K", "K2"),
            ("a GROUP BY key", "CREATE TABLE B AS SELECT NAME, NAME AS N2, COUNT(*) AS C FROM P GROUP BY NAME;",
             "NAME", "N2"),
            ("a PARTITION BY key", "CREATE STREAM B AS SELECT NAME, K, NAME AS N2 FROM P PARTITION BY NAME;",
             "NAME", "N2")):
        cases.append({
            "name": f"a projection with {what} twice is refused",
            "statements": [P_SRC, sql],
            "expectedException": {"type": "SqlSemanticError", "message": "The projection contains a key column more "
                                  f"than once: `{first}` and `{second}`. {dup}"},
        })
    cases.append({
        "name": "AS_VALUE copies the key into the value",
        "statements": [P_SRC, "CREATE STREAM B AS SELECT K, AS_VALUE(K) AS K2, NAME FROM P;"],
        "inputs": [rec("p", 1, {"ID": 1, "NAME": "a", "X": "x"}, 1)],
        "outputs": [rec("B", 1, {"K2": 1, "NAME": "a"}, 1)],
    })
    values = {"ID": 1, "NAME": "a", "X": "x"}
    texts = {"ID": "1", "NAME": "a", "X": "x"}
    for group in permutations(("ID", "NAME")):
        for projection in permutations(("ID", "NAME")):
            cases.append({
                "name": f"GROUP BY {', '.join(group)} (SELECT {', '.join(projection)}): key columns in GROUP BY order",
                "statements": [P_SRC, f"CREATE TABLE T WITH (format='DELIMITED') AS SELECT {', '.join(projection)}, "
                                      f"COUNT(*) AS C FROM P GROUP BY {', '.join(group)};"],
                "inputs": [rec("p", 1, values, 1)],
                "outputs": [rec("T", ",".join(texts[g] for g in group), "1", 1)],
            })
    for group in (("X", "ID", "NAME"), ("NAME", "X", "ID"), ("ID", "X", "NAME")):
        cases.append({
            "name": f"GROUP BY {', '.join(group)}: three key columns in GROUP BY order",
            "statements": [P_SRC, "CREATE TABLE T WITH (format='DELIMITED') AS SELECT ID, NAME, X, COUNT(*) AS C "
                                  f"FROM P GROUP BY {', '.join(group)};"],
            "inputs": [rec("p", 1, values, 1)],
            "outputs": [rec("T", ",".join(texts[g] for g in group), "1", 1)],
        })
    return cases


# -- item 4: table functions -------------------------------------------------------------------------
A_SRC = stream("A", "ID INT KEY, L ARRAY<INT>, M ARRAY<STRING>, N INT", "a")


def cube(values: list[Any]) -> list[list[Any]]:
    """ksqlDB's Cube UDTF: combinations counted in binary from all-NULL; a NULL element gives each once."""
    n = len(values)
    out = []
    for i in range(1 << n):
        if any(values[j] is None and (i >> (n - 1 - j)) & 1 for j in range(n)):
            continue
        out.append([values[j] if (i >> (n - 1 - j)) & 1 else None for j in range(n)])
    return out


def table_function_cases() -> list[Case]:
    cases = []
    arrays = [[1, 2, 3], [7], [], None, [None, 4], [5, 5]]
    for i, arr in enumerate(arrays):
        cases.append({
            "name": f"EXPLODE({arr}) gives one row per element",
            "statements": [A_SRC, "CREATE STREAM O AS SELECT ID, EXPLODE(L) AS E FROM A;"],
            "inputs": [rec("a", i, {"L": arr}, 1)],
            "outputs": [rec("O", i, {"E": e}, 1) for e in (arr or [])],
        })
    zips = [([1, 2, 3], ["x"]), ([], ["p", "q"]), (None, None), ([1], [])]
    for i, (left, right) in enumerate(zips):
        n = max(len(left or []), len(right or []))
        rows = [{"E": (left or [])[k] if k < len(left or []) else None,
                 "F": (right or [])[k] if k < len(right or []) else None} for k in range(n)]
        cases.append({
            "name": f"two EXPLODEs zip {left} and {right}, padding the shorter with NULLs",
            "statements": [A_SRC, "CREATE STREAM O AS SELECT ID, EXPLODE(L) AS E, EXPLODE(M) AS F FROM A;"],
            "inputs": [rec("a", i, {"L": left, "M": right}, 1)],
            "outputs": [rec("O", i, row, 1) for row in rows],
        })
    cases.append({
        "name": "EXPLODE with other columns repeats them on every row; WHERE filters the input first",
        "statements": [A_SRC, "CREATE STREAM O AS SELECT ID, N, EXPLODE(L) AS E FROM A WHERE N > 0;"],
        "inputs": [rec("a", 1, {"L": [1, 2], "N": 5}, 1), rec("a", 2, {"L": [3], "N": 0}, 2)],
        "outputs": [rec("O", 1, {"N": 5, "E": 1}, 1), rec("O", 1, {"N": 5, "E": 2}, 1)],
    })
    cases.append({
        "name": "an unaliased EXPLODE is named KSQL_COL_0",
        "statements": [A_SRC, "CREATE STREAM O AS SELECT ID, EXPLODE(M) FROM A;"],
        "inputs": [rec("a", 1, {"M": ["a", "b"]}, 1)],
        "outputs": [rec("O", 1, {"KSQL_COL_0": "a"}, 1), rec("O", 1, {"KSQL_COL_0": "b"}, 1)],
    })
    cases.append({
        "name": "EXPLODE in a push query",
        "statements": [A_SRC],
        "inputs": [rec("a", 1, {"L": [4, 5]}, 1)],
        "queries": [{"sql": "SELECT ID, EXPLODE(L) AS E FROM A EMIT CHANGES LIMIT 2;", "rows": [[1, 4], [1, 5]]}],
    })
    for i, arr in enumerate([[1, 2], [5, None], [9], [1, 2, 3], []]):
        cases.append({
            "name": f"CUBE_EXPLODE({arr}) as ksqlDB's Cube UDTF",
            "statements": [A_SRC, "CREATE STREAM O AS SELECT ID, CUBE_EXPLODE(L) AS C FROM A;"],
            "inputs": [rec("a", i, {"L": arr}, 1)],
            "outputs": [rec("O", i, {"C": c}, 1) for c in cube(arr)],
        })
    cases.append({
        "name": "CUBE_EXPLODE of a NULL array gives no row",
        "statements": [A_SRC, "CREATE STREAM O AS SELECT ID, CUBE_EXPLODE(L) AS C FROM A;"],
        "inputs": [rec("a", 1, {"L": None}, 1)],
        "outputs": [],
    })
    cases.append({
        "name": "a table function in WHERE is refused",
        "statements": [A_SRC, "CREATE STREAM O AS SELECT ID FROM A WHERE EXPLODE(L) > 1;"],
        "expectedException": {"type": "SqlSemanticError", "message": "Table function EXPLODE can only be used in the "
                                                                     "SELECT clause"},
    })
    return cases


# -- REST items and cause 4: types, DROP of a derived source, pull queries on streams, validation ----------
def ddl_cases() -> list[Case]:
    addr = "CREATE TYPE ADDRESS AS STRUCT<NUMBER INT, STREET STRING>;"
    cases = [
        {
            "name": "CREATE TYPE registers a type; SHOW TYPES lists it",
            "statements": [addr, "SHOW TYPES;"],
            "responses": [{"commandStatus": {"status": "SUCCESS", "message": "Registered custom type with name "
                                             "'ADDRESS' and SQL type STRUCT<`NUMBER` INTEGER, `STREET` STRING>"}},
                          {"@type": "type_list", "types": {"ADDRESS": {"type": "STRUCT", "fields": [
                              {"name": "NUMBER", "schema": {"type": "INTEGER"}},
                              {"name": "STREET", "schema": {"type": "STRING"}}]}}}],
        },
        {
            "name": "a stream declared with a custom type reads and writes it",
            "statements": [addr, stream("S", "ID INT KEY, A ADDRESS", "s"),
                           "CREATE STREAM O AS SELECT ID, A->STREET AS STREET FROM S;"],
            "inputs": [rec("s", 1, {"A": {"NUMBER": 5, "STREET": "main"}}, 1)],
            "outputs": [rec("O", 1, {"STREET": "main"}, 1)],
        },
        {
            "name": "a custom type inside an ARRAY and a MAP",
            "statements": [addr, stream("S", "ID INT KEY, L ARRAY<ADDRESS>, M MAP<STRING, ADDRESS>", "s"),
                           "CREATE STREAM O AS SELECT ID, L[1]->NUMBER AS N, M['k']->STREET AS ST FROM S;"],
            "inputs": [rec("s", 1, {"L": [{"NUMBER": 3, "STREET": "a"}], "M": {"k": {"NUMBER": 4, "STREET": "b"}}}, 1)],
            "outputs": [rec("O", 1, {"N": 3, "ST": "b"}, 1)],
        },
        {
            "name": "CAST to a custom type",
            "statements": ["CREATE TYPE PAIR AS STRUCT<A INT, B STRING>;", stream("S", "ID INT KEY, X INT", "s"),
                           "CREATE STREAM O AS SELECT ID, CAST(STRUCT(A := X, B := 'b') AS PAIR) AS P FROM S;"],
            "inputs": [rec("s", 1, {"X": 9}, 1)],
            "outputs": [rec("O", 1, {"P": {"A": 9, "B": "b"}}, 1)],
        },
        {
            "name": "CREATE TYPE of a name already registered is refused",
            "statements": [addr, "CREATE TYPE ADDRESS AS INT;"],
            "expectedException": {"type": "SqlSemanticError", "message": "Cannot register custom type 'ADDRESS' since "
                                  "it is already registered with type: STRUCT<`NUMBER` INTEGER, `STREET` STRING>"},
        },
        {
            "name": "CREATE TYPE IF NOT EXISTS keeps the first definition",
            "statements": [addr, "CREATE TYPE IF NOT EXISTS ADDRESS AS INT;", "SHOW TYPES;"],
            "responses": [None, None, {"types": {"ADDRESS": {"type": "STRUCT"}}}],
        },
        {
            "name": "DROP TYPE removes it; a later use is an unknown type",
            "statements": [addr, "DROP TYPE ADDRESS;", stream("S", "ID INT KEY, A ADDRESS", "s")],
            "expectedException": {"type": "SqlSemanticError", "message": "Unknown type: ADDRESS"},
        },
        {
            "name": "DROP TYPE of an unknown type is refused, IF EXISTS is not",
            "statements": ["DROP TYPE IF EXISTS NOPE;", "DROP TYPE NOPE;"],
            "expectedException": {"type": "SqlSemanticError", "message": "Type NOPE does not exist."},
        },
        {
            "name": "DROP STREAM of a CSAS sink terminates its query; the name can be created again",
            "statements": [stream("S", "ID INT KEY, V INT", "s"), "CREATE STREAM O AS SELECT * FROM S WHERE V > 1;",
                           "DROP STREAM O;", "CREATE STREAM O AS SELECT * FROM S WHERE V > 5;"],
            "inputs": [rec("s", 1, {"V": 3}, 1), rec("s", 2, {"V": 7}, 2)],
            "outputs": [rec("O", 2, {"V": 7}, 2)],
        },
        {
            "name": "DROP TABLE of a CTAS sink terminates its query",
            "statements": [stream("S", "ID INT KEY, V INT", "s"),
                           "CREATE TABLE C AS SELECT ID, COUNT(*) AS N FROM S GROUP BY ID;", "DROP TABLE C;",
                           "SHOW QUERIES;"],
            "responses": [None, None, {"commandStatus": {"status": "SUCCESS"}}, {"queries": []}],
        },
        {
            "name": "DROP of a source another query reads is refused",
            "statements": [stream("S", "ID INT KEY, V INT", "s"), "CREATE STREAM O AS SELECT * FROM S;",
                           "DROP STREAM S;"],
            "expectedException": {"type": "SqlSemanticError", "message": "Cannot drop S"},
        },
        {
            "name": "DROP ... DELETE TOPIC of a CSAS sink terminates its query and deletes the topic",
            "statements": [stream("S", "ID INT KEY, V INT", "s"), "CREATE STREAM O AS SELECT * FROM S;",
                           "DROP STREAM O DELETE TOPIC;", "SHOW QUERIES;"],
            "responses": [None, None, {"commandStatus": {"message": "Source `O` (topic: O) was dropped."}},
                          {"queries": []}],
        },
        {
            "name": "DROP STREAM ... DELETE TOPIC of a read-only SOURCE stream is refused",
            "statements": ["CREATE SOURCE STREAM S (ID INT KEY, V INT) WITH (kafka_topic='s', value_format='JSON', "
                           "partitions=1);", "DROP STREAM S DELETE TOPIC;"],
            "expectedException": {"type": "SqlSemanticError", "message": "Cannot delete topic for read-only source: S"},
        },
        {
            "name": "DROP TABLE ... DELETE TOPIC of a read-only SOURCE table is refused",
            "statements": ["CREATE SOURCE TABLE T (ID INT PRIMARY KEY, V INT) WITH (kafka_topic='t', "
                           "value_format='JSON', partitions=1);", "DROP TABLE T DELETE TOPIC;"],
            "expectedException": {"type": "SqlSemanticError", "message": "Cannot delete topic for read-only source: T"},
        },
    ]
    for what, columns in (("a keyless stream", "V INT"), ("a keyed stream", "ID INT KEY, V INT")):
        cases.append({
            "name": f"an unknown KEY_FORMAT on {what} is refused",
            "statements": [stream("S", columns, "s", "key_format='NOPE', value_format='JSON'")],
            "expectedException": {"type": "SqlSemanticError", "message": "Unknown format: NOPE"},
        })
    pulls = [("SELECT * FROM S;", [[1, "a", 10], [2, "b", 20], [3, "c", None]]),
             ("SELECT NAME FROM S WHERE ID = 2;", [["b"]]),
             ("SELECT ID FROM S WHERE V > 10;", [[2]]),
             ("SELECT ID, V FROM S WHERE V IS NULL;", [[3, None]]),
             ("SELECT * FROM S LIMIT 2;", [[1, "a", 10], [2, "b", 20]]),
             ("SELECT UCASE(NAME) AS U FROM S WHERE ID < 3;", [["A"], ["B"]])]
    for sql, rows in pulls:
        cases.append({
            "name": f"a pull query on a stream scans its topic: {sql}",
            "statements": [stream("S", "ID INT KEY, NAME STRING, V INT", "s")],
            "inputs": [rec("s", 1, {"NAME": "a", "V": 10}, 1), rec("s", 2, {"NAME": "b", "V": 20}, 2),
                       rec("s", 9, None, 3), rec("s", 3, {"NAME": "c", "V": None}, 4)],
            "queries": [{"sql": sql, "rows": rows}],
        })
    return cases


# -- cause 5: emission ---------------------------------------------------------------------------------
def emission_cases() -> list[Case]:
    cases = [{
        "name": "a record with a negative timestamp is dropped (Kafka Streams skips invalid timestamps)",
        "statements": [stream("S", "ID INT KEY, V INT", "s"), "CREATE STREAM O AS SELECT * FROM S;"],
        "inputs": [rec("s", 1, {"V": 1}, -5), rec("s", 2, {"V": 2}, 5)],
        "outputs": [rec("O", 2, {"V": 2}, 5)],
    }, {
        "name": "a record with a negative timestamp does not count in an aggregation",
        "statements": [stream("S", "ID INT KEY, V INT", "s"), "CREATE TABLE C AS SELECT ID, COUNT(*) AS N FROM S "
                                                            "GROUP BY ID;"],
        "inputs": [rec("s", 1, {"V": 1}, -5), rec("s", 1, {"V": 2}, 5)],
        "outputs": [rec("C", 1, {"N": 1}, 5)],
    }]
    table_src = table("T", "ID INT PRIMARY KEY, G STRING, X INT", "t")
    cases += [
        {
            "name": "HAVING emits no tombstone for a group that never qualified",
            "statements": [stream("S", "ID INT KEY, G STRING", "s"),
                           "CREATE TABLE C AS SELECT G, COUNT(*) AS N FROM S GROUP BY G HAVING COUNT(*) > 1;"],
            "inputs": [rec("s", 1, {"G": "a"}, 1), rec("s", 2, {"G": "a"}, 2), rec("s", 3, {"G": "b"}, 3)],
            "outputs": [rec("C", "a", {"N": 2}, 2)],
        },
        {
            "name": "a table row updated within its group emits one update (Kafka Streams 3.5+)",
            "statements": [table_src, "CREATE TABLE C AS SELECT G, SUM(X) AS S FROM T GROUP BY G;"],
            "inputs": [rec("t", 1, {"G": "a", "X": 1}, 1), rec("t", 1, {"G": "a", "X": 5}, 2)],
            "outputs": [rec("C", "a", {"S": 1}, 1), rec("C", "a", {"S": 5}, 2)],
        },
        {
            "name": "COLLECT_LIST over a changing table emits one update, not a retraction then the value",
            "statements": [table_src, "CREATE TABLE C AS SELECT G, COLLECT_LIST(X) AS L FROM T GROUP BY G;"],
            "inputs": [rec("t", 1, {"G": "a", "X": 1}, 1), rec("t", 1, {"G": "a", "X": 2}, 2)],
            "outputs": [rec("C", "a", {"L": [1]}, 1), rec("C", "a", {"L": [2]}, 2)],
        },
        {
            "name": "EMIT FINAL emits only the windows stream time has closed",
            "statements": [stream("S", "ID INT KEY, G STRING", "s"),
                           "CREATE TABLE C AS SELECT G, COUNT(*) AS N FROM S WINDOW TUMBLING (SIZE 10 SECONDS, "
                           "GRACE PERIOD 0 SECONDS) GROUP BY G EMIT FINAL;"],
            "inputs": [rec("s", 1, {"G": "a"}, 1000), rec("s", 2, {"G": "a"}, 5000), rec("s", 3, {"G": "a"}, 15000)],
            "outputs": [rec("C", "a", {"N": 2}, 5000) | {"window": {"start": 0, "end": 10000}}],
        },
    ]
    return cases


# -- cause 9: headers ------------------------------------------------------------------------------------
def header_cases() -> list[Case]:
    hdrs = [{"KEY": "trace", "VALUE": "AQI="}, {"KEY": "n", "VALUE": None}]
    copied = [{
        "name": f"a stateless query copies each input record's headers to its output ({what})",
        "statements": [stream("S", "ID INT KEY, V INT", "s"), sql],
        "inputs": [rec("s", 1, {"V": 1}, 1) | {"headers": hdrs}, rec("s", 2, {"V": 2}, 2)],
        "outputs": [rec("O", key, value, ts) | {"headers": h} for key, value, ts, h in expected],
    } for what, sql, expected in (
        ("SELECT *", "CREATE STREAM O AS SELECT * FROM S;", [(1, {"V": 1}, 1, hdrs), (2, {"V": 2}, 2, [])]),
        ("WHERE", "CREATE STREAM O AS SELECT * FROM S WHERE V > 1;", [(2, {"V": 2}, 2, [])]),
        ("PARTITION BY", "CREATE STREAM O AS SELECT V, ID FROM S PARTITION BY V;",
         [(1, {"ID": 1}, 1, hdrs), (2, {"ID": 2}, 2, [])]),
    )]
    return copied + [{
        "name": "SELECT * includes the HEADERS column",
        "statements": [stream("S", "ID INT KEY, V INT, H ARRAY<STRUCT<KEY STRING, VALUE BYTES>> HEADERS", "s"),
                       "CREATE STREAM O AS SELECT * FROM S;"],
        "inputs": [rec("s", 1, {"V": 1}, 1) | {"headers": [{"KEY": "k", "VALUE": "dg=="}]}],
        "outputs": [rec("O", 1, {"V": 1, "H": [{"KEY": "k", "VALUE": "dg=="}]}, 1)],
    }, {
        "name": "SELECT * includes a HEADER('k') column",
        "statements": [stream("S", "ID INT KEY, V INT, T BYTES HEADER('trace')", "s"),
                       "CREATE STREAM O AS SELECT * FROM S;"],
        "inputs": [rec("s", 1, {"V": 1}, 1) | {"headers": [{"KEY": "trace", "VALUE": "AQI="}]}],
        "outputs": [rec("O", 1, {"V": 1, "T": "AQI="}, 1)],
    }]



# -- more of the same rules, over other types and keys ---------------------------------------------------
TYPED_SAMPLES = {"BIGINT": (1, 2), "DOUBLE": (1.5, 2.5), "DECIMAL(4, 2)": ("1.50", "2.50"), "STRING": ("a", "b"),
                 "BOOLEAN": (True, False)}


def more_null_cases() -> list[Case]:
    cases = []
    for type_, (one, two) in TYPED_SAMPLES.items():
        literal = {"STRING": f"'{one}'", "BOOLEAN": "true", "DECIMAL(4, 2)": "1.50"}.get(type_, str(one))
        raw = [None, one, two]
        json_value = {"DECIMAL(4, 2)": lambda v: None if v is None else float(v)}.get(type_, lambda v: v)
        for op in ("=", "<>"):
            for negated in (False, True):
                cond = f"NOT (X {op} {literal})" if negated else f"X {op} {literal}"
                kept = [i for i, v in enumerate(raw, 1) if ksql_compare(op, v, one) != negated]
                cases.append({
                    "name": f"WHERE {cond} over a {type_} that may be NULL",
                    "statements": [stream("S", f"ID INT KEY, X {type_}", "s"),
                                   f"CREATE STREAM OUT AS SELECT ID, X FROM S WHERE {cond};"],
                    "inputs": [rec("s", i, f'{{"X": {json.dumps(json_value(v)) if v is not None else "null"}}}', i)
                               for i, v in enumerate(raw, 1)],
                    "outputs": [rec("OUT", i, {"X": json_value(raw[i - 1])}, i) for i in kept],
                })
    for negated in (False, True):
        word = "IS NOT DISTINCT FROM" if negated else "IS DISTINCT FROM"
        pairs = [(None, None), (None, 1), (1, 1), (1, 2)]
        for i_case, select in enumerate(("WHERE", "SELECT")):
            if select == "WHERE":
                cases.append({
                    "name": f"WHERE A {word} B treats NULLs as values",
                    "statements": [S_AB, f"CREATE STREAM OUT AS SELECT ID, A FROM S WHERE A {word} B;"],
                    "inputs": [rec("s", i, {"A": a, "B": b}, i) for i, (a, b) in enumerate(pairs, 1)],
                    "outputs": [rec("OUT", i, {"A": a}, i) for i, (a, b) in enumerate(pairs, 1) if (a != b) != negated],
                })
            else:
                cases.append({
                    "name": f"SELECT A {word} B treats NULLs as values",
                    "statements": [S_AB, f"CREATE STREAM OUT AS SELECT ID, A {word} B AS R FROM S;"],
                    "inputs": [rec("s", i, {"A": a, "B": b}, i) for i, (a, b) in enumerate(pairs, 1)],
                    "outputs": [rec("OUT", i, {"R": (a != b) != negated}, i) for i, (a, b) in enumerate(pairs, 1)],
                })
    for fmt in ("JSON", "DELIMITED"):
        cases.append({
            "name": f"a two-column {fmt} key whose columns are all null is a null key",
            "statements": [stream("S", "ID INT KEY, A STRING, B INT", "s"),
                           f"CREATE STREAM OUT WITH (key_format='{fmt}') AS SELECT A, B, ID FROM S PARTITION BY A, B;"],
            "inputs": [rec("s", 1, {"A": None, "B": None}, 1)],
            "outputs": [rec("OUT", None, {"ID": 1}, 1)],
        })
    return cases


def more_number_cases() -> list[Case]:
    cases = []
    for x in (922337203692.0, 1e7, 1e-4, 100.5, 0.1, -2.5e-5, 12345678.9, 1.0, 2e22, 0.001):
        text = java_double(x)
        for fmt in ("DELIMITED", "JSON"):
            cases.append({
                "name": f"a {fmt} key of the DOUBLE {x!r} is written {text}",
                "statements": [stream("S", "ID INT KEY, D DOUBLE, V INT", "s"),
                               f"CREATE STREAM OUT WITH (key_format='{fmt}') AS SELECT D, V FROM S PARTITION BY D;"],
                "inputs": [rec("s", 1, json.dumps({"D": x, "V": 1}), 1)],
                "outputs": [rec("OUT", csv_first_field(text) if fmt == "DELIMITED" else x, {"V": 1}, 1)
                            | {"keyText": csv_first_field(text) if fmt == "DELIMITED" else text}],
            })
    return cases


def more_key_cases() -> list[Case]:
    cases = []
    for group in permutations(("ID", "NAME")):
        for projection in permutations(("ID", "NAME")):
            text = "{" + ",".join({"ID": '"ID":1', "NAME": '"NAME":"a"'}[g] for g in group) + "}"
            cases.append({
                "name": f"a JSON key of GROUP BY {', '.join(group)} (SELECT {', '.join(projection)}) has GROUP BY order",
                "statements": [P_SRC, f"CREATE TABLE T WITH (key_format='JSON') AS SELECT {', '.join(projection)}, "
                                      f"COUNT(*) AS C FROM P GROUP BY {', '.join(group)};"],
                "inputs": [rec("p", 1, {"ID": 1, "NAME": "a", "X": "x"}, 1)],
                "outputs": [rec("T", {"ID": 1, "NAME": "a"}, {"C": 1}, 1) | {"keyText": text}],
            })
    return cases


def more_table_function_cases() -> list[Case]:
    nested = stream("N", "ID INT KEY, LL ARRAY<ARRAY<INT>>, LS ARRAY<STRUCT<A INT, B STRING>>, W ARRAY<STRING>", "n")
    cases = [
        {
            "name": "EXPLODE of an array of arrays gives the inner arrays",
            "statements": [nested, "CREATE STREAM O AS SELECT ID, EXPLODE(LL) AS E FROM N;"],
            "inputs": [rec("n", 1, {"LL": [[1, 2], [], None]}, 1)],
            "outputs": [rec("O", 1, {"E": [1, 2]}, 1), rec("O", 1, {"E": []}, 1), rec("O", 1, {"E": None}, 1)],
        },
        {
            "name": "EXPLODE of an array of structs, then a field of each",
            "statements": [nested, "CREATE STREAM O AS SELECT ID, EXPLODE(LS) AS E FROM N;",
                           "CREATE STREAM P AS SELECT ID, E->B AS B FROM O;"],
            "inputs": [rec("n", 1, {"LS": [{"A": 1, "B": "x"}, {"A": 2, "B": "y"}]}, 1)],
            "outputs": [rec("O", 1, {"E": {"A": 1, "B": "x"}}, 1), rec("O", 1, {"E": {"A": 2, "B": "y"}}, 1),
                        rec("P", 1, {"B": "x"}, 1), rec("P", 1, {"B": "y"}, 1)],
        },
        {
            "name": "EXPLODE of an array literal",
            "statements": [nested, "CREATE STREAM O AS SELECT ID, EXPLODE(ARRAY[10, 20]) AS E FROM N;"],
            "inputs": [rec("n", 1, {"W": []}, 1)],
            "outputs": [rec("O", 1, {"E": 10}, 1), rec("O", 1, {"E": 20}, 1)],
        },
        {
            "name": "EXPLODE of a function's array (SPLIT)",
            "statements": [stream("S", "ID INT KEY, T STRING", "s"),
                           "CREATE STREAM O AS SELECT ID, EXPLODE(SPLIT(T, ',')) AS W FROM S;"],
            "inputs": [rec("s", 1, {"T": "a,b,c"}, 1)],
            "outputs": [rec("O", 1, {"W": w}, 1) for w in ("a", "b", "c")],
        },
        {
            "name": "EXPLODE keeps each input record's timestamp",
            "statements": [nested, "CREATE STREAM O AS SELECT ID, EXPLODE(W) AS E FROM N;"],
            "inputs": [rec("n", 1, {"W": ["a", "b"]}, 7), rec("n", 2, {"W": ["c"]}, 9)],
            "outputs": [rec("O", 1, {"E": "a"}, 7), rec("O", 1, {"E": "b"}, 7), rec("O", 2, {"E": "c"}, 9)],
        },
        {
            "name": "a table function over a table is refused",
            "statements": [table("T", "ID INT PRIMARY KEY, W ARRAY<STRING>", "t"),
                           "CREATE TABLE O AS SELECT ID, EXPLODE(W) AS E FROM T;"],
            "expectedException": {"type": "SqlSemanticError", "message": "Table functions are not supported on tables"},
        },
    ]
    for i, words in enumerate((["a", "b"], ["x", None], ["solo"])):
        cases.append({
            "name": f"CUBE_EXPLODE of the strings {words}",
            "statements": [nested, "CREATE STREAM O AS SELECT ID, CUBE_EXPLODE(W) AS C FROM N;"],
            "inputs": [rec("n", i, {"W": words}, 1)],
            "outputs": [rec("O", i, {"C": c}, 1) for c in cube(words)],
        })
    return cases


def more_ddl_cases() -> list[Case]:
    addr = "CREATE TYPE ADDRESS AS STRUCT<NUMBER INT, STREET STRING>;"
    users = table("U", "ID INT PRIMARY KEY, NAME STRING", "u")
    return [
        {
            "name": "a custom type names another custom type",
            "statements": [addr, "CREATE TYPE PERSON AS STRUCT<NAME STRING, HOME ADDRESS>;",
                           stream("S", "ID INT KEY, P PERSON", "s"),
                           "CREATE STREAM O AS SELECT ID, P->HOME->STREET AS ST FROM S;"],
            "inputs": [rec("s", 1, {"P": {"NAME": "n", "HOME": {"NUMBER": 1, "STREET": "elm"}}}, 1)],
            "outputs": [rec("O", 1, {"ST": "elm"}, 1)],
        },
        {
            "name": "a table declared with a custom type",
            "statements": [addr, table("T", "ID INT PRIMARY KEY, A ADDRESS", "t"),
                           "CREATE TABLE O AS SELECT ID, A->NUMBER AS N FROM T;"],
            "inputs": [rec("t", 1, {"A": {"NUMBER": 5, "STREET": "x"}}, 1)],
            "outputs": [rec("O", 1, {"N": 5}, 1)],
        },
        {
            "name": "SHOW TYPES after DROP TYPE is empty",
            "statements": [addr, "DROP TYPE ADDRESS;", "SHOW TYPES;"],
            "responses": [None, {"commandStatus": {"message": "Dropped type 'ADDRESS'"}}, {"types": {}}],
        },
        {
            "name": "a drop-and-recreate migration script of a CTAS runs",
            "statements": [stream("S", "ID INT KEY, V INT", "s"),
                           "CREATE TABLE C AS SELECT ID, SUM(V) AS T FROM S GROUP BY ID;",
                           "DROP TABLE IF EXISTS C DELETE TOPIC;",
                           "CREATE TABLE C AS SELECT ID, COUNT(*) AS T FROM S GROUP BY ID;"],
            "inputs": [rec("s", 1, {"V": 5}, 1)],
            "outputs": [rec("C", 1, {"T": 1}, 1)],
        },
        {
            "name": "DROP of a join's sink terminates the join query",
            "statements": [stream("S", "ID INT KEY, V INT", "s"), users,
                           "CREATE STREAM J AS SELECT S.ID, V, NAME FROM S JOIN U ON S.ID = U.ID;", "DROP STREAM J;",
                           "DROP TABLE U;"],
            "responses": [None, None, None, {"commandStatus": {"status": "SUCCESS"}},
                          {"commandStatus": {"status": "SUCCESS"}}],
        },
        {
            "name": "an unknown KEY_FORMAT on a table is refused",
            "statements": [table("T", "ID INT PRIMARY KEY, V INT", "t", "key_format='NOPE', value_format='JSON'")],
            "expectedException": {"type": "SqlSemanticError", "message": "Unknown format: NOPE"},
        },
        {
            "name": "a key lookup runs with table scans disabled",
            "properties": {"ksql.query.pull.table.scan.enabled": "false"},
            "statements": [stream("S", "ID INT KEY, V INT", "s"),
                           "CREATE TABLE C AS SELECT ID, COUNT(*) AS N FROM S GROUP BY ID;"],
            "inputs": [rec("s", 1, {"V": 1}, 1), rec("s", 2, {"V": 1}, 2), rec("s", 1, {"V": 1}, 3)],
            "outputs": [rec("C", 1, {"N": 1}, 1), rec("C", 2, {"N": 1}, 2), rec("C", 1, {"N": 2}, 3)],
            "queries": [{"sql": "SELECT N FROM C WHERE ID = 1;", "rows": [[2]]},
                        {"sql": "SELECT ID, N FROM C WHERE ID IN (2, 3);", "rows": [[2, 1]]}],
        },
        {
            "name": "a pull query on a stream with its key column filtered and a header column",
            "statements": [stream("S", "ID INT KEY, V INT, H ARRAY<STRUCT<KEY STRING, VALUE BYTES>> HEADERS", "s")],
            "inputs": [rec("s", 1, {"V": 1}, 1), rec("s", 2, {"V": 2}, 2)],
            "queries": [{"sql": "SELECT ID, V FROM S WHERE ID = 2;", "rows": [[2, 2]]}],
        },
    ]


def more_join_cases() -> list[Case]:
    return [{
        "name": f"a three-way join names the NAME of each source{' by alias' if aliases else ''}",
        "statements": [S_J, T_J, T2_J,
                       f"CREATE STREAM J AS SELECT {a}.ID, {a}.NAME, {b}.NAME, {c}.NAME FROM "
                       f"{'S A JOIN T B ON A.ID = B.ID JOIN T2 C ON A.ID = C.ID' if aliases else 'S JOIN T ON S.ID = T.ID JOIN T2 ON S.ID = T2.ID'};"],
        "inputs": [rec("t", 1, {"NAME": "t1", "F": 1}, 0), rec("t2", 1, {"NAME": "u1", "G": 2}, 0),
                   rec("s", 1, {"NAME": "s1", "V": 3}, 10)],
        "outputs": [rec("J", 1, {f"{a}_NAME": "s1", f"{b}_NAME": "t1", f"{c}_NAME": "u1"}, 10)],
    } for aliases, (a, b, c) in ((True, ("A", "B", "C")), (False, ("S", "T", "T2")))]

FILES = {
    "conform_nulls": null_cases,
    "conform_null_values": null_value_cases,
    "conform_numbers": number_cases,
    "conform_joins": join_cases,
    "conform_keys": key_cases,
    "conform_table_functions": table_function_cases,
    "conform_ddl": ddl_cases,
    "conform_emission": emission_cases,
    "conform_headers": header_cases,
    "conform_nulls_typed": more_null_cases,
    "conform_numbers_keys": more_number_cases,
    "conform_keys_json": more_key_cases,
    "conform_table_functions_more": more_table_function_cases,
    "conform_ddl_more": more_ddl_cases,
    "conform_joins_more": more_join_cases,
}


def write_case_files(files: dict[str, Any], script: str, pending: dict[str, str] | None = None) -> None:
    """Write each ``stem -> build`` of ``files`` to cases/<stem>.json, marking the ``pending`` names."""
    for stem, build in files.items():
        tests = build()
        for test in tests:
            if pending and test["name"] in pending:
                test["pending"] = pending[test["name"]]
        body = {"comments": f"Written by {script} ({build.__name__}); see its docstring.", "tests": tests}
        (CASES / f"{stem}.json").write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
        print(f"{stem}: {len(tests)} cases")


def main() -> None:
    write_case_files(FILES, "make_conform_cases.py", PENDING)


if __name__ == "__main__":
    main()
