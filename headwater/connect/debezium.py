"""io.debezium.transforms.ExtractNewRecordState: a Debezium change event flattened to its row.

The value envelope ``{before, after, source, op, ts_ms}`` becomes the ``after``
row. Deletes follow ``delete.tombstone.handling.mode`` (or the older
``drop.tombstones`` / ``delete.handling.mode``); ``add.fields`` and
``add.headers`` copy envelope fields (``op``, ``table``, ``source.ts_ms``...)
into the row as ``__op`` ... or into headers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from headwater.connect.api import ConnectError
from headwater.connect.data import ConnectSchema, Field
from headwater.connect.transforms import R, Transformation, TransformError

MODES = ("tombstone", "drop", "rewrite", "rewrite-with-tombstone", "delete-to-tombstone")


def _legacy_mode(config: Mapping[str, str]) -> str:
    """The mode the old keys (drop.tombstones, delete.handling.mode) describe."""
    drop_tombstones = config.get("drop.tombstones", "true").lower() == "true"
    handling = config.get("delete.handling.mode", "drop")
    if handling == "rewrite":
        return "rewrite" if drop_tombstones else "rewrite-with-tombstone"
    if handling == "none":
        return "drop" if drop_tombstones else "tombstone"  # "none" keeps the d event as a null value
    return "drop" if drop_tombstones else "tombstone"


class ExtractNewRecordState(Transformation):
    def configure(self, config: Mapping[str, str]) -> None:
        super().configure(config)
        mode = config.get("delete.tombstone.handling.mode")
        if mode is None and ("drop.tombstones" in config or "delete.handling.mode" in config):
            mode = _legacy_mode(config)
        self.mode = mode or "tombstone"
        if self.mode not in MODES:
            raise ConnectError(f"ExtractNewRecordState: delete.tombstone.handling.mode must be one of "
                               f"{', '.join(MODES)}, got {self.mode!r}")
        self.prefix = config.get("add.fields.prefix", "__")
        self.header_prefix = config.get("add.headers.prefix", "__")
        self.add_fields = [self._spec(s) for s in config.get("add.fields", "").split(",") if s.strip()]
        self.add_headers = [self._spec(s) for s in config.get("add.headers", "").split(",") if s.strip()]

    @staticmethod
    def _spec(text: str) -> tuple[str, str | None]:
        path, _, rename = text.strip().partition(":")
        return path, rename or None

    def apply(self, record: R) -> R | None:
        value = record.value
        if value is None:  # a tombstone
            return record if self.mode in ("tombstone", "rewrite-with-tombstone") else None
        if not isinstance(value, dict) or "op" not in value and "after" not in value:
            return record  # not a change event (e.g. a schema change or heartbeat): passes as it is
        op = value.get("op")
        if op == "d" or value.get("after") is None and op is not None:
            if self.mode in ("tombstone", "drop"):
                return None
            if self.mode == "delete-to-tombstone":
                return dataclasses.replace(record, value=None, value_schema=None)
            row = dict(value.get("before") or {})
            row[f"{self.prefix}deleted"] = "true"
        else:
            row = dict(value.get("after") or {})
            if self.mode in ("rewrite", "rewrite-with-tombstone"):
                row[f"{self.prefix}deleted"] = "false"
        for path, rename in self.add_fields:
            row[rename or self.prefix + path.replace(".", "_")] = self._lookup(value, path)
        headers: tuple[tuple[str, bytes | None], ...] = tuple(record.headers)
        for path, rename in self.add_headers:
            found = self._lookup(value, path)
            headers = (*headers, (rename or self.header_prefix + path.replace(".", "_"),
                                  None if found is None else str(found).encode()))
        schema = self._row_schema(record.value_schema, row)
        return dataclasses.replace(record, value=row, value_schema=schema, headers=headers)

    @staticmethod
    def _lookup(envelope: Mapping[str, Any], path: str) -> Any:
        if "." in path:
            head, _, rest = path.partition(".")
            inner = envelope.get(head)
            return inner.get(rest) if isinstance(inner, Mapping) else None
        if path in envelope:
            return envelope[path]
        source = envelope.get("source")  # table, db, lsn ... live in the source block
        return source.get(path) if isinstance(source, Mapping) else None

    def _row_schema(self, envelope_schema: ConnectSchema | None, row: Mapping[str, Any]) -> ConnectSchema | None:
        if envelope_schema is None:
            return None
        after = envelope_schema.field("after") or envelope_schema.field("before")
        if after is None:
            raise TransformError("ExtractNewRecordState: the value schema has no before/after fields")
        fields = list(after.schema.fields)
        known = {f.name for f in fields}
        fields += [Field(name, ConnectSchema("string", optional=True)) for name in row if name not in known]
        return dataclasses.replace(after.schema, fields=tuple(fields))
