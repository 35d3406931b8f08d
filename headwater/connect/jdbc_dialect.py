"""What the JDBC sink needs to know about each database: URLs, column types, upserts, transient errors.

MariaDB/MySQL (pymysql), PostgreSQL (psycopg 3) and SQLite through SQLAlchemy.

Column types with a Connect schema follow Confluent's JDBC sink dialects:

| Connect type | MariaDB/MySQL | PostgreSQL | SQLite |
| --- | --- | --- | --- |
| int8 / int16 / int32 / int64 | TINYINT / SMALLINT / INT / BIGINT | SMALLINT / SMALLINT / INT / BIGINT | INTEGER affinity |
| float32 / float64 | FLOAT / DOUBLE | REAL / DOUBLE PRECISION | REAL affinity |
| boolean | BOOL (TINYINT(1)) | BOOLEAN | BOOLEAN |
| string | TEXT (VARCHAR(256) in a key (*)) | TEXT (VARCHAR(256) in a key (*)) | TEXT (VARCHAR(256) in a key (*)) |
| bytes | BLOB (VARBINARY(1024) in a key) | BYTEA | BLOB |
| Decimal (scale s) | DECIMAL(65, s) | NUMERIC | NUMERIC |
| Date / Time / Timestamp | DATE / TIME(3) / DATETIME(3) | DATE / TIME / TIMESTAMP | DATE / TIME / DATETIME |
| struct / map / array | TEXT holding JSON | TEXT holding JSON | TEXT holding JSON |

The primary key (``auto.create``) is the record key's fields with
``pk.mode=record_key`` (a struct key: its fields, or ``pk.fields`` of them; a
primitive key: the one column ``pk.fields`` names), ``pk.fields`` of the value
with ``record_value``, ``__connect_topic, __connect_partition,
__connect_offset`` with ``kafka``; key columns are NOT NULL. A windowed
table's key becomes ``(key, WINDOWSTART, WINDOWEND)`` with the
``WindowedKey`` transform (``headwater.connect.windowed``), the bounds as
Timestamps, hence DATETIME(3)/TIMESTAMP columns.

(*) With more than three key columns each gets 768 / n characters (at
least 64), so the key fits MariaDB's 3072-byte index in utf8mb4.

Without a schema (schemaless JSON, plain dicts) the type is inferred from the
Python values of the batch: ``bool`` -> boolean, ``int`` -> int64, ``float``
(or ints mixed with floats) -> float64, ``str`` -> string, ``bytes`` -> bytes,
``Decimal`` -> Decimal, ``datetime`` -> Timestamp, ``date`` -> Date, ``dict`` /
``list`` -> JSON text; a column seen only as null, or with mixed types, is
string. Inferred columns are nullable, except primary-key columns.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import URL, make_url

from headwater.connect.data import ConnectSchema
from headwater.connect.secrets import mask_url
from headwater.errors import ConfigError

MYSQL = ("mysql", "mariadb")
TIMESTAMP = "org.apache.kafka.connect.data.Timestamp"
DATE = "org.apache.kafka.connect.data.Date"
TIME = "org.apache.kafka.connect.data.Time"
DECIMAL = "org.apache.kafka.connect.data.Decimal"
_EPOCH = dt.datetime(1970, 1, 1)

# -- connection URLs ------------------------------------------------------------

_JDBC_DRIVERS = {"mysql": "mysql+pymysql", "mariadb": "mariadb+pymysql", "postgresql": "postgresql+psycopg"}


def sqlalchemy_url(url: str, user: str | None = None, password: str | None = None) -> URL:
    """A SQLAlchemy URL for a JDBC URL (jdbc:mysql://, jdbc:mariadb://, jdbc:postgresql://, jdbc:sqlite:)
    or a SQLAlchemy URL; ``connection.user`` / ``connection.password`` override the URL's."""
    url = url.strip()
    if url.startswith("jdbc:sqlite:"):
        path = url.removeprefix("jdbc:sqlite:")
        result = URL.create("sqlite", database=None if path in ("", ":memory:") else path)
    elif url.startswith("jdbc:"):
        rest = url.removeprefix("jdbc:")
        scheme, _, _ = rest.partition(":")
        if scheme not in _JDBC_DRIVERS:
            raise ConfigError(f"jdbc sink: unsupported JDBC URL {mask_url(url)!r}; expected jdbc:mysql://, "
                              "jdbc:mariadb://, "
                              "jdbc:postgresql:// or jdbc:sqlite:")
        try:
            parts = urlsplit(rest)
            host: str | None = parts.hostname
            port: int | None = parts.port
        except ValueError as exc:  # mysql://[::1 (unclosed bracket), a port that is not a number ...
            raise ConfigError(f"jdbc sink: connection.url {mask_url(url)!r} is not a valid URL: {exc}") from None
        params = dict(parse_qsl(parts.query))
        database = parts.path.lstrip("/")
        if not parts.netloc:  # jdbc:postgresql:dbname
            host, port, database = "localhost", None, parts.path
        query = {"charset": "utf8mb4"} if scheme in MYSQL else {}
        result = URL.create(_JDBC_DRIVERS[scheme], username=params.get("user"), password=params.get("password"),
                            host=host, port=port, database=database or None, query=query)
    else:
        try:
            result = make_url(url)
        except (sa.exc.ArgumentError, ValueError):
            raise ConfigError(f"jdbc sink: connection.url {mask_url(url)!r} is neither a JDBC nor a SQLAlchemy "
                              "URL") from None
    if user:
        result = result.set(username=user)
    if password:
        result = result.set(password=password)
    return result


def create_engine(url: URL) -> sa.Engine:
    """An engine whose transactions can hold savepoints on every dialect (SQLite needs help)."""
    engine = sa.create_engine(url, pool_pre_ping=True, future=True)
    if engine.dialect.name == "sqlite":
        # pysqlite's own transaction handling breaks SAVEPOINT; let SQLAlchemy emit BEGIN.
        @sa.event.listens_for(engine, "connect")
        def _no_pysqlite_transactions(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: sa.Connection) -> None:
            conn.exec_driver_sql("BEGIN")

    return engine


# -- column types ---------------------------------------------------------------


#: MariaDB/InnoDB's longest index: 3072 bytes, 768 utf8mb4 characters over all the string key columns.
KEY_CHARS = 768


def key_length(string_keys: int) -> int:
    """VARCHAR length of each of ``string_keys`` string key columns: 256, less when several share the index."""
    return max(64, min(256, KEY_CHARS // max(string_keys, 1)))


def _text(primary_key: bool, length: int = 256) -> sa.types.TypeEngine[Any]:
    return sa.String(length) if primary_key else sa.Text()


def sql_type(schema: ConnectSchema, primary_key: bool = False, key_chars: int = 256) -> sa.types.TypeEngine[Any]:
    """The column type for a Connect schema (table above); ``key_chars``: VARCHAR length in a key."""
    name = schema.name
    if name == DECIMAL:
        scale = int((schema.parameters or {}).get("scale", 0))
        return sa.Numeric().with_variant(mysql.DECIMAL(65, scale), *MYSQL)
    if name == TIMESTAMP:
        return sa.DateTime().with_variant(mysql.DATETIME(fsp=3), *MYSQL)
    if name == DATE:
        return sa.Date()
    if name == TIME:
        return sa.Time().with_variant(mysql.TIME(fsp=3), *MYSQL)
    kind = schema.type
    if kind == "int8":
        return sa.SmallInteger().with_variant(mysql.TINYINT(), *MYSQL)
    if kind == "int16":
        return sa.SmallInteger()
    if kind == "int32":
        return sa.Integer()
    if kind == "int64":
        return sa.BigInteger()
    if kind == "float32":
        return sa.REAL().with_variant(mysql.FLOAT(), *MYSQL)
    if kind == "float64":
        return sa.Double()
    if kind == "boolean":
        return sa.Boolean()
    if kind == "bytes":
        return sa.LargeBinary().with_variant(mysql.VARBINARY(1024), *MYSQL) if primary_key else sa.LargeBinary()
    return _text(primary_key, key_chars)  # string, and struct/map/array as JSON text


def infer_type(values: Iterable[Any], primary_key: bool = False,
               key_chars: int = 256) -> tuple[sa.types.TypeEngine[Any], ConnectSchema]:
    """The column type (and the Connect schema it stands for) of schemaless values (module docstring)."""
    kinds: set[str] = set()
    for value in values:
        if value is None:
            continue
        if isinstance(value, bool):
            kinds.add("boolean")
        elif isinstance(value, int):
            kinds.add("int64")
        elif isinstance(value, float):
            kinds.add("float64")
        elif isinstance(value, (bytes, bytearray)):
            kinds.add("bytes")
        elif isinstance(value, decimal.Decimal):
            kinds.add("decimal")
        elif isinstance(value, dt.datetime):
            kinds.add("timestamp")
        elif isinstance(value, dt.date):
            kinds.add("date")
        else:
            kinds.add("string")
    if kinds == {"int64", "float64"}:
        kinds = {"float64"}
    kind = kinds.pop() if len(kinds) == 1 else "string"
    schema = {
        "decimal": ConnectSchema("bytes", optional=True, name=DECIMAL, parameters={"scale": "10"}),
        "timestamp": ConnectSchema("int64", optional=True, name=TIMESTAMP),
        "date": ConnectSchema("int32", optional=True, name=DATE),
    }.get(kind) or ConnectSchema(kind, optional=not primary_key)
    if kind == "decimal":
        return sa.Numeric().with_variant(mysql.DECIMAL(65, 10), *MYSQL), schema
    return sql_type(schema, primary_key, key_chars), schema


def column_value(value: Any, schema: ConnectSchema | None) -> Any:
    """A Connect value as the driver takes it: nested values as JSON, logical types as Python objects."""
    if value is None:
        return None
    if isinstance(value, (dict, list, tuple)):
        return orjson.dumps(value, default=str).decode()
    if schema is not None and isinstance(value, int) and not isinstance(value, bool):
        if schema.name == TIMESTAMP:
            return _EPOCH + dt.timedelta(milliseconds=value)
        if schema.name == DATE:
            return (_EPOCH + dt.timedelta(days=value)).date()
        if schema.name == TIME:
            return (_EPOCH + dt.timedelta(milliseconds=value)).time()
    return value


# -- statements -----------------------------------------------------------------


def upsert(table: sa.Table, key_columns: Sequence[str], columns: Sequence[str], dialect: str) -> sa.Insert:
    """INSERT ... ON CONFLICT DO UPDATE (PostgreSQL, SQLite) / ON DUPLICATE KEY UPDATE (MariaDB):
    replaying the same records leaves the same rows."""
    others = [c for c in columns if c not in key_columns]
    if dialect in MYSQL:
        stmt = mysql.insert(table)
        # With nothing else to update, "update" a key column to itself: a no-op that still counts as done.
        updates = {c: stmt.inserted[c] for c in (others or key_columns[:1])}
        return stmt.on_duplicate_key_update(updates)
    if dialect == "postgresql":
        pg = postgresql.insert(table)
        if not others:
            return pg.on_conflict_do_nothing(index_elements=list(key_columns))
        return pg.on_conflict_do_update(index_elements=list(key_columns), set_={c: pg.excluded[c] for c in others})
    if dialect == "sqlite":
        lite = sqlite.insert(table)
        if not others:
            return lite.on_conflict_do_nothing(index_elements=list(key_columns))
        return lite.on_conflict_do_update(index_elements=list(key_columns),
                                          set_={c: lite.excluded[c] for c in others})
    raise ConfigError(f"jdbc sink: insert.mode=upsert is not supported on {dialect}")


# -- errors -----------------------------------------------------------------------

#: MySQL/MariaDB error numbers worth a retry: lock wait timeout, deadlock, lost or refused connections.
_MYSQL_TRANSIENT = {1205, 1213, 2002, 2003, 2006, 2013, 2055}


def is_transient(exc: sa.exc.DBAPIError) -> bool:
    """Whether retrying the same batch later can succeed (lost connection, lock timeout, deadlock)."""
    if exc.connection_invalidated or isinstance(exc, sa.exc.InterfaceError):
        return True
    orig = exc.orig
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int) and args[0] in _MYSQL_TRANSIENT:
        return True
    sqlstate = getattr(orig, "sqlstate", None) or ""
    if sqlstate.startswith("08") or sqlstate in ("40001", "40P01", "55P03", "57P01", "57P03"):
        return True
    return "database is locked" in str(orig)


def database_message(exc: sa.exc.DBAPIError) -> str:
    """The database's own message, without SQLAlchemy's statement dump."""
    orig = exc.orig
    if orig is None:
        return str(exc)
    args: tuple[Any, ...] = tuple(getattr(orig, "args", ()))
    if len(args) == 2 and isinstance(args[0], int):  # pymysql: (errno, message)
        return f"({args[0]}) {args[1]}"
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__


def render(exc: Exception) -> str:
    return database_message(exc) if isinstance(exc, sa.exc.DBAPIError) else str(exc)
