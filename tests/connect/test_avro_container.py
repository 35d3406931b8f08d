"""Avro container files of the S3 sink (connect/avro_container.py): every codec Confluent's sink accepts
makes a file that fastavro's stock reader reads back; the same records make the same bytes."""

from __future__ import annotations

import bz2
import io
import lzma
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import fastavro
import fastavro.read
import pyarrow as pa
import pytest

from headwater.connect.api import ConnectError
from headwater.connect.avro_container import BLOCK_BYTES, CODECS, check_codec, container

SCHEMA = {"type": "record", "name": "events.Event", "fields": [
    {"name": "n", "type": "long"}, {"name": "user", "type": ["null", "string"]}]}


def _read_long(fo: Any) -> int:
    shift = result = 0
    while True:
        byte = fo.read(1)[0]
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return (result >> 1) ^ -(result & 1)


def _snappy_block(fo: Any) -> io.BytesIO:
    """Avro's snappy block by the spec: raw snappy data, then the CRC-32 of the uncompressed bytes."""
    data = fo.read(_read_long(fo))
    body, crc = data[:-4], int.from_bytes(data[-4:], "big")
    # Raw snappy starts with the uncompressed length as a little-endian base-128 varint.
    size = shift = i = 0
    while True:
        size |= (body[i] & 0x7F) << shift
        shift += 7
        i += 1
        if not body[i - 1] & 0x80:
            break
    out = pa.Codec("snappy").decompress(body, decompressed_size=size, asbytes=True)
    assert zlib.crc32(out) == crc
    return io.BytesIO(out)


def _zstd_content_size(frame: bytes) -> int:
    """The content size a zstd frame header carries (RFC 8878 3.1.1.1)."""
    descriptor = frame[4]
    fcs_flag, single = descriptor >> 6, (descriptor >> 5) & 1
    at = 5 + (0 if single else 1) + (0, 1, 2, 4)[descriptor & 3]
    width = (1 if single else 0, 2, 4, 8)[fcs_flag]
    assert width, "the frame carries no content size"
    size = int.from_bytes(frame[at : at + width], "little")
    return size + 256 if width == 2 else size


def _zstd_block(fo: Any) -> io.BytesIO:
    data = fo.read(_read_long(fo))
    return io.BytesIO(pa.Codec("zstd").decompress(data, decompressed_size=_zstd_content_size(data), asbytes=True))


@pytest.fixture(autouse=True)
def block_readers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """fastavro reads snappy and zstandard only with cramjam/backports.zstd, which the project does not
    need: this test gives its reader block readers made from the spec (pyarrow's codecs) instead."""
    readers: dict[str, Callable[[Any], io.BytesIO]] = fastavro.read.BLOCK_READERS
    monkeypatch.setitem(readers, "snappy", _snappy_block)
    monkeypatch.setitem(readers, "zstandard", _zstd_block)
    yield


def values(count: int) -> list[dict[str, Any]]:
    return [{"n": i, "user": None if i % 5 == 0 else f"user-{i}" * (i % 13)} for i in range(count)]


@pytest.mark.parametrize("codec", list(CODECS))
def test_each_codec_reads_back_with_fastavro(codec: str) -> None:
    rows = values(3000)  # several blocks
    body = container(SCHEMA, rows, codec)
    reader = fastavro.reader(io.BytesIO(body))
    assert reader.metadata["avro.codec"] == codec
    assert list(reader) == rows
    assert container(SCHEMA, rows, codec) == body  # a replay writes the same bytes
    if codec == "null":
        assert len(body) > BLOCK_BYTES and body.count(b"headwater-s3sink") > 2


def _blocks(body: bytes) -> list[tuple[int, bytes]]:
    """(record count, stored bytes) of each block of a container file."""
    fo = io.BytesIO(body[body.index(b"headwater-s3sink") + 16:])
    found = []
    while fo.tell() < len(fo.getbuffer()):
        count = _read_long(fo)
        found.append((count, fo.read(_read_long(fo))))
        assert fo.read(16) == b"headwater-s3sink"
    return found


def test_blocks_are_compressed_as_named() -> None:
    rows = values(2000)
    plain = _blocks(container(SCHEMA, rows, "null"))
    assert len(plain) > 1 and sum(count for count, _ in plain) == 2000
    for codec, decompress in (("deflate", lambda b: zlib.decompress(b, -15)), ("bzip2", bz2.decompress),
                              ("xz", lzma.decompress)):
        blocks = _blocks(container(SCHEMA, rows, codec))
        assert [(count, decompress(data)) for count, data in blocks] == plain, codec


def test_unknown_codecs_are_a_config_error() -> None:
    assert check_codec("snappy") == "snappy"
    with pytest.raises(ConnectError, match="avro.codec: String must be one of: null, deflate, snappy"):
        check_codec("lz4")
