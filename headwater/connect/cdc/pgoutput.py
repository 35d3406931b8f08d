"""A decoder of PostgreSQL's pgoutput logical replication messages (protocol version 1, text tuples).

The messages (PostgreSQL docs, "Logical Replication Message Formats"):
Begin ``B``, Commit ``C``, Origin ``O``, Relation ``R``, Type ``Y``, Insert
``I``, Update ``U``, Delete ``D``, Truncate ``T`` and Message ``M``. Tuples
carry each column as null ``n``, unchanged TOAST ``u`` (an update that did not
touch a large value) or text ``t``. Integers are big-endian; timestamps are
microseconds since 2000-01-01 UTC.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

#: Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
PG_EPOCH_US = 946_684_800_000_000
#: Marks a column whose value an update left untouched (TOASTed): Debezium's placeholder.
UNCHANGED = object()

Tuple = tuple[str | None | object, ...]


class DecodeError(ValueError):
    """A replication message this decoder cannot read."""


@dataclass(frozen=True)
class Begin:
    final_lsn: int
    commit_ts_us: int
    xid: int


@dataclass(frozen=True)
class Commit:
    commit_lsn: int
    end_lsn: int
    commit_ts_us: int


@dataclass(frozen=True)
class RelationColumn:
    name: str
    type_oid: int
    typmod: int
    key: bool


@dataclass(frozen=True)
class Relation:
    oid: int
    namespace: str
    name: str
    replica_identity: str
    columns: tuple[RelationColumn, ...]


@dataclass(frozen=True)
class Insert:
    oid: int
    new: Tuple


@dataclass(frozen=True)
class Update:
    oid: int
    #: ``K`` (replica identity key columns), ``O`` (the whole old row: REPLICA IDENTITY FULL) or None.
    old_kind: str | None
    old: Tuple | None
    new: Tuple


@dataclass(frozen=True)
class Delete:
    oid: int
    old_kind: str
    old: Tuple


@dataclass(frozen=True)
class Truncate:
    oids: tuple[int, ...]


@dataclass(frozen=True)
class Other:
    """Origin, Type and logical decoding messages: nothing a row change needs."""

    kind: str


Message = Begin | Commit | Relation | Insert | Update | Delete | Truncate | Other


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def unpack(self, fmt: str) -> tuple[int, ...]:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise DecodeError("pgoutput: message ends early")
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values

    def byte(self) -> str:
        if self.pos >= len(self.data):
            raise DecodeError("pgoutput: message ends early")
        self.pos += 1
        return chr(self.data[self.pos - 1])

    def string(self) -> str:
        end = self.data.find(b"\0", self.pos)
        if end < 0:
            raise DecodeError("pgoutput: unterminated string")
        text = self.data[self.pos:end].decode()
        self.pos = end + 1
        return text

    def tuple(self) -> Tuple:
        (count,) = self.unpack(">h")
        values: list[str | None | object] = []
        for _ in range(count):
            kind = self.byte()
            if kind == "n":
                values.append(None)
            elif kind == "u":
                values.append(UNCHANGED)
            elif kind in ("t", "b"):
                (length,) = self.unpack(">i")
                raw = self.data[self.pos:self.pos + length]
                self.pos += length
                values.append(raw.decode() if kind == "t" else raw)
            else:
                raise DecodeError(f"pgoutput: unknown tuple column kind {kind!r}")
        return tuple(values)


def decode(payload: bytes) -> Message:
    """One pgoutput message."""
    reader = _Reader(payload)
    kind = reader.byte()
    if kind == "B":
        final_lsn, ts, xid = reader.unpack(">qqI")
        return Begin(final_lsn, ts + PG_EPOCH_US, xid)
    if kind == "C":
        _flags, commit_lsn, end_lsn, ts = reader.unpack(">bqqq")
        return Commit(commit_lsn, end_lsn, ts + PG_EPOCH_US)
    if kind == "R":
        (oid,) = reader.unpack(">I")
        namespace, name = reader.string(), reader.string()
        identity = reader.byte()
        (count,) = reader.unpack(">h")
        columns = []
        for _ in range(count):
            (flags,) = reader.unpack(">b")
            column = reader.string()
            type_oid, typmod = reader.unpack(">Ii")
            columns.append(RelationColumn(column, type_oid, typmod, bool(flags & 1)))
        return Relation(oid, namespace or "pg_catalog", name, identity, tuple(columns))
    if kind == "I":
        (oid,) = reader.unpack(">I")
        if reader.byte() != "N":
            raise DecodeError("pgoutput: insert without a new tuple")
        return Insert(oid, reader.tuple())
    if kind == "U":
        (oid,) = reader.unpack(">I")
        marker = reader.byte()
        old_kind, old = None, None
        if marker in ("K", "O"):
            old_kind, old = marker, reader.tuple()
            marker = reader.byte()
        if marker != "N":
            raise DecodeError("pgoutput: update without a new tuple")
        return Update(oid, old_kind, old, reader.tuple())
    if kind == "D":
        (oid,) = reader.unpack(">I")
        marker = reader.byte()
        if marker not in ("K", "O"):
            raise DecodeError("pgoutput: delete without an old tuple")
        return Delete(oid, marker, reader.tuple())
    if kind == "T":
        (count,) = reader.unpack(">i")
        reader.unpack(">b")
        return Truncate(tuple(reader.unpack(f">{count}I")))
    if kind in ("O", "Y", "M"):
        return Other(kind)
    raise DecodeError(f"pgoutput: unknown message type {kind!r}")


def lsn_text(lsn: int) -> str:
    """An LSN as PostgreSQL writes it (``16/B374D848``)."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def lsn_int(text: str) -> int:
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)
