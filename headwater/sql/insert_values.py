"""INSERT INTO ... VALUES: one record, encoded with the target's formats, appended to its topic."""

from __future__ import annotations

import time
from typing import Protocol

import duckdb
import pyarrow as pa

from headwater.engine.codec import key_format, value_format
from headwater.errors import SqlSemanticError
from headwater.formats import duck
from headwater.log.partitioner import partition_for_keys
from headwater.sql import ast
from headwater.log import Log
from headwater.sql.catalog import Catalog, Namespace
from headwater.sql.compile import TableScope, compile_expression
from headwater.sql.functions import install_functions
from headwater.sql.typing import quote_ident



class InsertTarget(Protocol):
    """What INSERT VALUES needs of the session: its catalog and its log."""

    catalog: Catalog
    log: Log

_PSEUDO_ALLOWED = ("ROWTIME",)


def insert_values(session: InsertTarget, statement: ast.InsertValues) -> None:
    target = session.catalog.get(statement.target, statement.pos)
    if target.is_source:
        raise SqlSemanticError(f"Cannot insert values into read-only {target.kind.value.lower()}: {target.name}",
                               statement.pos)
    # Schema order is keys first, then values (as ksqlDB orders a source's columns).
    writable = [c for c in target.columns if c.namespace is Namespace.KEY]
    writable += [c for c in target.columns if c.namespace is Namespace.VALUE]
    names = list(statement.columns) if statement.columns is not None else [c.name for c in writable]
    if len(names) != len(statement.values):
        raise SqlSemanticError(
            f"Expected number columns and values to match: {names}, {len(statement.values)} values", statement.pos
        )
    by_name = {c.name: c for c in writable}
    rowtime = None
    sql_parts = []
    for name, value in zip(names, statement.values, strict=True):
        if name in _PSEUDO_ALLOWED:
            compiled = compile_expression(value, TableScope({}))
            rowtime = compiled.sql
            continue
        column = by_name.get(name)
        if column is None:
            if name in ("ROWPARTITION", "ROWOFFSET") or target.column(name) is not None:
                raise SqlSemanticError(f"Inserting into column `{name}` is not allowed.", value.pos)
            raise SqlSemanticError(f"Column name `{name}` does not exist.", value.pos)
        compiled = compile_expression(value, TableScope({}))
        sql_parts.append(f"CAST({compiled.sql} AS {column.type.to_duckdb()}) AS {quote_ident(name)}")
    provided = {n for n in names if n not in _PSEUDO_ALLOWED}
    for column in writable:
        if column.name not in provided:
            sql_parts.append(f"CAST(NULL AS {column.type.to_duckdb()}) AS {quote_ident(column.name)}")
    now = time.time_ns() // 1_000_000
    sql_parts.append(f"CAST({rowtime} AS BIGINT) AS __ts" if rowtime else f"CAST({now} AS BIGINT) AS __ts")
    con = duck.connect(install_functions)
    try:
        row = con.sql("SELECT " + ", ".join(sql_parts)).to_arrow_table()
    except duckdb.Error as exc:
        raise SqlSemanticError(f"Failed to insert values into '{target.name}'. {exc}", statement.pos) from None
    finally:
        con.close()
    keys_fmt = key_format(target)
    keys = keys_fmt.encode(row) if keys_fmt is not None else pa.nulls(1, pa.binary())
    values = value_format(target).encode(row)
    records = pa.table({"timestamp": row.column("__ts"), "key": keys, "value": values})
    partitions = session.log.describe_topic(target.topic).partitions
    partition = int(partition_for_keys(records.column("key"), partitions, 0)[0]) if keys_fmt is not None else 0
    session.log.append(target.topic, partition, records)
