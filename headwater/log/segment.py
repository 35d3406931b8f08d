"""Segment files of the embedded log: a sequence of framed Arrow record batches.

A frame is a fixed header followed by the batch as an Arrow IPC message (the
batch's columns, without the schema, which is always RECORD_SCHEMA):

    magic "HWB1" | flags u32 | payload length u32 | base offset i64 | last offset i64 |
    record count u32 | max timestamp i64 | crc32c(payload) u32 | crc32c(header) u32

Flag ``TRANSACTIONAL`` marks a frame written by a transaction: it counts only
once the index commit that ends the transaction names it, so recovery never
indexes such a frame on its own (it is cut off with the rest of a torn tail).

The SQLite index says which frames are committed; the frames describe
themselves, so a tail written but not yet indexed (a writer killed between
its fsync and its index commit) can be recovered, and a torn or corrupt tail
is recognized and cut off. Everything read is checked against both CRCs first:
corrupt bytes are never returned as data.
"""

from __future__ import annotations

import os
import struct
import threading
from dataclasses import dataclass

from crc32c import crc32c
import pyarrow as pa

from headwater.errors import CorruptLogError
from headwater.log.base import RECORD_SCHEMA

MAGIC = b"HWB1"
TRANSACTIONAL = 0x1
_HEADER = struct.Struct("<4sIIqqIqI")
_HEADER_CRC = struct.Struct("<I")
HEADER_SIZE = _HEADER.size + _HEADER_CRC.size


@dataclass(frozen=True)
class FrameHeader:
    flags: int
    payload_size: int
    base_offset: int
    last_offset: int
    count: int
    max_timestamp: int
    payload_crc: int

    @property
    def size(self) -> int:
        return HEADER_SIZE + self.payload_size


def encode_frame(batch: pa.RecordBatch, flags: int = 0) -> tuple[FrameHeader, list[bytes | pa.Buffer]]:
    """Frame a batch of RECORD_SCHEMA; returns the header and the byte chunks to write."""
    payload = batch.serialize()
    offsets = batch.column(0)
    timestamps = batch.column(1)
    header = FrameHeader(
        flags=flags,
        payload_size=payload.size,
        base_offset=offsets[0].as_py(),
        last_offset=offsets[-1].as_py(),
        count=batch.num_rows,
        max_timestamp=int(pa.compute.max(timestamps).as_py()),
        payload_crc=crc32c(payload),
    )
    head = _HEADER.pack(
        MAGIC,
        header.flags,
        header.payload_size,
        header.base_offset,
        header.last_offset,
        header.count,
        header.max_timestamp,
        header.payload_crc,
    )
    return header, [head + _HEADER_CRC.pack(crc32c(head)), payload]


def decode_header(raw: bytes | memoryview) -> FrameHeader | None:
    """Parse a frame header; None if the bytes are not a valid header."""
    if len(raw) < HEADER_SIZE:
        return None
    head = bytes(raw[: _HEADER.size])
    (crc,) = _HEADER_CRC.unpack_from(raw, _HEADER.size)
    if crc32c(head) != crc:
        return None
    magic, flags, size, base, last, count, max_ts, payload_crc = _HEADER.unpack(head)
    if magic != MAGIC or count < 1 or last < base:
        return None
    return FrameHeader(flags, size, base, last, count, max_ts, payload_crc)


def decode_payload(payload: pa.Buffer, header: FrameHeader, where: str) -> pa.RecordBatch:
    """Check the payload CRC and return the batch (zero-copy over ``payload``)."""
    if payload.size != header.payload_size or crc32c(payload) != header.payload_crc:
        raise CorruptLogError(f"log: checksum mismatch in {where}: the stored batch is corrupt")
    batch = pa.ipc.read_record_batch(payload, RECORD_SCHEMA)
    if batch.num_rows != header.count:
        raise CorruptLogError(
            f"log: {where}: frame says {header.count} records, batch holds {batch.num_rows}"
        )
    return batch


class SegmentReader:
    """Zero-copy access to one segment file through a memory map.

    The map is re-made when a read reaches past its end (the file grew). Buffers
    handed out keep their map alive, so a segment deleted by retention or
    replaced by compaction stays readable for whoever already holds it.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._whole: pa.Buffer | None = None
        self._lock = threading.Lock()

    def read(self, position: int, size: int) -> pa.Buffer:
        """The bytes at ``position``; FileNotFoundError if the file is gone, CorruptLogError if too short."""
        # Touching a mapped page past the end of a file cut short kills the process (SIGBUS):
        # check the file's length first.
        length = os.stat(self.path).st_size
        if position + size > length:
            raise CorruptLogError(
                f"log: segment {self.path} is truncated: it has {length} bytes, "
                f"the index expects a batch at {position}..{position + size}"
            )
        whole = self._whole
        if whole is None or position + size > whole.size:
            with self._lock:
                mapped = pa.memory_map(self.path, "r")
                whole = self._whole = mapped.read_buffer()
            if position + size > whole.size:
                raise CorruptLogError(
                    f"log: segment {self.path} is truncated: it has {whole.size} bytes, "
                    f"the index expects a batch at {position}..{position + size}"
                )
        return whole.slice(position, size)

    def frame(self, position: int, size: int, where: str) -> pa.RecordBatch:
        buf = self.read(position, size)
        header = decode_header(memoryview(buf)[:HEADER_SIZE])
        if header is None or header.size != size:
            raise CorruptLogError(f"log: bad batch header in {where} ({self.path} at byte {position})")
        return decode_payload(buf.slice(HEADER_SIZE), header, where)


def segment_name(base_offset: int, generation: int = 0) -> str:
    """The file name of a segment starting at ``base_offset`` (compaction rewrites it as a new generation)."""
    return f"{base_offset:020d}.log" if generation == 0 else f"{base_offset:020d}.{generation}.log"


def parse_segment_name(name: str) -> tuple[int, int] | None:
    """(base offset, generation) of a segment file name; None if it is not one."""
    parts = name.split(".")
    if parts[-1] != "log" or len(parts) not in (2, 3) or not all(p.isascii() and p.isdigit() for p in parts[:-1]):
        return None
    return int(parts[0]), int(parts[1]) if len(parts) == 3 else 0


def scan_tail(
    fd: int, start: int, expected_offset: int, *, rebuilding: bool = False
) -> list[tuple[int, FrameHeader]]:
    """Find complete, valid frames from ``start`` on, with offsets continuing from ``expected_offset``.

    Stops at the first byte that is not such a frame (a torn write, or the
    frame of a transaction that never committed): the caller truncates there.
    ``rebuilding`` (the index is lost and rebuilt from the files) accepts
    transactional frames and gaps in offsets (compacted segments have them).
    """
    found: list[tuple[int, FrameHeader]] = []
    end = os.fstat(fd).st_size
    position = start
    while position + HEADER_SIZE <= end:
        header = decode_header(os.pread(fd, HEADER_SIZE, position))
        if (
            header is None
            or (header.flags & TRANSACTIONAL and not rebuilding)
            or (header.base_offset < expected_offset if rebuilding else header.base_offset != expected_offset)
            or position + header.size > end
        ):
            break
        payload = os.pread(fd, header.payload_size, position + HEADER_SIZE)
        if crc32c(payload) != header.payload_crc:
            break
        found.append((position, header))
        position += header.size
        expected_offset = header.last_offset + 1
    return found
