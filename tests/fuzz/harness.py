"""What every fuzz test shares: the profile, a watchdog for hangs, the tally of inputs and failures.

Profiles: ``make test`` runs a few thousand generated inputs in total; ``make fuzz`` sets
FUZZ_INPUTS=1000000 and each test (a target) gets its share (``examples(target)``), each
target in a process of its own (``parallel.py``). Hypothesis' own
deadline is off (the machine is shared, timing is no verdict); a hang is an input that
does not return within HANG_S seconds, cut by SIGALRM.

Hypothesis runs its generate phase only: no example database, no replay of earlier
failures, no shrinking or explaining (the first failing inputs are kept in the tally
as they were met), and no health check (a slow or filtered strategy is this suite's
choice, not a mistake).
"""

from __future__ import annotations

import functools
import gc
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psutil
from hypothesis import HealthCheck, Phase, settings

from headwater.server.memory import release_memory

T = TypeVar("T")
SHORT_INPUTS = 3000
HANG_S = float(os.environ.get("FUZZ_HANG_S", "20"))
PROGRESS_FILE = os.environ.get("FUZZ_PROGRESS", "")
PROGRESS_S = 60.0
OVERLOADED_HANG_FACTOR = 10
RUN_EXAMPLES = int(os.environ.get("FUZZ_RUN_EXAMPLES", "5000"))
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
    #: The target whose test runs now (set by conftest.py), and the inputs and seconds of each target.
    target: str = ""
    per_target: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    #: CPU seconds of the process (every thread: the server's too) while each target ran.
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    #: When the figures were last appended to FUZZ_PROGRESS (a long run's figures so far).
    reported_at: float = field(default_factory=time.monotonic)
    #: The first failing inputs in the order met (shrinking replays later ones, which may depend on state).
    first_failures: list[str] = field(default_factory=list)

    def failed(self, what: str) -> None:
        if len(self.first_failures) < 5:
            self.first_failures.append(what[:1500])

    def line(self, final: bool = False) -> dict[str, Any]:
        """The figures; ``final``: also the RSS once freed memory is given back (what the process still holds,
        apart from pages the C allocators and Arrow keep for reuse)."""
        after, trimmed = rss_mb(), {}
        if final:
            gc.collect()
            release_memory()
            trimmed = {"rss_trimmed_mb": rss_mb()}
        return {"inputs": self.inputs, "crashes": self.crashes, "hangs": self.hangs, "5xx": self.server_errors,
                "known_5xx": self.known, "per_target": self.per_target,
                "seconds": {k: round(v, 1) for k, v in self.seconds.items()},
                "cpu_seconds": {k: round(v, 1) for k, v in self.cpu_seconds.items()},
                "rss_before_mb": self.rss_before_mb, "rss_after_mb": after, **trimmed}

    def progress(self) -> None:
        """Every PROGRESS_S seconds, the figures so far as one JSON line appended to the file FUZZ_PROGRESS names."""
        if PROGRESS_FILE and time.monotonic() - self.reported_at >= PROGRESS_S:
            self.reported_at = time.monotonic()
            with open(PROGRESS_FILE, "a") as out:
                out.write(json.dumps({"suite": "fuzz", "time": time.strftime("%H:%M:%S"), "target": self.target,
                                      **self.line()}) + "\n")


TALLY = Tally()


def rss_mb() -> float:
    return round(psutil.Process().memory_info().rss / 2**20, 1)


def examples(target: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """The hypothesis settings of ``target``'s test (its share of FUZZ_INPUTS), the test marked as ``target``'s.

    In the long profile the share runs as hypothesis runs of at most RUN_EXAMPLES each, one after the other, each
    with a seed of its own: hypothesis keeps a record of every example of a run (its DataTree, about 10 MB per
    thousand examples here), which would otherwise grow with the share and hide what the server keeps.
    """
    total = int(os.environ.get("FUZZ_INPUTS", SHORT_INPUTS))
    share = max(10, int(total * WEIGHTS[target]))
    runs = 1 if total <= SHORT_INPUTS else -(-share // RUN_EXAMPLES)
    chosen = settings(max_examples=-(-share // runs), deadline=None, database=None, phases=[Phase.generate],
                      report_multiple_bugs=False, suppress_health_check=list(HealthCheck),
                      derandomize=total <= SHORT_INPUTS)

    def mark(test: Callable[..., None]) -> Callable[..., None]:
        one_run = chosen(test)

        @functools.wraps(one_run)
        def marked(*args: Any, **kwargs: Any) -> None:
            for _ in range(runs):
                one_run(*args, **kwargs)

        marked.fuzz_target = target  # type: ignore[attr-defined]
        return marked

    return mark


class Hang(Exception):
    """An input ran longer than HANG_S seconds."""


def overloaded() -> bool:
    """More runnable processes than twice the cores: a wait then says little about the input."""
    return os.getloadavg()[0] > 2 * (os.cpu_count() or 1)


@contextmanager
def watchdog(what: object) -> Iterator[None]:
    """Raise Hang in the main thread when ``what`` runs over HANG_S seconds; on an overloaded machine (a process at
    nice 19 may get a few per cent of a core) the limit is extended, up to OVERLOADED_HANG_FACTOR times."""
    waited = [0.0]

    def fire(signum: int, frame: object) -> None:
        waited[0] += HANG_S
        if overloaded() and waited[0] < HANG_S * OVERLOADED_HANG_FACTOR:
            signal.setitimer(signal.ITIMER_REAL, HANG_S)
            return
        raise Hang(f"no answer within {waited[0]:g} s for {what!r:.300}")

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
    TALLY.per_target[TALLY.target] = TALLY.per_target.get(TALLY.target, 0) + 1
    TALLY.progress()
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
