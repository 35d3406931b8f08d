"""What every fuzz test shares: the profile, a watchdog for hangs, the tally of inputs and failures.

Profiles: ``make test`` runs a few thousand generated inputs in total; ``make fuzz`` sets
FUZZ_INPUTS=1000000 and each test gets its share (``examples(weight)``). Hypothesis' own
deadline is off (the machine is shared, timing is no verdict); a hang is an input that
does not return within HANG_S seconds, cut by SIGALRM.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psutil
from hypothesis import HealthCheck, settings

T = TypeVar("T")
SHORT_INPUTS = 3000
HANG_S = float(os.environ.get("FUZZ_HANG_S", "20"))
#: The relative share of the generated inputs of each fuzz test (they add up to about 1).
WEIGHTS = {"sql": 0.25, "decoders": 0.25, "collector": 0.2, "ksql": 0.1, "connect": 0.1, "topics": 0.1}


@dataclass
class Tally:
    inputs: int = 0
    crashes: int = 0
    hangs: int = 0
    server_errors: int = 0
    #: 5xx answers to requests of a kind the issue already lists (see tests/fuzz/test_http.py KNOWN).
    known: int = 0
    rss_before_mb: float = 0.0
    #: The first failing inputs in the order met (shrinking replays later ones, which may depend on state).
    first_failures: list[str] = field(default_factory=list)

    def failed(self, what: str) -> None:
        if len(self.first_failures) < 5:
            self.first_failures.append(what[:1500])

    def line(self) -> dict[str, Any]:
        return {"inputs": self.inputs, "crashes": self.crashes, "hangs": self.hangs, "5xx": self.server_errors,
                "known_5xx": self.known,
                "rss_before_mb": self.rss_before_mb, "rss_after_mb": rss_mb()}


TALLY = Tally()


def rss_mb() -> float:
    return round(psutil.Process().memory_info().rss / 2**20, 1)


def examples(weight_of: str) -> settings:
    total = int(os.environ.get("FUZZ_INPUTS", SHORT_INPUTS))
    return settings(max_examples=max(10, int(total * WEIGHTS[weight_of])), deadline=None, database=None,
                    suppress_health_check=list(HealthCheck), derandomize=total <= SHORT_INPUTS)


class Hang(Exception):
    """An input ran longer than HANG_S seconds."""


@contextmanager
def watchdog(what: object) -> Iterator[None]:
    def fire(signum: int, frame: object) -> None:
        raise Hang(f"no answer within {HANG_S} s for {what!r:.300}")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, HANG_S)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def attempt(call: Callable[[], T], what: object, documented: tuple[type[BaseException], ...] = (),
            known: Callable[[Exception], bool] | None = None) -> T | None:
    """Run one generated input: count it; a documented error is a rejection (None), an error ``known`` recognises
    (a finding with its own regression test) is counted apart (None), anything else is counted and raised (a
    crash or a hang)."""
    TALLY.inputs += 1
    try:
        with watchdog(what):
            return call()
    except documented:
        return None
    except Hang:
        TALLY.hangs += 1
        TALLY.failed(f"hang: {what!r}")
        raise
    except Exception as exc:
        if known is not None and known(exc):
            TALLY.known += 1
            return None
        TALLY.crashes += 1
        TALLY.failed(f"crash {type(exc).__name__}: {exc} for {what!r}")
        raise
