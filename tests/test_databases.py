"""The database test setup: a missing database skips the tests with the reason, and fails them under CI=true."""

from __future__ import annotations

import pytest

from tests.databases import _missing


def test_missing_database_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    reason = r"MariaDB on 127.0.0.1:3306 is not reachable \(refused\); run scripts/services.sh"
    with pytest.raises(pytest.skip.Exception, match=reason):
        _missing("MariaDB on 127.0.0.1:3306", ConnectionRefusedError("refused"))


def test_missing_database_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="PostgreSQL .* is not reachable"):
        _missing("PostgreSQL on 127.0.0.1:5432", ConnectionRefusedError("refused"))
