"""Findings of the fuzz suites, each reduced to a small deterministic test.

``xfail(strict=True)`` until the fix lands; then the test passes, the strict
marker fails the run, and the marker gets removed.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, unquote

import httpx
import pyarrow as pa
import pytest
from starlette.testclient import TestClient

from headwater.formats import create_format
from headwater.log.segment import parse_segment_name
from headwater.server import ServerConfig, create_app
from headwater.sql.functions.regex import java_replacement
from headwater.sql.parser import parse_type
from tests.server.live import start_server


# Finding (fuzz): the DELIMITED decoder raised IndexError / ArrowIndexError for a batch in which a record opens a
# quote it never closes and another record follows (b'"' then b''), failing the whole batch; with b'\x00' as the next
# record the two records were silently decoded as one row.
@pytest.mark.parametrize("values", [[b'"', b""], [b',"', b""], [b'"', b"1,2"], [b'"', b"\x00"], [b'x,"a""', b"1,2"],
                                    [b'"a"",1', b"1,2"], [b'a"b,"c', b"3,4"]])
def test_an_unclosed_quote_fails_only_its_own_record(values: list[bytes]) -> None:
    fmt = create_format("DELIMITED", [("A", parse_type("STRING")), ("B", parse_type("INT"))], role="value")
    decoded = fmt.decode(pa.array(values, pa.binary()), topic="t")
    assert decoded.table.num_rows == len(values)
    assert 0 in decoded.error_rows.tolist() and decoded.error_reasons[0].strip()
    assert "never closed" in decoded.error_reasons[0]
    # The next record is decoded as if alone: the same row, or the same error.
    alone = fmt.decode(pa.array(values[1:], pa.binary()), topic="t")
    assert decoded.table.slice(1).to_pylist() == alone.table.to_pylist()
    assert (1 in decoded.error_rows.tolist()) == (0 in alone.error_rows.tolist())


# Finding (fuzz): PUT /connectors/<non-ASCII name>/config answered with a Location header holding the raw name
# (latin-1 bytes, not percent-encoded as Kafka Connect does): strict HTTP clients failed on it (500s for 'Õ').
def test_the_location_of_a_connector_with_a_non_ascii_name_is_percent_encoded(tmp_path: Path) -> None:
    server = start_server(ServerConfig(log_url=str(tmp_path / "log")))
    try:
        response = httpx.put(f"{server.url}/connectors/{quote('Õ', safe='')}/config",
                             json={"connector.class": "FileStreamSink", "topics": "t"})
        assert response.status_code == 201
        location = dict(response.headers.raw)[b"location"]
        assert location.isascii() and unquote(location.decode()).endswith("/connectors/Õ")
        created = httpx.post(f"{server.url}/connectors", json={
            "name": "Ä b/c", "config": {"connector.class": "FileStreamSink", "topics": "t"}})
        assert created.status_code == 201, created.text
        location = dict(created.headers.raw)[b"location"]
        assert location.isascii() and unquote(location.decode()).endswith("/connectors/Ä b/c")
    finally:
        server.stop()


def test_a_sent_at_out_of_range_is_refused_with_a_400(tmp_path: Path) -> None:
    event = {"type": "track", "userId": "u", "event": "e", "timestamp": "2024-01-01T00:00:00Z", "sentAt": 1e300}
    with TestClient(create_app(ServerConfig(log_url=str(tmp_path / "log"))), raise_server_exceptions=False) as client:
        response = client.post("/v1/track", json=event)
    assert response.status_code == 400, response.text
    assert "sentAt" in response.json()["message"]


# Finding (fuzz, 1M run): `'²'.isdigit()` is True but `int('²')` raises, so a config value or parameter made of
# superscript digits passed the "is it a number" check and then failed to parse: PUT /connectors/<n>/config with
# tasks.max '²' answered 500. The same check (found by reading, not by the fuzz) made 500s of a '²' timestamp on
# topic reads (API and UI), a '²' schema id, WINDOW_SIZE '² SECONDS', the S3 and Elasticsearch sinks' numbers and
# the CDC sources' database.port; now each is a 4xx. A file named '²¹.log' in a partition directory raised
# ValueError when the log listed its segments: file names and regex group references take ASCII digits only.
SUPERSCRIPT = "²"


def test_superscript_digits_are_refused_as_numbers_not_answered_500(tmp_path: Path) -> None:
    app = create_app(ServerConfig(log_url=str(tmp_path / "log")))
    with TestClient(app, base_url="http://127.0.0.1:8088", raise_server_exceptions=False) as client:
        for config in [{"connector.class": "FileStreamSink", "topics": "t", "tasks.max": SUPERSCRIPT},
                       {"connector.class": "io.confluent.connect.s3.S3SinkConnector", "topics": "t",
                        "s3.bucket.name": "b", "flush.size": SUPERSCRIPT},
                       {"connector.class": "io.confluent.connect.s3.S3SinkConnector", "topics": "t",
                        "s3.bucket.name": "b", "s3.part.size": SUPERSCRIPT},
                       {"connector.class": "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
                        "topics": "t", "connection.url": "http://127.0.0.1:9", "batch.size": SUPERSCRIPT},
                       *({"connector.class": cdc, "database.hostname": "127.0.0.1", "database.port": SUPERSCRIPT,
                          "topic.prefix": "p", "database.user": "u", "database.dbname": "d"}
                         for cdc in ("io.debezium.connector.postgresql.PostgresConnector",
                                     "io.debezium.connector.mysql.MySqlConnector"))]:
            response = client.put("/connectors/c/config", json=config)
            assert response.status_code == 400, (config, response.status_code, response.text)
            assert SUPERSCRIPT in response.json()["message"] or "tasks.max" in response.json()["message"]
        assert client.post("/topics", json={"name": "t"}).status_code in (200, 201)
        for path in ("/topics/t/partitions/0/messages", "/ui/api/topics/t/partitions/0/messages"):
            response = client.get(path, params={"timestamp": SUPERSCRIPT})
            assert response.status_code == 400, (path, response.text)
            assert "timestamp" in response.json()["message"]
        response = client.get(f"/registry/schemas/ids/{SUPERSCRIPT}")
        assert response.status_code == 404 and response.json()["error_code"] == 40403
        response = client.post("/ksql", json={"ksql": "CREATE TABLE w (k STRING PRIMARY KEY, n INT) WITH ("
                                                      "kafka_topic='w', value_format='JSON', partitions=1, "
                                                      f"window_type='TUMBLING', window_size='{SUPERSCRIPT} SECONDS');"})
        assert response.status_code == 400, response.text
        assert "WINDOW_SIZE" in response.json()["message"]


def test_only_ascii_digits_name_a_segment_or_a_group_reference() -> None:
    assert parse_segment_name("²¹.log") is None and parse_segment_name("1.².log") is None
    assert parse_segment_name("00000000000000000012.log") == (12, 0)
    assert java_replacement(f"${SUPERSCRIPT}") == f"${SUPERSCRIPT}"  # a literal, as for any other character
    assert java_replacement("$1") == "\\1"
