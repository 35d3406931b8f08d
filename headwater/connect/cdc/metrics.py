"""Gauges the CDC source tasks keep for GET /metrics: replication slot lag and commit-to-log lag.

Tasks set them as they go (:func:`set_gauge`); the server's metrics
collector reads them at scrape time (:func:`samples`), so this module needs
nothing from the server. A stopped task removes its gauges (:func:`clear`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

#: The gauges, with their help text (Prometheus names).
HELP = {
    "headwater_cdc_slot_lag_bytes": "PostgreSQL: WAL bytes between the server's current position and the "
                                    "replication slot's confirmed flush position.",
    "headwater_cdc_commit_lag_ms": "Milliseconds from the commit in the source database to the change event "
                                   "being handed to the log (last event).",
    "headwater_cdc_events": "Change events a CDC source task has produced since it started.",
}


@dataclass(frozen=True)
class Sample:
    name: str
    connector: str
    source: str
    value: float


_lock = threading.Lock()
_values: dict[tuple[str, str, str], float] = {}


def set_gauge(name: str, connector: str, source: str, value: float) -> None:
    if name not in HELP:
        raise KeyError(f"unknown CDC gauge {name}")
    with _lock:
        _values[(name, connector, source)] = value


def add(name: str, connector: str, source: str, amount: float) -> None:
    with _lock:
        key = (name, connector, source)
        _values[key] = _values.get(key, 0.0) + amount


def clear(connector: str, source: str) -> None:
    with _lock:
        for key in [k for k in _values if k[1] == connector and k[2] == source]:
            del _values[key]


def samples() -> list[Sample]:
    with _lock:
        return [Sample(name, connector, source, value) for (name, connector, source), value in sorted(_values.items())]
