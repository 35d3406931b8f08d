"""What the injection tests share: a target (a file to write, a secret to read), the payloads, and
``attack``, which runs statements the way a user would and gathers everything the user could see."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from headwater.engine.pull import PullResult
from headwater.errors import SqlError
from headwater.log import Log
from headwater.session import Session

SECRET = "hw-secret-5b1d0c9e"
EARLIEST = {"auto.offset.reset": "earliest"}


@dataclass(frozen=True)
class Target:
    """A path an attack tries to create, and a file whose contents an attack tries to read."""

    out: Path
    secret: Path

    @property
    def copy(self) -> str:
        return f"COPY (SELECT 1) TO '{self.out}'"

    @property
    def read(self) -> str:
        return f"(SELECT content FROM read_text('{self.secret}'))"

    def identifiers(self) -> list[str]:
        """Names that close DuckDB's double quotes and run a statement or a file read."""
        return [
            f'Q"; {self.copy}; SELECT 1 AS "Q',
            f'Q" , {self.read} AS "R',
            f"read_text('{self.secret}')",
            f'Q"\n-- comment\n; {self.copy}; /* */ SELECT 1 AS "Q',
            f'Q`"; {self.copy}; --',
        ]

    def strings(self) -> list[str]:
        """String values that close DuckDB's single quotes and run a statement or a file read."""
        return [
            f"x'); {self.copy}; SELECT ('",
            f"x' || {self.read} || '",
            f"x\\'; {self.copy}; --",
            f"x'\n; {self.copy}; --\n",
        ]


def ksql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def backquoted(text: str) -> str:
    return "`" + text.replace("`", "``") + "`"


def double_quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


@dataclass
class Outcome:
    """What the user saw: entities, rows, and the errors (each a clear SqlError)."""

    entities: list[object] = field(default_factory=list)
    rows: list[list[object]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return repr((self.entities, self.rows, self.errors))


def attack(session: Session, statements: Iterable[str], *, push_timeout_s: float = 3.0) -> Outcome:
    """Run ``statements`` one by one; an error other than SqlError fails the test (it would be a 500)."""
    outcome = Outcome()
    for text in statements:
        try:
            if text.lstrip().upper().startswith("SELECT"):
                result = session.query(text, EARLIEST)
                if isinstance(result, PullResult):
                    outcome.rows.extend(result.rows)
                else:
                    try:
                        outcome.rows.extend(result.rows(timeout_s=push_timeout_s))
                    finally:
                        result.close()
            else:
                outcome.entities.extend(session.execute(text))
        except SqlError as exc:
            outcome.errors.append(str(exc))
    return outcome


def everything_logged(log: Log) -> str:
    """Every key and value of every topic, as text: an injected read would show up here."""
    seen: list[str] = []
    for topic in log.list_topics():
        for partition in range(log.describe_topic(topic).partitions):
            offset = log.beginning_offset(topic, partition)
            while offset < log.end_offset(topic, partition):
                fetched = log.read(topic, partition, offset)
                for column in ("key", "value"):
                    seen.extend(v.decode("utf-8", "replace") for v in fetched.records.column(column).to_pylist()
                                if v is not None)
                offset = fetched.next_offset
    return "\n".join(seen)


def assert_harmless(target: Target, session: Session, outcome: Outcome) -> None:
    """No file written, the secret nowhere the user can see it."""
    assert not target.out.exists(), f"the statement wrote {target.out}: {outcome}"
    assert SECRET not in str(outcome), f"the secret leaked in the answer: {outcome}"
    assert SECRET not in everything_logged(session.log), "the secret leaked into a topic"
