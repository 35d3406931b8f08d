"""The S3 sink's file formats (``format.class``): Avro container files, Parquet and JSON lines.

Each turns the records of one object into its bytes. Avro writes the value schema mapped as Confluent's
AvroData does (``avro_data.py``) in a container file (``avro_container.py``) with ``avro.codec`` (null,
deflate, snappy, bzip2, xz or zstandard, as Confluent's sink accepts); Parquet maps the Connect schema to
Arrow (struct, array, map, logical types) with ``parquet.codec`` (none, gzip, snappy (the default), lz4,
brotli or zstd; pyarrow writes lz4 as Parquet's LZ4_RAW, and has no lzo); JSON writes each value
as one line, as Connect's JsonConverter would without schemas. Records of one object share one value schema
(the sink starts a new object when it changes, as Confluent's does); schemaless JSON objects get one
inferred per object (``schema_inference.py``), where Confluent's sink would refuse them.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from headwater.connect.api import ConnectError
from headwater.connect.avro_container import check_codec, container
from headwater.connect.avro_data import avro_schema, to_avro_value
from headwater.connect.converters import DATE, DECIMAL, TIME, TIMESTAMP, value_to_json
from headwater.connect.data import ConnectSchema, SinkRecord
from headwater.connect.schema_inference import conform, infer_schema

_PRIMITIVES = {"int8": pa.int8(), "int16": pa.int16(), "int32": pa.int32(), "int64": pa.int64(),
               "float32": pa.float32(), "float64": pa.float64(), "boolean": pa.bool_(), "string": pa.string(),
               "bytes": pa.binary()}
PARQUET_CODECS = ("none", "gzip", "snappy", "lz4", "brotli", "zstd")
FORMATS = {
    "io.confluent.connect.s3.format.avro.AvroFormat": "avro",
    "io.confluent.connect.s3.format.parquet.ParquetFormat": "parquet",
    "io.confluent.connect.s3.format.json.JsonFormat": "json",
}


def arrow_type(schema: ConnectSchema) -> pa.DataType:
    """The Arrow type of a Connect schema."""
    if schema.name == TIMESTAMP:
        return pa.timestamp("ms", tz="UTC")
    if schema.name == DATE:
        return pa.date32()
    if schema.name == TIME:
        return pa.time32("ms")
    if schema.name == DECIMAL:
        params = dict(schema.parameters or {})
        return pa.decimal128(int(params.get("connect.decimal.precision", 38)), int(params.get("scale", 0)))
    if schema.type in _PRIMITIVES:
        return _PRIMITIVES[schema.type]
    if schema.type == "array" and schema.value_schema is not None:
        return pa.list_(arrow_type(schema.value_schema))
    if schema.type == "map" and schema.key_schema is not None and schema.value_schema is not None:
        return pa.map_(arrow_type(schema.key_schema), arrow_type(schema.value_schema))
    if schema.type == "struct":
        return pa.struct([pa.field(f.name, arrow_type(f.schema), nullable=f.schema.optional) for f in schema.fields])
    raise ConnectError(f"S3 sink: no Parquet type for the Connect schema {schema.type!r}")


class FileFormat:
    """Bytes of one object from its records."""

    extension = ""

    def __init__(self, config: Mapping[str, str]) -> None:
        self.config = config

    def check(self, record: SinkRecord) -> None:
        """Raise ConnectError if this record cannot go into a file of this format (a record failure)."""

    def write(self, records: Sequence[SinkRecord]) -> bytes:
        raise NotImplementedError


class JsonFile(FileFormat):
    """JSON lines; ``s3.compression.type=gzip`` writes ``.json.gz`` (mtime 0: a replay makes the same bytes)."""

    def __init__(self, config: Mapping[str, str]) -> None:
        super().__init__(config)
        self.compression = config.get("s3.compression.type", "none").lower()
        if self.compression not in ("none", "gzip"):
            raise ConnectError(f"S3 sink: s3.compression.type {self.compression!r} is not none or gzip")
        self.extension = ".json.gz" if self.compression == "gzip" else ".json"

    def write(self, records: Sequence[SinkRecord]) -> bytes:
        lines = [orjson.dumps(value_to_json(r.value_schema, r.value)) for r in records]
        body = b"\n".join(lines) + b"\n"
        return gzip.compress(body, mtime=0) if self.compression == "gzip" else body


def schema_and_values(records: Sequence[SinkRecord], name: str) -> tuple[ConnectSchema, list[Any]]:
    """The records' value schema and values; schemaless values get one inferred from this object's records."""
    schema = records[0].value_schema
    if schema is not None:
        return schema, [r.value for r in records]
    inferred = infer_schema((r.value for r in records), name=name)
    if inferred.type != "struct":
        raise ConnectError("S3 sink: schemaless values must be JSON objects for the Avro and Parquet formats")
    return inferred, [conform(inferred, r.value) for r in records]


class AvroFile(FileFormat):
    extension = ".avro"

    def __init__(self, config: Mapping[str, str]) -> None:
        super().__init__(config)
        self.codec = check_codec(config.get("avro.codec", "null").strip() or "null")

    def check(self, record: SinkRecord) -> None:
        if record.value_schema is None and not isinstance(record.value, dict):
            raise ConnectError("S3 sink: the Avro format needs records with a value schema (a schemaful converter "
                               "such as AvroConverter, or JsonConverter with schemas.enable=true) or JSON objects")

    def write(self, records: Sequence[SinkRecord]) -> bytes:
        schema, values = schema_and_values(records, f"io.headwater.s3.{_avro_name(records[0].topic)}")
        return container(avro_schema(schema), (to_avro_value(schema, v) for v in values), self.codec)


class ParquetFile(FileFormat):
    extension = ".parquet"

    def __init__(self, config: Mapping[str, str]) -> None:
        super().__init__(config)
        codec = config.get("parquet.codec", "snappy").strip().lower() or "snappy"
        if codec not in PARQUET_CODECS:
            hint = " (pyarrow cannot write LZO)" if codec == "lzo" else ""
            raise ConnectError(f"S3 sink: Invalid value {codec} for configuration parquet.codec: String must be "
                               f"one of: {', '.join(PARQUET_CODECS)}{hint}")
        self.codec = codec

    def check(self, record: SinkRecord) -> None:
        schema = record.value_schema
        if (schema is not None and schema.type != "struct") or (schema is None and not isinstance(record.value, dict)):
            raise ConnectError("S3 sink: the Parquet format needs struct values (with a schema, or JSON objects)")

    def write(self, records: Sequence[SinkRecord]) -> bytes:
        schema, values = schema_and_values(records, records[0].topic)
        struct = arrow_type(schema)
        rows: list[Any] = [_arrow_value(schema, v) for v in values]
        table = pa.Table.from_pylist(rows, schema=pa.schema(list(struct)))
        out = io.BytesIO()
        pq.write_table(table, out, compression=self.codec)
        return out.getvalue()


def _arrow_value(schema: ConnectSchema | None, value: Any) -> Any:
    if value is None or schema is None:
        return value
    if schema.type == "struct":
        return {f.name: _arrow_value(f.schema, value.get(f.name)) for f in schema.fields}
    if schema.type == "array":
        return [_arrow_value(schema.value_schema, v) for v in value]
    if schema.type == "map":
        return [(k, _arrow_value(schema.value_schema, v)) for k, v in (value.items() if isinstance(value, dict)
                                                                       else value)]
    return value


def _avro_name(topic: str) -> str:
    cleaned = "".join(c if c.isalnum() or c == "_" else "_" for c in topic)
    return cleaned if cleaned and not cleaned[0].isdigit() else f"_{cleaned}"


def file_format(config: Mapping[str, str]) -> FileFormat:
    name = config.get("format.class", "io.confluent.connect.s3.format.avro.AvroFormat")
    kind = FORMATS.get(name) or next((v for k, v in FORMATS.items() if k.rsplit(".", 1)[-1] == name), None)
    if kind is None:
        raise ConnectError(f"S3 sink: format.class {name!r} is not one of {', '.join(FORMATS)}")
    return {"avro": AvroFile, "parquet": ParquetFile, "json": JsonFile}[kind](config)
