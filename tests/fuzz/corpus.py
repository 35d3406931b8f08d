"""Real statements (the golden cases and the demo scripts of tests/sql) and ways to mutate them."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from hypothesis import strategies as st

from headwater.sql.lexer import RESERVED_WORDS

SQL_DIR = Path(__file__).resolve().parents[1] / "sql"
PUNCTUATION = ["(", ")", ",", ";", ".", "*", "+", "-", "/", "%", "=", "<>", "!=", "<", "<=", ">", ">=", "->", "=>",
               "[", "]", "{", "}", "'", "`", '"', "::", ":", "||", "\\", "$", "@", "?", "--", "/*", "*/", "\n"]
WORDS = sorted(RESERVED_WORDS | {"STREAM", "TABLE", "KEY", "PRIMARY", "WITH", "EMIT", "CHANGES", "WINDOW", "TUMBLING",
                                  "HOPPING", "SESSION", "SIZE", "ADVANCE", "BY", "GRACE", "PERIOD", "SECONDS", "STRUCT",
                                  "ARRAY", "MAP", "DECIMAL", "VARCHAR", "BIGINT", "TIMESTAMP", "LAMBDA", "TRANSFORM",
                                  "kafka_topic", "value_format", "partitions", "INSERT", "VALUES", "CONNECTOR", "SINK",
                                  "SOURCE", "TERMINATE", "PRINT", "DESCRIBE", "EXTENDED", "SHOW", "LIST", "DEFINE"})


@functools.cache
def statements() -> list[str]:
    found: list[str] = []
    for case_file in sorted((SQL_DIR / "golden" / "cases").glob("*.json")):
        for case in json.loads(case_file.read_text()).get("tests", []):
            found.extend(s for s in case.get("statements", []) if isinstance(s, str))
    for script in sorted((SQL_DIR / "data").glob("*.*sql")):
        found.extend(s.strip() + ";" for s in script.read_text().split(";") if s.strip())
    return sorted(set(found))


identifiers = st.one_of(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True),
                        st.text(max_size=12).map(lambda s: "`" + s.replace("`", "``") + "`"))
literals = st.one_of(st.integers(-2**70, 2**70).map(str), st.floats(allow_nan=False).map(repr),
                     st.text(max_size=16).map(lambda s: "'" + s.replace("'", "''") + "'"),
                     st.sampled_from(["NULL", "TRUE", "FALSE", "1e400", "-0.0", "0x1F", "'\\'", "''''"]))
tokens = st.one_of(st.sampled_from(WORDS), st.sampled_from(PUNCTUATION), identifiers, literals)
generated = st.lists(tokens, max_size=40).map(" ".join)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A real statement with a few edits: spans deleted, repeated or swapped, tokens or characters inserted."""
    text = draw(st.sampled_from(statements()))
    for _ in range(draw(st.integers(1, 4))):
        n = len(text)
        i = draw(st.integers(0, n))
        j = draw(st.integers(i, min(n, i + 24)))
        edit = draw(st.sampled_from(["delete", "repeat", "insert_token", "insert_char", "truncate", "swap"]))
        if edit == "delete":
            text = text[:i] + text[j:]
        elif edit == "repeat":
            text = text[:j] + text[i:j] * draw(st.integers(1, 3)) + text[j:]
        elif edit == "insert_token":
            text = text[:i] + " " + draw(tokens) + " " + text[i:]
        elif edit == "insert_char":
            text = text[:i] + draw(st.characters()) + text[i:]
        elif edit == "truncate":
            text = text[:i]
        else:
            k = draw(st.integers(0, n))
            text = text[:i] + text[k:k + 8] + text[j:]
    return text


deeply_nested = st.tuples(st.integers(1, 6000),
                          st.sampled_from(["(", "ABS(", "ARRAY[", "NOT ", "-", "CASE WHEN TRUE THEN "]),
                          st.sampled_from(["SELECT {} FROM s EMIT CHANGES;", "SELECT * FROM s WHERE {} EMIT CHANGES;"])
                          ).map(lambda t: t[2].format(t[1] * t[0] + "1" + {"(": ")", "ABS(": ")", "ARRAY[": "]"}.get(
                              t[1], "" if t[1] != "CASE WHEN TRUE THEN " else " END") * t[0]))
sql_inputs = st.one_of(generated, mutated(), st.text(max_size=200), deeply_nested)


def nesting(sql: str) -> int:
    """A rough count of the levels an expression nests (what hits Python's recursion limit)."""
    return sum(sql.count(opener) for opener in ("(", "[", "NOT ", "-", "CASE "))
