"""S3 sink (``io.confluent.connect.s3.S3SinkConnector`` keys): records to objects, exactly once.

Each Kafka partition's records are grouped by their encoded partition (``s3_partitioner.py``) into open
files; a file is written as one object named
``<topics.dir>/<topic>/<encoded partition>/<topic>+<kafka partition>+<start offset, 10 digits>.<ext>``.
All open files of a Kafka partition are written when ``flush.size`` records are buffered, when a record's
time is ``rotate.interval.ms`` past the first one's (Record/RecordField time), when
``rotate.schedule.interval.ms`` of wall-clock time passed since the files were opened, or when the value
schema changes. Only then are their offsets committed (``pre_commit``), so after a crash the replay starts
at the first record of the files that were open: the same records, cut the same way, make the same object
names and bytes, and overwrite whatever was half written. Wall-clock rotation and the Wallclock extractor
are the exception, as in Confluent's sink.

Objects go through boto3 (``store.url`` for an S3-compatible server such as MinIO or SeaweedFS,
path-style addressing unless ``s3.path.style.access.enabled=false``); a network failure is retried by the
runtime (``RetriableError``).
"""

from __future__ import annotations

import builtins
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from headwater.connect.api import ConfigKey, ConnectError, Connector, RecordFailure, RetriableError, SinkTask, Task
from headwater.connect.data import ConnectSchema, SinkRecord
from headwater.connect.avro_container import CODECS
from headwater.connect.s3_formats import PARQUET_CODECS, FileFormat, file_format
from headwater.connect.s3_partitioner import Partitioner

logger = logging.getLogger(__name__)
DEFAULT_PART_SIZE = 25 * 1024 * 1024  # Confluent's default
MIN_PART_SIZE = 5 * 1024 * 1024  # S3's smallest part but the last
CODECS_LIST = tuple(CODECS)


class S3SinkConnector(Connector):
    type = "sink"
    version = "10.5.0"

    @classmethod
    def config_def(cls) -> Sequence[ConfigKey]:
        return (
            ConfigKey("s3.bucket.name", required=True, importance="HIGH", documentation="The bucket."),
            ConfigKey("flush.size", "INT", required=True, importance="HIGH",
                      documentation="Records per object before it is written."),
            ConfigKey("format.class", "CLASS", "io.confluent.connect.s3.format.avro.AvroFormat", importance="HIGH"),
            ConfigKey("s3.region", default="us-west-2"),
            ConfigKey("store.url", documentation="Endpoint of an S3-compatible server."),
            ConfigKey("aws.access.key.id"),
            ConfigKey("aws.secret.access.key", "PASSWORD"),
            ConfigKey("topics.dir", default="topics"),
            ConfigKey("partitioner.class", "CLASS",
                      "io.confluent.connect.storage.partitioner.DefaultPartitioner"),
            ConfigKey("rotate.interval.ms", "LONG", -1),
            ConfigKey("rotate.schedule.interval.ms", "LONG", -1),
            ConfigKey("behavior.on.null.values", default="fail", recommended_values=("fail", "ignore")),
            ConfigKey("s3.part.size", "INT", DEFAULT_PART_SIZE,
                      documentation="Bytes per part of a multipart upload; larger objects are sent in parts."),
            ConfigKey("avro.codec", default="null", recommended_values=CODECS_LIST),
            ConfigKey("parquet.codec", default="snappy", recommended_values=PARQUET_CODECS),
        )

    @classmethod
    def validate(cls, config: Mapping[str, str]) -> dict[str, list[str]]:
        errors = super().validate(config)
        for key in ("flush.size", "rotate.interval.ms", "rotate.schedule.interval.ms", "s3.part.size"):
            raw = config.get(key)
            if raw is not None and not raw.strip().lstrip("-").isdecimal():
                errors.setdefault(key, []).append(f"Invalid value {raw} for configuration {key}: Not a number")
        if config.get("flush.size", "1").strip().isdecimal() and int(config.get("flush.size", "1")) < 1:
            errors.setdefault("flush.size", []).append("flush.size must be at least 1")
        try:
            part_size(config)
        except ConnectError as exc:
            errors.setdefault("s3.part.size", []).append(str(exc))
        try:
            file_format(config)
        except ConnectError as exc:
            key = next((k for k in ("avro.codec", "parquet.codec", "s3.compression.type") if k in str(exc)),
                       "format.class")
            errors.setdefault(key, []).append(str(exc))
        try:
            Partitioner(config)
        except ConnectError as exc:
            errors.setdefault("partitioner.class", []).append(str(exc))
        return errors

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        return [dict(self.config) for _ in range(max_tasks)]

    def task_class(self) -> builtins.type[Task]:
        return S3SinkTask


def part_size(config: Mapping[str, str]) -> int:
    """``s3.part.size``, within Confluent's range (S3's 5 MiB minimum part to the largest Java int)."""
    raw = config.get("s3.part.size", str(DEFAULT_PART_SIZE)).strip()
    if not raw.lstrip("-").isdecimal() or not MIN_PART_SIZE <= int(raw) <= 2**31 - 1:
        raise ConnectError(f"S3 sink: Invalid value {raw} for configuration s3.part.size: Value must be at least "
                           f"{MIN_PART_SIZE} and no more than {2**31 - 1}")
    return int(raw)


@dataclass
class _OpenFile:
    start_offset: int
    records: list[SinkRecord] = field(default_factory=list)


@dataclass
class _PartitionWriter:
    """The open files of one Kafka partition, and how far its records are durable."""

    files: dict[str, _OpenFile] = field(default_factory=dict)
    count: int = 0
    first_time: int | None = None
    opened_at: float = 0.0
    schema: ConnectSchema | None = None
    committed: int | None = None  # next offset after the last record written to S3


class S3SinkTask(SinkTask):
    flush_when_idle = True

    def start(self, config: Mapping[str, str]) -> None:
        super().start(config)
        self.bucket = config["s3.bucket.name"]
        self.flush_size = int(config.get("flush.size", "0"))
        if self.flush_size < 1:
            raise ConnectError("S3 sink: flush.size must be at least 1")
        self.rotate_ms = int(config.get("rotate.interval.ms", "-1"))
        self.schedule_ms = int(config.get("rotate.schedule.interval.ms", "-1"))
        self.topics_dir = config.get("topics.dir", "topics").strip("/")
        self.delim = config.get("directory.delim", "/")
        self.file_delim = config.get("file.delim", "+")
        self.pad = int(config.get("filename.offset.zero.pad.width", "10"))
        self.on_null = config.get("behavior.on.null.values", "fail").lower()
        self.format: FileFormat = file_format(config)
        self.part_size = part_size(config)
        self.partitioner = Partitioner(config)
        self.writers: dict[tuple[str, int], _PartitionWriter] = {}
        path_style = config.get("s3.path.style.access.enabled", "true").lower() == "true"
        self.client: Any = boto3.client(
            "s3", endpoint_url=config.get("store.url") or None, region_name=config.get("s3.region", "us-west-2"),
            aws_access_key_id=config.get("aws.access.key.id") or None,
            aws_secret_access_key=config.get("aws.secret.access.key") or None,
            config=botocore.config.Config(s3={"addressing_style": "path" if path_style else "auto"},
                                          retries={"max_attempts": int(config.get("s3.retry.max", "3"))},
                                          connect_timeout=10, read_timeout=60))

    def put(self, records: Sequence[SinkRecord]) -> Sequence[RecordFailure]:
        failures: list[RecordFailure] = []
        for record in records:
            writer = self.writers.setdefault((record.topic, record.partition), _PartitionWriter())
            if record.value is None:
                if self.on_null == "ignore":
                    self._skip(writer, record)
                    continue
                failures.append(RecordFailure(record, ConnectError(
                    "S3 sink: null value (tombstone) with behavior.on.null.values=fail")))
                self._skip(writer, record)
                continue
            try:
                self.format.check(record)
                path = self.partitioner.encode(record)
                time_ms = self.partitioner.timestamp(record) if self.rotate_ms > 0 else None
            except ConnectError as exc:
                failures.append(RecordFailure(record, exc))
                self._skip(writer, record)
                continue
            if writer.count and (record.value_schema != writer.schema or (
                    time_ms is not None and writer.first_time is not None
                    and time_ms - writer.first_time >= self.rotate_ms)):
                self._commit(record.topic, record.partition, writer)
            if not writer.count:
                writer.first_time, writer.opened_at, writer.schema = time_ms, time.monotonic(), record.value_schema
            writer.files.setdefault(path, _OpenFile(record.offset)).records.append(record)
            writer.count += 1
            if writer.count >= self.flush_size:
                self._commit(record.topic, record.partition, writer)
        return failures

    def _skip(self, writer: _PartitionWriter, record: SinkRecord) -> None:
        """A record that goes into no file: durable as soon as nothing before it is still open."""
        if not writer.count:
            writer.committed = record.offset + 1

    def flush(self) -> None:
        if self.schedule_ms <= 0:
            return
        now = time.monotonic()
        for (topic, partition), writer in self.writers.items():
            if writer.count and (now - writer.opened_at) * 1000 >= self.schedule_ms:
                self._commit(topic, partition, writer)

    def pre_commit(self, offsets: Mapping[tuple[str, int], int]) -> Mapping[tuple[str, int], int]:
        ready: dict[tuple[str, int], int] = {}
        for tp, writer in self.writers.items():
            if writer.count:
                start = min(f.start_offset for f in writer.files.values())
                if writer.committed is not None and writer.committed <= start:
                    ready[tp] = writer.committed
            elif writer.committed is not None:
                ready[tp] = writer.committed
        return ready

    def object_key(self, topic: str, partition: int, path: str, start_offset: int) -> str:
        name = f"{topic}{self.file_delim}{partition}{self.file_delim}{start_offset:0{self.pad}d}{self.format.extension}"
        return self.delim.join(p for p in (self.topics_dir, topic, path, name) if p)

    def _commit(self, topic: str, partition: int, writer: _PartitionWriter) -> None:
        """Write every open file of a partition; its offsets become committable once all are written."""
        last = max(f.records[-1].offset for f in writer.files.values())
        for path, open_file in sorted(writer.files.items(), key=lambda item: item[1].start_offset):
            key = self.object_key(topic, partition, path, open_file.start_offset)
            body = self.format.write(open_file.records)
            try:
                if len(body) > self.part_size:
                    self._upload_in_parts(key, body)
                else:
                    self.client.put_object(Bucket=self.bucket, Key=key, Body=body)
            except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectionClosedError,
                    botocore.exceptions.ReadTimeoutError, botocore.exceptions.ConnectTimeoutError) as exc:
                raise RetriableError(f"S3 sink: writing s3://{self.bucket}/{key} failed: {exc}") from exc
            except botocore.exceptions.ClientError as exc:
                raise ConnectError(f"S3 sink: writing s3://{self.bucket}/{key} was refused: {exc}") from exc
            logger.debug("S3 sink: wrote s3://%s/%s (%d records)", self.bucket, key, len(open_file.records))
        writer.files.clear()
        writer.count, writer.first_time, writer.schema = 0, None, None
        writer.committed = last + 1

    def _upload_in_parts(self, key: str, body: bytes) -> None:
        """A multipart upload of ``s3.part.size`` parts (the last one shorter). The object appears whole
        when the upload completes, or not at all: a failure aborts the upload, and the replay after a
        crash uploads it again under the same name."""
        upload = self.client.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
        try:
            parts = []
            for number, start in enumerate(range(0, len(body), self.part_size), start=1):
                sent = self.client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload, PartNumber=number,
                                               Body=body[start : start + self.part_size])
                parts.append({"PartNumber": number, "ETag": sent["ETag"]})
            self.client.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload,
                                                  MultipartUpload={"Parts": parts})
        except BaseException:
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload)
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
                logger.warning("S3 sink: aborting the multipart upload of s3://%s/%s failed", self.bucket, key)
            raise
        logger.debug("S3 sink: wrote s3://%s/%s in %d parts", self.bucket, key, len(parts))

    def stop(self) -> None:
        # Open files are not written on stop: their records are replayed from the committed offset,
        # which keeps object boundaries (and so names) the same as an uninterrupted run.
        self.writers.clear()
