"""The JSON format: ksqlDB's JSON, decoded and encoded vectorized on DuckDB.

Decoding runs in three tiers so that a clean batch pays for one DuckDB scan:

1. *Fast path*: one ``json_transform`` over the whole batch, extracting only
   the requested columns. Text that is not JSON fails DuckDB's whole scan;
   then rows that cannot be objects are set aside by their first and last
   byte, and only if the scan still fails does it run under ``try()``
   (see :meth:`JsonFormat._scan`). Field names are matched by the spellings learned from
   a sample of each batch (and from earlier batches): column ``USERID`` reads
   ``"userid"``, ``"UserId"`` or ``"USERID"``. When several spellings are seen,
   each is extracted and the exact spelling wins, then the others in the
   order first seen (ksqlDB takes the last matching key of the object; both
   agree unless one object holds two spellings of one field).
2. *Suspects*: rows whose result holds a null the JSON may not hold (a null
   column, a null nested value, a null record) are re-examined, still
   vectorized, for the rows alone: is the text JSON, is it an object, does it
   spell a field in a way not learned yet, does a field that came out null
   hold a non-null value? Rows where the nulls are real stop here.
3. *Exact path*: the few rows left are read one by one with ksqlDB's own rules
   (:mod:`headwater.formats.json_coercion`): they decode (a BIGINT too large
   for INT wraps, a new spelling is learned) or fail with ksqlDB's reason.

Known differences from ksqlDB, all on the fast path (values DuckDB converts
where ksqlDB would fail or convert otherwise): a JSON boolean read as an
INT/BIGINT/DOUBLE gives 1/0 (ksqlDB: an error); INT/BIGINT from a JSON float
rounds half to even (ksqlDB truncates: 4.7 gives 4); INT from text such as
``" 404"`` or ``"4.5"`` converts (ksqlDB: an error); STRING from a JSON array gives its JSON text (ksqlDB: ``[a, b]``) and
from a float DuckDB's rendering of it; a key given twice yields the first
value (ksqlDB: the last); ``NaN`` is accepted. Errors in columns a query does
not read are not detected (ksqlDB decodes every column, so it fails the record).

Encoding writes one object per row with the column names as keys (or the
anonymous value when unwrapped), nulls as ``null``, TIMESTAMP as epoch
milliseconds, TIME as milliseconds of the day, DATE as days, BYTES as base64,
DECIMAL as a number with its scale (``1.50``), DOUBLE as Java's
``Double.toString`` at any depth (``2.0E22``; NaN and the infinities as strings).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from headwater.formats import duck
from headwater.formats.base import (
    Column,
    Decoded,
    Format,
    FormatError,
    binary_bytes,
    binary_input,
    binary_offsets,
    column_of,
    deserialize_error,
    keep_only,
    register_format,
    replace_rows,
    table_of,
)
from headwater.formats.json_coercion import JsonFailure, parse, record_values
from headwater.formats.delimited_types import java_double_exceptions
from headwater.formats.json_sql import (
    java_double_leaves, json_expr, marked_double, new_nonce, post, stand_in, unmark, walk,
)
from headwater.formats.nested_nulls import nested_null_rows
from headwater.formats.spellings import Spellings
from headwater.sql.types import BaseType, MapType, SqlType


@register_format
class JsonFormat(Format):
    """ksqlDB's ``JSON`` format."""

    name = "JSON"
    supports_wrapping = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._spellings = Spellings()
        # The fallback stage (see _scan) the last batch needed, and whether it held text that is not JSON.
        self._first_stage = 0
        self._saw_invalid = False

    def validate(self) -> None:
        super().validate()
        for name, sql_type in self.columns:
            for nested in walk(sql_type):
                if isinstance(nested, MapType) and nested.key.base is not BaseType.STRING:
                    raise FormatError(
                        f"The '{self.name}' format only supports MAP types with STRING keys, "
                        f"column: `{name}` {sql_type.sql()}"
                    )

    # -- decoding ---------------------------------------------------------

    def decode(self, data: pa.Array, columns: Sequence[Column] | None = None, *, topic: str = "") -> Decoded:
        data = binary_input(data)
        wanted = [(name, sql_type) for _, name, sql_type in self.select(columns)]
        patches: dict[int, tuple[Any, ...]] = {}
        nulls: set[int] = set()
        errors: dict[int, str] = {}
        if self.wrapped:
            self._spellings.learn_sample(data, wanted)
        text, arrays, record_null, misshapen = self._scan(data, wanted)
        suspects = self._suspects(text, arrays, record_null, wanted)
        self._saw_invalid = False
        exact_rows = self._triage(text, suspects, arrays, wanted, nulls) if len(suspects) else suspects
        if not (len(misshapen) or self._saw_invalid):
            self._first_stage = 0
        if len(exact_rows) or len(misshapen):
            exact_rows = np.union1d(exact_rows, misshapen).astype(np.int64)
            errors.update(self._exact(data, exact_rows, wanted, topic, patches, nulls))
        return self._assemble(data, wanted, arrays, patches, nulls, errors)

    def _scan(self, data: pa.BinaryArray, wanted: list[Column]) -> tuple[pa.Array, list[pa.Array], pa.Array, np.ndarray]:
        """The fast pass: the text scanned, the wanted columns (null where not convertible), a
        null-record flag, and the rows set aside for the exact path as not shaped like an object.

        A batch holding text that is not JSON makes DuckDB fail the whole scan. Then, in stages:
        set aside the rows that cannot be objects (plain text, numbers: cheap, by first and last
        byte) and scan again; if that still fails, scan under try() (per-row error handling, about
        a third slower). The stage a batch needed is where the next batch starts.
        """
        # No UTF-8 check: DuckDB's JSON parser rejects bad UTF-8 like any malformed JSON, so such
        # rows come out null, are suspects, and the exact path reports them.
        text = data.view(pa.string())
        misshapen = np.empty(0, np.int64)
        stage = self._first_stage if self.wrapped else min(self._first_stage, 1) * 2
        while True:
            if stage >= 1 and self.wrapped and not len(misshapen):
                shaped = _object_shaped(data)
                if not shaped.all():
                    misshapen = np.flatnonzero(~shaped)
                    text = keep_only(text, shaped)
            try:
                query = self._query(wanted, guard="try" if stage == 2 else "")
                result = duck.run(query, source=duck.chunked(pa.table({"v": text})))
                break
            except (duckdb.Error, UnicodeDecodeError):  # DuckDB quotes the bad input in its message
                if stage == 2:
                    raise
                stage = stage + 1 if self.wrapped else 2
        self._first_stage = stage
        arrays = [_as_type(duck.single(result.column(i)), t) for i, (_, t) in enumerate(wanted)]
        return text, arrays, duck.single(result.column(len(wanted))), misshapen

    def _query(self, wanted: list[Column], *, guard: str) -> str:
        """The fast-path SQL over table ``source``; ``guard`` ("" or "try") wraps each transform."""
        if not wanted:
            kind = "= 'OBJECT'" if self.wrapped else "<> 'NULL'"
            transforms = [f"CASE WHEN json_valid(v) AND json_type(v) {kind} THEN 1 END"]
            selects: list[str] = []
        elif self.wrapped:
            specs: list[dict[str, str]] = []
            selects = []
            for name, sql_type in wanted:
                fields = []
                for spelling in self._spellings.top(name):
                    # DuckDB struct keys are case-insensitive: a key that clashes (case aside) with one
                    # already in a transform goes to the next, at the price of one more parse.
                    taken = [{key.lower() for key in spec} for spec in specs]
                    group = next((g for g, keys in enumerate(taken) if spelling.lower() not in keys), len(specs))
                    if group == len(specs):
                        specs.append({})
                    specs[group][spelling] = stand_in(sql_type, (name,), self._spellings.nested)
                    fields.append(f"r{group}.{duck.identifier(spelling)}")
                expr = fields[0] if len(fields) == 1 else f"coalesce({', '.join(fields)})"
                selects.append(post(expr, sql_type))
            transforms = [f"json_transform(v, {duck.literal(json.dumps(spec))})" for spec in specs]
        else:
            name, sql_type = wanted[0]
            transforms = [f"json_transform(v, {duck.literal(json.dumps(stand_in(sql_type, (name,), self._spellings.nested)))})"]
            selects = [post("r0", sql_type)]
        selects.append("r0 IS NULL")
        columns = ", ".join(f"{expr} AS c{i}" for i, expr in enumerate(selects))
        inner = ", ".join(f"{guard}({t}) AS r{i}" for i, t in enumerate(transforms))
        return f"SELECT {columns} FROM (SELECT {inner} FROM source)"

    def _suspects(self, text: pa.Array, arrays: list[pa.Array], record_null: pa.Array, wanted: list[Column]) -> np.ndarray:
        """Rows whose fast result holds a null the JSON may not hold."""
        suspect = _true(record_null)
        for array, (_, sql_type) in zip(arrays, wanted):
            if array.null_count:
                suspect = suspect | _is_null(array)
            if not sql_type.is_primitive:
                suspect = suspect | nested_null_rows(array)
        if text.null_count:
            suspect &= ~_is_null(text)
        return np.flatnonzero(suspect)

    def _triage(self, text: pa.Array, rows: np.ndarray, arrays: list[pa.Array], wanted: list[Column], nulls: set[int]) -> np.ndarray:
        """Of the suspect ``rows``, those that need the exact path; adds JSON-null records to ``nulls``."""
        # Only the suspects are probed, so try() (per-row error handling) costs little here.
        is_object = "json_valid(v) AND try(json_type(v)) = 'OBJECT'"
        probes = []  # (column index, SQL) per spelling: does the object hold a non-null value there?
        if self.wrapped:
            for i, (name, _) in enumerate(wanted):
                for spelling in self._spellings.top(name):
                    pointer = duck.literal("/" + spelling.replace("~", "~0").replace("/", "~1"))
                    probes.append((i, f"CASE WHEN {is_object} THEN coalesce(try(json_type(v, {pointer})), 'NULL') <> 'NULL' END"))
        extra = "".join(f", {sql} AS p{k}" for k, (_, sql) in enumerate(probes))
        result = duck.run(
            f"SELECT json_valid(v) AS valid, try(json_type(v)) AS type, "
            f"CASE WHEN {is_object} THEN try(json_keys(v)) END AS keys{extra} FROM sub",
            sub=pa.table({"v": text.take(pa.array(rows))}),
        )
        valid = _true(duck.single(result.column("valid")))
        self._saw_invalid = not valid.all()
        json_type = duck.single(result.column("type"))
        is_null_record = valid & _true(pc.equal(json_type, "NULL"))
        exact = ~valid
        taken = [array.take(pa.array(rows)) for array in arrays]
        if self.wrapped:
            exact |= ~is_null_record & ~_true(pc.equal(json_type, "OBJECT"))
            exact |= self._unlearned_spelling(duck.single(result.column("keys")), wanted)
            for k, (i, _) in enumerate(probes):
                exact |= _is_null(taken[i]) & _true(duck.single(result.column(f"p{k}")))
        elif wanted:
            exact |= ~is_null_record & _is_null(taken[0])
        for array, (_, sql_type) in zip(taken, wanted):
            if not sql_type.is_primitive:
                exact |= nested_null_rows(array)
        nulls.update(rows[is_null_record & ~exact].tolist())
        return rows[exact]

    def _unlearned_spelling(self, keys: pa.Array, wanted: list[Column]) -> np.ndarray:
        """Per row: does the object hold a key for a wanted column in a spelling not learned yet?"""
        flat = pc.list_flatten(keys)
        if len(flat) == 0:
            return np.zeros(len(keys), bool)
        names = pa.array([name for name, _ in wanted], pa.string())
        known = pa.array(sorted({s for name, _ in wanted for s in self._spellings.top(name)}), pa.string())
        belongs = pc.or_(pc.is_in(flat, names), pc.is_in(pc.utf8_upper(flat), names))
        unlearned = pc.and_(belongs, pc.invert(pc.is_in(flat, known)))
        parents = pc.list_parent_indices(keys).to_numpy()
        mask = np.zeros(len(keys), bool)
        mask[parents[_true(unlearned)]] = True
        return mask

    def _exact(
        self,
        data: pa.BinaryArray,
        rows: np.ndarray,
        wanted: list[Column],
        topic: str,
        patches: dict[int, tuple[Any, ...]],
        nulls: set[int],
    ) -> dict[int, str]:
        """Read ``rows`` one by one with ksqlDB's rules; fill ``patches``/``nulls``, return the errors."""
        errors: dict[int, str] = {}
        for row in rows.tolist():
            try:
                value = parse(data[row].as_py())
                values = record_values(value, wanted, self.wrapped)
            except JsonFailure as exc:
                errors[row] = deserialize_error(self.role, topic, str(exc))
                continue
            if values is None:
                nulls.add(row)
            else:
                patches[row] = values
                if self.wrapped:
                    self._spellings.learn(value, wanted)
        return errors

    def _assemble(
        self,
        data: pa.BinaryArray,
        wanted: list[Column],
        arrays: list[pa.Array],
        patches: dict[int, tuple[Any, ...]],
        nulls: set[int],
        errors: dict[int, str],
    ) -> Decoded:
        replaced = sorted(set(patches) | set(errors))
        rows = np.array(replaced, np.int64)
        final = []
        for i, (array, (name, sql_type)) in enumerate(zip(arrays, wanted)):
            values = [patches[r][i] if r in patches else None for r in replaced]
            final.append((name, replace_rows(array, rows, pa.array(values, sql_type.to_arrow()))))
        null_rows = set(nulls)
        if data.null_count:
            null_rows.update(np.flatnonzero(_is_null(data)).tolist())
        error_rows = sorted(errors)
        return Decoded(
            table=table_of(final, len(data)),
            error_rows=np.array(error_rows, np.int64),
            error_reasons=tuple(errors[r] for r in error_rows),
            null_rows=np.array(sorted(null_rows), np.int64),
        )

    # -- encoding ---------------------------------------------------------

    def encode(self, table: pa.Table) -> pa.Array:
        arrays = {f"c{i}": column_of(table, name).cast(t.to_arrow()) for i, (name, t) in enumerate(self.columns)}
        if not self.columns:
            return pa.nulls(table.num_rows, pa.binary())
        values = []
        nonce = new_nonce()
        marked = False
        for i, (_, t) in enumerate(self.columns):
            exceptions = java_double_exceptions(arrays[f"c{i}"]) if t.base is BaseType.DOUBLE else None
            if exceptions is not None:  # Java's Double.toString where DuckDB writes another text
                arrays[f"t{i}"] = exceptions
                values.append(marked_double(f"c{i}", f"t{i}", nonce))
                marked = True
            elif t.base is BaseType.DOUBLE:
                values.append(f"c{i}")
            else:
                paired = java_double_leaves(arrays[f"c{i}"], t) if not t.is_primitive and any(
                    n.base is BaseType.DOUBLE for n in walk(t)) else None
                java = paired is not None
                if java:  # a double inside that DuckDB writes otherwise: with its Java text beside it
                    arrays[f"c{i}"] = paired
                    marked = True
                values.append(json_expr(f"c{i}", t, java_doubles=java).replace("'hw{nonce}'", f"'hw{nonce}'")
                              .replace("'{nonce}hw'", f"'{nonce}hw'"))
        if self.wrapped:
            fields = ", ".join(f"{duck.identifier(name)} := {values[i]}" for i, (name, _) in enumerate(self.columns))
            expr = f"to_json(struct_pack({fields}))"
        else:
            expr = f"to_json({values[0]})"
        if self.role == "key" and self.wrapped:  # a key whose columns are all null is a null key
            every = " AND ".join(f"c{i} IS NULL" for i in range(len(self.columns)))
            expr = f"CASE WHEN {every} THEN NULL ELSE {expr} END"
        source = duck.chunked(pa.table(arrays))
        result = duck.single(duck.run(f"SELECT CAST({expr} AS VARCHAR) AS j FROM source", source=source).column(0))
        if marked or any(n.base is BaseType.DECIMAL for _, t in self.columns for n in walk(t)):
            result = unmark(result, nonce)
        return result.cast(pa.binary())


def _as_type(array: pa.Array, sql_type: SqlType) -> pa.Array:
    target = sql_type.to_arrow()
    if array.type == target:
        return array
    if pa.types.is_null(array.type):
        return pa.nulls(len(array), target)
    try:
        return array.view(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, TypeError):
        return array.cast(target)


_OPENS = np.zeros(256, bool)
_OPENS[list(b"{n \t\r\n")] = True  # n...l: a JSON null, a null record
_CLOSES = np.zeros(256, bool)
_CLOSES[list(b"}l \t\r\n")] = True


def _object_shaped(data: pa.BinaryArray) -> np.ndarray:
    """Per row: null, or shaped like a JSON object (``{...}``, whitespace aside) or ``null``."""
    offsets = binary_offsets(data)
    raw = binary_bytes(data)
    if len(raw) == 0:
        return _is_null(data)
    # First and last byte of each row, gathered in one pass (interleaved, so memory is read in
    # order); empty rows read a neighbour's byte, and the length test rules them out.
    ends = np.empty(2 * len(data), np.int64)
    ends[0::2] = offsets[:-1]
    ends[1::2] = offsets[1:] - 1
    np.clip(ends, 0, len(raw) - 1, out=ends)
    edges = raw[ends]
    shaped = _OPENS[edges[0::2]] & _CLOSES[edges[1::2]] & (offsets[1:] > offsets[:-1])
    if data.null_count:
        shaped |= _is_null(data)
    return shaped


def _is_null(array: pa.Array) -> np.ndarray:
    return array.is_null().to_numpy(zero_copy_only=False)


def _true(array: pa.Array) -> np.ndarray:
    """A boolean array as numpy, null counted as false."""
    return pc.fill_null(array, False).to_numpy(zero_copy_only=False)
