"""The DELIMITED format: one CSV line per record, as ksqlDB reads and writes it.

Fields are separated by ``VALUE_DELIMITER`` / ``KEY_DELIMITER`` (one
character, or the keywords ``TAB`` and ``SPACE``; default ``,``), quoted with
``"`` (a quote inside a quoted field is doubled). An empty field is null.
Types are read with Java's parsers, as ksqlDB does: INT, BIGINT, DOUBLE and
DECIMAL from their text; BOOLEAN true when the text is ``true`` in any case
(anything else is false); TIMESTAMP as epoch milliseconds, TIME as
milliseconds of the day, DATE as days; BYTES as base64. ARRAY, MAP and STRUCT
cannot be carried.

Decoding joins the batch into one buffer and parses it with ``pyarrow.csv``;
a record with the wrong number of fields fails alone with ksqlDB's message
(``Column count mismatch on deserialization. topic: t, expected: 3, got: 2``);
a value that does not parse fails its record, and the others decode. Records
holding a line break (inside quotes) or a quote the bulk parser could carry
over into the next record (one never closed) are read one by one with
Python's csv module, off the hot path; a record whose quote is never closed
fails alone.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from headwater.formats import duck
from headwater.formats.base import (
    Column,
    Decoded,
    Format,
    FormatError,
    binary_input,
    column_of,
    deserialize_error,
    register_format,
    replace_rows,
    table_of,
)
from headwater.formats.delimited_types import from_text, to_text

_NAMED_DELIMITERS = {"TAB": "\t", "SPACE": " "}


def parse_delimiter(text: str) -> str:
    """ksqlDB's ``Delimiter.parse``: one character, or TAB or SPACE."""
    if not text.strip():
        raise FormatError(
            "Delimiter cannot be empty, if you meant to have a tab or space for delimiter, "
            "please use the special values 'TAB' or 'SPACE'. Example valid value: ';'"
        )
    if len(text) == 1:
        return text
    named = _NAMED_DELIMITERS.get(text.upper())
    if named is None:
        raise FormatError(
            f"Invalid delimiter value: '{text}'. Delimiter must be a single character or TAB or SPACE. "
            "Example valid value: ';'"
        )
    return named


@register_format
class DelimitedFormat(Format):
    """ksqlDB's ``DELIMITED`` format."""

    name = "DELIMITED"

    @property
    def delimiter_property(self) -> str:
        return "KEY_DELIMITER" if self.role == "key" else "VALUE_DELIMITER"

    def accepted_properties(self) -> frozenset[str]:
        return super().accepted_properties() | {self.delimiter_property}

    def validate(self) -> None:
        other = "VALUE_DELIMITER" if self.role == "key" else "KEY_DELIMITER"
        if other in self.properties:
            raise FormatError(f"{other} applies to the {'value' if self.role == 'key' else 'key'} format, not the {self.role} format")
        super().validate()
        self.delimiter = parse_delimiter(str(self.properties.get(self.delimiter_property, ",")))
        for name, sql_type in self.columns:
            if not sql_type.is_primitive:
                raise FormatError(f"The '{self.name}' format does not support type '{sql_type.base.value}', column: `{name}`")

    def decode(self, data: pa.Array, columns: Sequence[Column] | None = None, *, topic: str = "") -> Decoded:
        data = binary_input(data)
        selected = self.select(columns)
        n, width = len(data), len(self.columns)
        if n == 0:
            return Decoded(table=table_of([(name, pa.array([], t.to_arrow())) for _, name, t in selected], 0))
        errors: dict[int, str] = {}
        text, bad_utf8 = duck.utf8(data)
        null_rows = np.flatnonzero(data.is_null().to_numpy(zero_copy_only=False)) if data.null_count else np.empty(0, np.int64)
        # Rows the bulk parser cannot take: line breaks (inside quotes), no text at all, bytes that
        # are not UTF-8 (Java's decoder replaces them with U+FFFD).
        aside_mask = _true(pc.match_substring_regex(text, "[\r\n]")) | _true(pc.equal(pc.binary_length(data), 0))
        aside_mask[bad_utf8] = True
        aside_mask |= self._maybe_open_quote(text)
        placeholder = self.delimiter * (width - 1)
        bulk = pc.if_else(pa.array(aside_mask), pa.scalar(placeholder), pc.fill_null(text, placeholder))
        strings, miscounted = self._parse(bulk, [position for position, _, _ in selected], width)
        for row, got in miscounted.items():
            errors[row] = self._count_error(topic, width, got)
        aside = np.flatnonzero(aside_mask)
        patches: list[list[str | None]] = [[] for _ in selected]
        for row in aside.tolist():
            fields = self._exact_fields(data[row].as_py().decode("utf-8", errors="replace"))
            if fields is None:
                errors[row] = deserialize_error(self.role, topic, "Error deserializing delimited row: a quoted "
                                                "field is never closed (EOF reached before encapsulated token finished)")
                fields = [""] * width
            elif len(fields) != width and not (width == 1 and not fields):
                errors[row] = self._count_error(topic, width, len(fields))
                fields = [""] * width
            fields = fields or [""]
            for i, (position, _, _) in enumerate(selected):
                patches[i].append(fields[position] or None)
        strings = [replace_rows(a, aside, pa.array(p, pa.string())) for a, p in zip(strings, patches)]
        arrays = []
        for array, (_, name, sql_type) in zip(strings, selected):
            typed, failures = from_text(array, sql_type)
            for row, detail in failures.items():
                errors.setdefault(row, deserialize_error(self.role, topic, f"Error deserializing delimited row, column {name}: {detail}"))
            arrays.append(typed)
        error_rows = np.array(sorted(errors), np.int64)
        final = [(name, replace_rows(a, error_rows, pa.nulls(len(error_rows), a.type))) for a, (_, name, _) in zip(arrays, selected)]
        return Decoded(
            table=table_of(final, n),
            error_rows=error_rows,
            error_reasons=tuple(errors[r] for r in error_rows.tolist()),
            null_rows=null_rows,
        )

    def _count_error(self, topic: str, expected: int, got: int) -> str:
        if got == 0:
            return deserialize_error(self.role, topic, "No fields in record")
        return deserialize_error(
            self.role, topic, f"Column count mismatch on deserialization. topic: {topic}, expected: {expected}, got: {got}"
        )

    def _parse(self, bulk: pa.Array, positions: list[int], width: int) -> tuple[list[pa.Array], dict[int, int]]:
        """String arrays for ``positions`` (one row per input row) and the rows whose field count is wrong."""
        joined = pc.binary_join_element_wise(bulk, pa.scalar(""), "\n")
        offsets = np.frombuffer(joined.buffers()[1], np.int32)[joined.offset : joined.offset + len(joined) + 1]
        buffer = joined.buffers()[2]
        payload = pa.py_buffer(b"") if buffer is None else buffer.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
        names = [f"c{i}" for i in range(width)]
        miscounted: list[tuple[int | None, int]] = []

        def handler(row: pcsv.InvalidRow) -> str:
            miscounted.append((row.number, row.actual_columns))
            return "skip"

        # Threads parse faster but leave the line numbers of bad rows unknown: then parse again on one.
        for threads in (True, False):
            miscounted.clear()
            table = pcsv.read_csv(
                pa.BufferReader(payload),
                read_options=pcsv.ReadOptions(column_names=names, use_threads=threads, block_size=1 << 24),
                parse_options=pcsv.ParseOptions(
                    delimiter=self.delimiter, quote_char='"', double_quote=True, escape_char=False,
                    newlines_in_values=False, ignore_empty_lines=False, invalid_row_handler=handler,
                ),
                convert_options=pcsv.ConvertOptions(
                    column_types={name: pa.string() for name in names},
                    include_columns=[names[p] for p in positions],
                    strings_can_be_null=True, quoted_strings_can_be_null=True, null_values=[""],
                ),
            )
            if all(number is not None for number, _ in miscounted):
                break
        arrays = [duck.single(table.column(i)) for i in range(len(positions))]
        if not miscounted:
            return arrays, {}
        bad = {int(number) - 1: got for number, got in miscounted if number is not None}
        # The parser skipped the miscounted rows: spread the rest back to their positions (null in the gaps).
        kept = np.ones(len(bulk), bool)
        kept[list(bad)] = False
        index = np.full(len(bulk), -1, np.int64)
        index[kept] = np.arange(int(kept.sum()))
        take = pa.array(index, mask=~kept)
        return [a.take(take) for a in arrays], bad

    def _maybe_open_quote(self, text: pa.Array) -> np.ndarray:
        """Rows in which a field opens a quote that may not close: not well-formed by the pattern below."""
        quoted = _true(pc.match_substring(text, '"'))
        if not quoted.any():
            return quoted
        d = f"\\x{{{ord(self.delimiter):x}}}"
        # A field: quoted (doubled quotes inside; after the closing quote, text not starting with a quote, as the
        # parser reads it), or unquoted (quotes inside are plain characters), or empty.
        field = f'(?:"(?:[^"]|"")*"(?:[^"{d}][^{d}]*)?|[^"{d}][^{d}]*|)'
        rows = np.flatnonzero(quoted)
        well_formed = _true(pc.match_substring_regex(text.take(pa.array(rows)), f"^{field}(?:{d}{field})*$"))
        quoted[rows[well_formed]] = False
        return quoted

    def _exact_fields(self, text: str) -> list[str] | None:
        """The fields of one record; None when a quote is never closed."""
        # A record after it: swallowed into the last field when a quote is left open.
        reader = csv.reader(io.StringIO(text + "\n.", newline=""), delimiter=self.delimiter, quotechar='"',
                            doublequote=True)
        records = list(reader)
        if not records or records[-1] != ["."]:
            return None
        return records[0] if len(records) > 1 else []

    def encode(self, table: pa.Table) -> pa.Array:
        if not self.columns:
            return pa.nulls(table.num_rows, pa.binary())
        arrays = [column_of(table, name).cast(t.to_arrow()) for name, t in self.columns]
        texts = [to_text(a, t, self.delimiter, first=i == 0) for i, (a, (_, t)) in enumerate(zip(arrays, self.columns))]
        joined = texts[0] if len(texts) == 1 else pc.binary_join_element_wise(*texts, self.delimiter)
        if self.role == "key":  # a key whose columns are all null is a null key, as ksqlDB writes it
            all_null = arrays[0].is_null()
            for array in arrays[1:]:
                all_null = pc.and_(all_null, array.is_null())
            joined = pc.if_else(all_null, pa.scalar(None, pa.string()), joined)
        return joined.cast(pa.binary())


def _true(array: pa.Array) -> np.ndarray:
    return pc.fill_null(array, False).to_numpy(zero_copy_only=False)

