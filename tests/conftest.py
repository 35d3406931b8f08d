"""Shared fixtures. Fixtures are factories; backends are real (Tansu broker for Kafka)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator

import pytest

from headwater.log import Log, open_log

_names = itertools.count()


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """A real Kafka-protocol broker (Tansu, memory storage) on a free 127.0.0.1 port."""
    from tests.broker import TansuBroker

    broker = TansuBroker()
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture(params=["embedded", pytest.param("kafka", marks=pytest.mark.kafka)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def log_url(backend: str, request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> str:
    if backend == "kafka":
        return "kafka://" + request.getfixturevalue("kafka_bootstrap")
    return os.path.join(os.fspath(tmp_path), "log")


@pytest.fixture
def log(log_url: str) -> Iterator[Log]:
    """The log under test, once per backend."""
    with open_log(log_url) as opened:
        yield opened


@pytest.fixture
def new_topic() -> Callable[[], str]:
    """Unique topic names: the Kafka broker lives for the whole session."""
    pid = os.getpid()

    def make(prefix: str = "t") -> str:
        return f"{prefix}-{pid}-{next(_names)}"

    return make


@pytest.fixture
def broker_limitation(backend: str, request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Mark this one case a known deviation of the Tansu test broker from Apache Kafka.

    Strict: when Tansu stops deviating, the case passes and the xfail fails,
    so the marker gets removed.
    """

    def mark(deviation: str) -> None:
        if backend == "kafka":
            request.applymarker(pytest.mark.xfail(strict=True, reason=f"Tansu 0.6 deviates from Kafka: {deviation}"))

    return mark
