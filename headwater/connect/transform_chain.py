"""A connector's ``transforms`` chain (Kafka Connect's ``transforms=a,b`` with ``predicates``): the
single message transforms of ``connect/transforms.py``, Debezium's ``ExtractNewRecordState`` and
Headwater's ``WindowedKey`` (``connect/windowed.py``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from headwater.connect.api import ConnectError
from headwater.connect.debezium import ExtractNewRecordState
from headwater.connect.transforms import PREDICATES, TRANSFORMS, Predicate, R, Transformation, split_list
from headwater.connect.windowed import WindowedKey


def _lookup(table: Mapping[str, Any], name: str, what: str) -> Any:
    found = table.get(name) or next((v for k, v in table.items() if k.rsplit(".", 1)[-1] == name), None)
    if found is None:
        raise ConnectError(f"Invalid value {name} for configuration {what}: Class {name} could not be found.")
    return found


class TransformChain:
    """The ``transforms`` of a connector config, applied in order; each may be guarded by a predicate."""

    def __init__(self, config: Mapping[str, str]) -> None:
        table: dict[str, Callable[[], Transformation]] = {
            **TRANSFORMS, "io.debezium.transforms.ExtractNewRecordState": ExtractNewRecordState,
            "io.headwater.connect.transforms.WindowedKey": WindowedKey}
        predicates: dict[str, Predicate] = {}
        for alias in split_list(config.get("predicates")):
            prefix = f"predicates.{alias}."
            kind = config.get(prefix + "type")
            if not kind:
                raise ConnectError(f"Missing required configuration \"{prefix}type\" which has no default value.")
            predicate = _lookup(PREDICATES, kind, prefix + "type")()
            predicate.configure(_sub(config, prefix))
            predicates[alias] = predicate
        self.steps: list[tuple[Transformation, Predicate | None, bool]] = []
        for alias in split_list(config.get("transforms")):
            prefix = f"transforms.{alias}."
            kind = config.get(prefix + "type")
            if not kind:
                raise ConnectError(f"Missing required configuration \"{prefix}type\" which has no default value.")
            transform = _lookup(table, kind, prefix + "type")()
            settings = _sub(config, prefix)
            transform.configure(settings)
            guard = settings.get("predicate")
            if guard and guard not in predicates:
                raise ConnectError(f"Invalid value {guard} for configuration {prefix}predicate: "
                                   f"no predicate of that name in \"predicates\"")
            negate = settings.get("negate", "false").lower() == "true"
            self.steps.append((transform, predicates.get(guard) if guard else None, negate))

    def apply(self, record: R) -> R | None:
        current: R | None = record
        for transform, predicate, negate in self.steps:
            if current is None:
                return None
            if predicate is not None and predicate.test(current) == negate:
                continue
            current = transform.apply(current)
        return current


def _sub(config: Mapping[str, str], prefix: str) -> dict[str, str]:
    return {k[len(prefix):]: v for k, v in config.items() if k.startswith(prefix)}
