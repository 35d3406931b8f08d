"""Avro object container files with the codecs Confluent's S3 sink accepts (``avro.codec``).

Confluent's sink takes ``null``, ``deflate``, ``snappy``, ``bzip2``, ``xz`` and ``zstandard`` (Avro's
``CodecFactory`` names). fastavro writes the first ones itself but needs extra libraries (cramjam,
backports.zstd) for snappy and zstandard, so the container is framed here and each block compressed by
the standard library (deflate, bzip2, xz) or by pyarrow's bundled codecs (snappy, zstd): no dependency
beyond the project's. The framing is Avro 1.11's: ``Obj\\x01``, the metadata map (``avro.schema``,
``avro.codec``), a 16-byte sync marker, then blocks of (record count, byte size, data, sync marker);
a snappy block is the raw snappy data followed by the big-endian CRC-32 of the uncompressed bytes.
Blocks are cut every :data:`BLOCK_BYTES` of encoded records (Java's ``DataFileWriter`` default sync
interval), and the sync marker is fixed, so the same records always make the same bytes (a replayed
object is identical).
"""

from __future__ import annotations

import bz2
import io
import lzma
import zlib
from collections.abc import Callable, Iterable
from typing import Any

import fastavro
import orjson
import pyarrow as pa

from headwater.connect.api import ConnectError

MAGIC = b"Obj\x01"
SYNC = b"headwater-s3sink"
BLOCK_BYTES = 64_000
_HEADER = fastavro.parse_schema({"type": "record", "name": "org.apache.avro.file.Header", "fields": [
    {"name": "magic", "type": {"type": "fixed", "name": "Magic", "size": 4}},
    {"name": "meta", "type": {"type": "map", "values": "bytes"}},
    {"name": "sync", "type": {"type": "fixed", "name": "Sync", "size": 16}}]})


def _deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)  # raw deflate, as Avro's
    return compressor.compress(data) + compressor.flush()


def _snappy(data: bytes) -> bytes:
    return pa.Codec("snappy").compress(data, asbytes=True) + zlib.crc32(data).to_bytes(4, "big")


def _zstandard(data: bytes) -> bytes:
    return pa.Codec("zstd").compress(data, asbytes=True)


CODECS: dict[str, Callable[[bytes], bytes]] = {
    "null": lambda data: data,
    "deflate": _deflate,
    "snappy": _snappy,
    "bzip2": bz2.compress,
    "xz": lzma.compress,
    "zstandard": _zstandard,
}


def check_codec(codec: str) -> str:
    """``codec`` if it is one Confluent's sink accepts, else a ConnectError naming the choices."""
    if codec not in CODECS:
        raise ConnectError(f"S3 sink: Invalid value {codec} for configuration avro.codec: "
                           f"String must be one of: {', '.join(CODECS)}")
    return codec


def avro_long(n: int) -> bytes:
    """``n`` as Avro writes a long: zigzag, then a base-128 varint."""
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z & ~0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def container(schema: Any, values: Iterable[Any], codec: str) -> bytes:
    """The container file of ``values`` written with the Avro ``schema`` (a JSON-able dict), compressed
    block by block with ``codec``."""
    compress = CODECS[check_codec(codec)]
    parsed = fastavro.parse_schema(schema, _write_hint=False)
    out = io.BytesIO()
    fastavro.schemaless_writer(out, _HEADER, {"magic": MAGIC, "sync": SYNC, "meta": {
        "avro.schema": orjson.dumps(schema), "avro.codec": codec.encode()}})
    block = io.BytesIO()
    count = 0

    def flush() -> None:
        data = compress(block.getvalue())
        out.write(avro_long(count) + avro_long(len(data)) + data + SYNC)

    for value in values:
        fastavro.schemaless_writer(block, parsed, value)
        count += 1
        if block.tell() >= BLOCK_BYTES:
            flush()
            block.seek(0)
            block.truncate()
            count = 0
    if count:
        flush()
    return out.getvalue()
