"""Table functions: EXPLODE, CUBE_EXPLODE and a user's table function registered in the registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from headwater.errors import SqlSemanticError
from headwater.log import Record
from headwater.session import Session
from headwater.sql.functions import REGISTRY, variant
from headwater.sql.functions.table import table_function

SOURCE = ("CREATE STREAM p (id INT KEY, a ARRAY<INT>, b ARRAY<STRING>, n INT) WITH (kafka_topic='p', "
          "value_format='JSON', partitions=1);")


def _values(session: Session, topic: str) -> list[tuple[int, dict[str, object]]]:
    rows = session.log.read(topic, 0, 0).records.to_pylist()
    return [(int.from_bytes(r["key"], "big"), json.loads(r["value"])) for r in rows]


@pytest.fixture
def session(tmp_path: Path) -> Session:
    with Session(str(tmp_path / "log"), properties={"auto.offset.reset": "earliest"}) as opened:
        opened.execute(SOURCE)
        yield opened  # type: ignore[misc]


def _send(session: Session, rows: list[tuple[int, dict[str, object]]]) -> None:
    for key, value in rows:
        session.log.append("p", 0, [Record(json.dumps(value).encode(), key.to_bytes(4, "big"), 0)])
    session.wait_until_processed()


def test_explode_zips_and_pads_with_nulls_and_skips_empty_arrays(session: Session) -> None:
    session.execute("CREATE STREAM o AS SELECT id, EXPLODE(a) AS x, EXPLODE(b) AS y FROM p;")
    _send(session, [(1, {"a": [1, 2, 3], "b": ["x"]}), (2, {"a": [], "b": None}), (3, {"a": None, "b": ["q"]})])
    assert _values(session, "O") == [(1, {"X": 1, "Y": "x"}), (1, {"X": 2, "Y": None}), (1, {"X": 3, "Y": None}),
                                     (3, {"X": None, "Y": "q"})]


def test_cube_explode_counts_from_all_null_and_skips_repeats_of_null_elements(session: Session) -> None:
    session.execute("CREATE STREAM c AS SELECT id, CUBE_EXPLODE(a) AS x FROM p WHERE n > 0;")
    _send(session, [(1, {"a": [1, 2], "n": 1}), (2, {"a": [5, None], "n": 1}), (3, {"a": [9], "n": 0})])
    assert _values(session, "C") == [(1, {"X": [None, None]}), (1, {"X": [None, 2]}), (1, {"X": [1, None]}),
                                     (1, {"X": [1, 2]}), (2, {"X": [None, None]}), (2, {"X": [5, None]})]


def test_a_user_table_function_registers_and_runs(session: Session) -> None:
    REGISTRY.register(table_function(
        "REPEAT_N", "OTHER", "n copies of a value.",
        variant("v INT, n INT", "INT", "list_transform(range({1}), lambda i: {0})"),
    ), replace=True)
    session.execute("CREATE STREAM r AS SELECT id, REPEAT_N(n, n) AS v FROM p;")
    _send(session, [(4, {"n": 2}), (5, {"n": 0})])
    assert _values(session, "R") == [(4, {"V": 2}), (4, {"V": 2})]
    assert REGISTRY.describe("REPEAT_N")["type"] == "TABLE"


def test_table_functions_only_as_select_items_of_stream_queries(session: Session) -> None:
    with pytest.raises(SqlSemanticError, match="can only be used in the SELECT clause"):
        session.execute("CREATE STREAM w AS SELECT id, n FROM p WHERE EXPLODE(a) > 1;")
    session.execute("CREATE TABLE t (id INT PRIMARY KEY, a ARRAY<INT>) WITH (kafka_topic='t', format='JSON', "
                    "partitions=1);")
    with pytest.raises(SqlSemanticError, match="not supported on tables"):
        session.execute("CREATE TABLE u AS SELECT id, EXPLODE(a) AS x FROM t;")
