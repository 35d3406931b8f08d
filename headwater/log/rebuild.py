"""Rebuild the embedded log's index (meta.db) from its segment files.

The segment files hold the records and describe themselves (every frame
carries its offsets and checksums), and each topic directory holds a
``topic.json`` with the topic's partition count and config. So when meta.db
is missing or damaged, the topics, the partitions and the batch index can be
derived again. What only meta.db held is lost: consumer group offsets (a
readable part of a damaged meta.db is salvaged first) and, for a topic
created before ``topic.json`` existed, its config (the topic comes back with
Kafka's defaults and as many partitions as it has directories).
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from headwater.log.diskio import write_all
from headwater.log.segment import parse_segment_name, scan_tail

logger = logging.getLogger(__name__)

TOPIC_FILE = "topic.json"
_TOPIC_DIR = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)-(?P<id>[0-9]+)$")


@dataclass
class RebuildSummary:
    topics: int = 0
    batches: int = 0
    records: int = 0
    group_offsets: int = 0


def write_topic_file(directory: str, name: str, partitions: int, config: Mapping[str, str], created_ms: int) -> None:
    """Record a topic's definition beside its partitions (fsynced), so the index can be rebuilt."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, TOPIC_FILE)
    body = orjson.dumps({"name": name, "partitions": partitions, "config": dict(config), "created_ms": created_ms})
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write_all(fd, [body], 0)
        os.fdatasync(fd)
    finally:
        os.close(fd)
    os.replace(path + ".tmp", path)


def salvage_group_offsets(path: str) -> list[tuple[Any, ...]]:
    """The committed group offsets still readable in a damaged meta.db (empty if none are)."""
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1.0)
        try:
            return con.execute("SELECT grp, topic, partition, next_offset, committed_ms FROM group_offsets").fetchall()
        finally:
            con.close()
    except sqlite3.Error as exc:
        logger.warning("log: no group offsets could be read from the damaged %s: %s", path, exc)
        return []


def rebuild_index(root: str, db: sqlite3.Connection, offsets: list[tuple[Any, ...]]) -> RebuildSummary:
    """Fill an empty index (schema created, no rows) from ``root/topics``; one transaction."""
    summary = RebuildSummary()
    topics_dir = os.path.join(root, "topics")
    now = time.time_ns() // 1_000_000
    db.execute("BEGIN IMMEDIATE")
    try:
        for entry in sorted(os.listdir(topics_dir)):
            match = _TOPIC_DIR.match(entry)
            directory = os.path.join(topics_dir, entry)
            if not match or not os.path.isdir(directory):
                continue
            name, topic_id = match["name"], int(match["id"])
            partition_dirs = [int(d) for d in os.listdir(directory) if d.isascii() and d.isdigit()]
            definition = _topic_definition(directory)
            if definition is None:
                logger.warning(
                    "log: rebuilding topic %r without %s: its config is lost (Kafka's defaults apply)", name, TOPIC_FILE
                )
                definition = {"partitions": max(partition_dirs, default=0) + 1, "config": {}, "created_ms": now}
            partitions = int(definition["partitions"])
            db.execute(
                "INSERT INTO topics (id, name, partitions, config, created_ms) VALUES (?, ?, ?, ?, ?)",
                (topic_id, name, partitions, orjson.dumps(definition["config"]).decode(), definition["created_ms"]),
            )
            for partition in range(partitions):
                compacted = "compact" in str(definition["config"].get("cleanup.policy", ""))
                start, end, batches, records = _rebuild_partition(
                    db, topic_id, partition, os.path.join(directory, str(partition)), now, compacted
                )
                db.execute(
                    "INSERT INTO partitions (topic_id, partition, log_start, next_offset) VALUES (?, ?, ?, ?)",
                    (topic_id, partition, start, end),
                )
                summary.batches += batches
                summary.records += records
            summary.topics += 1
        known = {row[0] for row in db.execute("SELECT name FROM topics")}
        kept = [row for row in offsets if row[1] in known]
        db.executemany("INSERT OR REPLACE INTO group_offsets VALUES (?, ?, ?, ?, ?)", kept)
        summary.group_offsets = len(kept)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return summary


def _topic_definition(directory: str) -> dict[str, Any] | None:
    try:
        with open(os.path.join(directory, TOPIC_FILE), "rb") as f:
            definition = orjson.loads(f.read())
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(definition, dict) or not isinstance(definition.get("partitions"), int):
        return None
    definition.setdefault("config", {})
    definition.setdefault("created_ms", 0)
    return definition


def _rebuild_partition(
    db: sqlite3.Connection, topic_id: int, partition: int, directory: str, now: int, compacted: bool
) -> tuple[int, int, int, int]:
    """Index every valid frame of a partition's segments; (log start, next offset, batches, records)."""
    newest: dict[int, tuple[int, str]] = {}
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        names = []
    for name in names:
        parsed = parse_segment_name(name)
        if parsed is None:
            continue
        base, generation = parsed
        # A compaction killed after its index swap may leave the older generation behind.
        if base not in newest or generation > newest[base][0]:
            newest[base] = (generation, name)
    start, expected, batches, records = -1, 0, 0, 0
    for base in sorted(newest):
        segment = newest[base][1]
        path = os.path.join(directory, segment)
        fd = os.open(path, os.O_RDONLY)
        try:
            frames = scan_tail(fd, 0, expected, rebuilding=True)
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        stored = frames[-1][0] + frames[-1][1].size if frames else 0
        if stored < size:
            logger.error(
                "log: rebuilding the index: %s has %d unreadable byte(s) past byte %d; they are left out",
                path, size - stored, stored,
            )
        if frames and start >= 0 and frames[0][1].base_offset > expected and not compacted:
            logger.error(
                "log: rebuilding the index: offsets %d..%d of %s are in no segment file (a segment is missing); "
                "readers see a gap there", expected, frames[0][1].base_offset - 1, directory,
            )
        for position, header in frames:
            db.execute(
                "INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (topic_id, partition, header.base_offset, header.last_offset, header.count,
                 header.max_timestamp, segment, position, header.size, now),
            )
            if start < 0:
                start = header.base_offset
            expected = header.last_offset + 1
            batches += 1
            records += header.count
    return max(start, 0), expected, batches, records
