"""A persistent query renewing its DuckDB (PersistentQuery._renew) after every batch loses and doubles nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from headwater.engine import query as query_module
from headwater.engine.query import PersistentQuery
from headwater.session import Session
from tests.engine.owner_process import STATEMENTS, check_sinks, click, reference


@pytest.fixture
def renewals(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids of the queries that renewed their DuckDB, one entry per renewal."""
    seen: list[str] = []
    renew = PersistentQuery._renew

    def counted(self: PersistentQuery, *args: object) -> None:
        seen.append(self.id)
        renew(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(PersistentQuery, "_renew", counted)
    return seen


def run_clicks_checked(root: Path) -> dict[str, str]:
    """The two queries over 1,200 clicks in 12 batches arriving one by one; asserts their outputs are exact
    (nothing lost, nothing doubled) and returns the query id of each sink."""
    with Session(str(root), properties={"auto.offset.reset": "earliest"}) as session:
        session.log.create_topic("clicks", 1)
        session.execute(STATEMENTS)
        ids = {q.sink.name: q.id for q in session.queries.values()}
        for start in range(0, 1200, 100):
            session.log.append("clicks", 0, [click(i) for i in range(start, start + 100)])
            session.wait_until_processed(60)
        copied, changes = check_sinks(session.log)
        table = {(row[0], row[1]): (row[3], row[4]) for row in session.query("SELECT * FROM per_min;").rows}
    assert sorted(copied) == list(range(1200))
    expected = reference(1200)
    assert {k: v[-1] for k, v in changes.items()} == expected
    assert table == expected
    return ids


def test_renewing_after_every_batch_keeps_every_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       renewals: list[str]) -> None:
    monkeypatch.setattr(query_module, "RENEW_STATE_S", 0.0)
    run_clicks_checked(tmp_path / "data")  # a renewal between each batch
    assert len(set(renewals)) == 2 and len(renewals) >= 10, renewals


def test_a_query_that_writes_state_often_renews_sooner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       renewals: list[str]) -> None:
    """DuckDB's native growth is per statement that changes the state: after RENEW_STATE_STEPS such steps
    (and RENEW_STATE_MIN_S) the aggregation renews although RENEW_STATE_S is far off; the copy (no state)
    never does."""
    monkeypatch.setattr(query_module, "RENEW_STATE_STEPS", 3)
    monkeypatch.setattr(query_module, "RENEW_STATE_MIN_S", 0.0)
    ids = run_clicks_checked(tmp_path / "data")  # one step per batch: every 3 steps a renewal
    assert set(renewals) == {ids["PER_MIN"]} and 2 <= len(renewals) <= 12, (renewals, ids)
