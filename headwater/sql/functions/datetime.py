"""Date and time functions, including the deprecated BIGINT/INT forms (TIMESTAMPTOSTRING...).

TIMESTAMP values are UTC. Format patterns are Java's, translated by
:mod:`.date_patterns`; they must be literals (DuckDB needs a constant
format). Text that does not parse gives NULL (ksqlDB logs the exception).
Parsing fills missing fields as Java does: a pattern without a year reads
1970. Time zones are Java zone ids (``America/Los_Angeles``, ``UTC``) or
offsets (``+01:00``); a literal zone is checked when the query is compiled.
The ``z`` pattern letter prints the zone id given (or ``UTC``), not Java's
short name.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable
from functools import cache

from headwater.sql.functions.date_patterns import PatternError, Segment, has_zone, translate_pattern
from headwater.sql.functions.registry import Call, FunctionRegistry, scalar, variant
from headwater.sql.types import epoch_millis_sql
from headwater.sql.typing import quote_literal

DATE_TIME = "DATE / TIME"
_EPOCH = "DATE '1970-01-01'"
_OFFSET = re.compile(r"(?:GMT|UTC)?([+-])(\d{1,2})(?::?(\d{2}))?\Z")


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def zone_name(zone: str) -> str | None:
    """A Java zone id as DuckDB (ICU) names it, or None if it is not one."""
    if zone in ("Z", "UTC", "GMT") or zone in _known_zones():
        return "UTC" if zone == "Z" else zone
    match = _OFFSET.match(zone)
    if match and int(match.group(2)) <= 18:
        return f"GMT{match.group(1)}{int(match.group(2)):02d}:{match.group(3) or '00'}"
    return None


def _zone(call: Call, index: int) -> str | None:
    """SQL of the zone argument ``index`` (None: a NULL literal)."""
    if not call.is_literal(index):
        return call.sql[index]
    zone = call.literal(index, "time zone")
    if zone is None:
        return None
    name = zone_name(zone)
    if name is None:
        raise call.error(f"Function '{call.name}': unknown time zone '{zone}'.", call.args[index].node)
    return quote_literal(name)


def _segments(call: Call, index: int, parse: bool) -> list[Segment] | None:
    pattern = call.literal(index, "format pattern")
    if pattern is None:
        return None
    try:
        return translate_pattern(pattern, parse)
    except PatternError as e:
        raise call.error(f"Function '{call.name}': invalid format pattern '{pattern}': {e}.", call.args[index].node) from None


def _offset(style: str, minutes: str) -> str:
    """Java's rendering of a zone offset of ``minutes`` for the letters ``style``."""
    sign = f"CASE WHEN {minutes} < 0 THEN '-' ELSE '+' END"
    hh = f"lpad(CAST(abs({minutes}) // 60 AS VARCHAR), 2, '0')"
    mm = f"lpad(CAST(abs({minutes}) % 60 AS VARCHAR), 2, '0')"
    letter, n = style[0], len(style)
    if letter == "Z":
        body = f"{sign} || {hh} || {mm}" if n <= 3 else f"{sign} || {hh} || ':' || {mm}"
        if n == 4:
            return f"'GMT' || {body}"
        return body if n <= 3 else f"CASE WHEN {minutes} = 0 THEN 'Z' ELSE {body} END"
    if n == 1:
        body = f"{sign} || {hh} || CASE WHEN abs({minutes}) % 60 <> 0 THEN {mm} ELSE '' END"
    elif n == 2:
        body = f"{sign} || {hh} || {mm}"
    else:
        body = f"{sign} || {hh} || ':' || {mm}"
    return f"CASE WHEN {minutes} = 0 THEN 'Z' ELSE {body} END" if letter == "X" else body


def format_timestamp(ts: str, segments: list[Segment], zone: str | None) -> str:
    """``ts`` (UTC) as text in ``zone`` (SQL, None for UTC)."""
    local = ts if zone is None else f"timezone({zone}, timezone('UTC', {ts}))"
    minutes = "0" if zone is None else f"date_diff('minute', {ts}, {local})"
    parts = []
    for s in segments:
        if s.kind == "text":
            parts.append(f"strftime({local}, {quote_literal(s.value)})")
        elif s.kind == "offset":
            parts.append(_offset(s.value, minutes))
        elif s.kind == "fraction":
            micros = f"strftime({local}, '%f')"
            if s.value[0] == "n":
                parts.append(f"CAST(CAST({micros} AS BIGINT) * 1000 AS VARCHAR)")
            else:
                parts.append(f"rpad(left({micros}, {len(s.value)}), {len(s.value)}, '0')")
        else:
            parts.append("'UTC'" if zone is None else zone)
    return f"CASE WHEN {ts} IS NOT NULL THEN {' || '.join(parts) or chr(39) * 2} END"


def parse_timestamp(text: str, pattern: str, zone: str | None) -> str:
    """``text`` parsed by a Java ``pattern`` as a UTC TIMESTAMP (the local time of ``zone`` when it has none)."""
    segments = translate_pattern(pattern, parse=True)
    fmt = "".join(s.value for s in segments)
    if not re.search(r"[yuY]", _unquoted(pattern)):
        fmt, text = "%Y|" + fmt, f"'1970|' || {text}"
    if "X" in _unquoted(pattern):
        text = f"regexp_replace({text}, 'Z$', '+00:00')"
    parsed = f"try_strptime({text}, {quote_literal(fmt)})"
    if has_zone(segments):
        return f"CAST(timezone('UTC', {parsed}) AS TIMESTAMP_MS)"
    if zone is not None:
        return f"CAST(timezone('UTC', timezone({zone}, {parsed})) AS TIMESTAMP_MS)"
    return f"CAST({parsed} AS TIMESTAMP_MS)"


def _unquoted(pattern: str) -> str:
    return re.sub(r"'[^']*'", "", pattern)


def _formatter(ts_sql: str = "{0}", zoned: bool = False) -> Callable[[Call], str]:
    def translate(call: Call) -> str:
        segments = _segments(call, 1, parse=False)
        zone = _zone(call, 2) if zoned and len(call.args) == 3 else None
        if segments is None or (zoned and len(call.args) == 3 and zone is None):
            return "CAST(NULL AS VARCHAR)"
        return format_timestamp(ts_sql.format(call.sql[0]), segments, zone)

    return translate


def _parser(result: str, zoned: bool = False) -> Callable[[Call], str]:
    def translate(call: Call) -> str:
        pattern = call.literal(1, "format pattern")
        zone = _zone(call, 2) if zoned and len(call.args) == 3 else None
        if pattern is None or (zoned and len(call.args) == 3 and zone is None):
            return f"CAST(NULL AS {call.result.to_duckdb() if call.result else 'VARCHAR'})"
        _segments(call, 1, parse=True)  # reports a bad pattern with its position
        parsed = parse_timestamp(call.sql[0], pattern, zone)
        return result.format(parsed)

    return translate


def _shift(kind: str, sign: str) -> str:
    amount = f"{sign}CAST({{1}} AS BIGINT) * {{0}}"
    if kind == "DATE":
        # ksqlDB: days of (epoch millis of the date + the interval in millis), truncated toward zero.
        return f"{_EPOCH} + CAST((({{2}} - {_EPOCH}) * 86400000 + {amount}) // 86400000 AS INTEGER)"
    if kind == "TIME":
        return f"({{2}} + to_milliseconds({amount}))"
    return f"CAST({{2}} + to_milliseconds({amount}) AS TIMESTAMP_MS)"


def _convert_tz(call: Call) -> str:
    source, target = _zone(call, 1), _zone(call, 2)
    if source is None or target is None:
        return "CAST(NULL AS TIMESTAMP_MS)"
    return f"CAST(timezone({target}, timezone({source}, {call.sql[0]})) AS TIMESTAMP_MS)"


def register(registry: FunctionRegistry) -> None:
    for kind, name_add, name_sub in (
        ("DATE", "DATEADD", "DATESUB"), ("TIME", "TIMEADD", "TIMESUB"), ("TIMESTAMP", "TIMESTAMPADD", "TIMESTAMPSUB")
    ):
        for name, sign, verb in ((name_add, "", "Adds"), (name_sub, "-", "Subtracts")):
            registry.register(scalar(
                name, DATE_TIME, f"{verb} an interval (a count of a time unit) to a {kind}.",
                variant(f"unit INTERVALUNIT, interval BIGINT, value {kind}", kind, _shift(kind, sign)),
            ))
    registry.register(scalar(
        "CONVERT_TZ", DATE_TIME, "Converts a TIMESTAMP from one time zone to another.",
        variant("ts TIMESTAMP, fromTz STRING, toTz STRING", "TIMESTAMP", _convert_tz),
    ))
    registry.register(scalar(
        "FORMAT_DATE", DATE_TIME, "Formats a DATE with a Java pattern ('yyyy-MM-dd').",
        variant("date DATE, format STRING", "STRING", _formatter()),
    ))
    registry.register(scalar(
        "FORMAT_TIME", DATE_TIME, "Formats a TIME with a Java pattern ('HH:mm:ss').",
        variant("time TIME, format STRING", "STRING", _formatter(f"({_EPOCH} + {{}})")),
    ))
    registry.register(scalar(
        "FORMAT_TIMESTAMP", DATE_TIME, "Formats a TIMESTAMP with a Java pattern, in UTC or a time zone.",
        variant("ts TIMESTAMP, format STRING", "STRING", _formatter(zoned=True)),
        variant("ts TIMESTAMP, format STRING, tz STRING", "STRING", _formatter(zoned=True)),
    ))
    registry.register(scalar(
        "TIMESTAMPTOSTRING", DATE_TIME, "Formats epoch milliseconds with a Java pattern (deprecated: FORMAT_TIMESTAMP).",
        variant("epochMilli BIGINT, format STRING", "STRING", _formatter("epoch_ms({})", zoned=True)),
        variant("epochMilli BIGINT, format STRING, tz STRING", "STRING", _formatter("epoch_ms({})", zoned=True)),
    ))
    registry.register(scalar(
        "DATETOSTRING", DATE_TIME, "Formats epoch days with a Java pattern (deprecated: FORMAT_DATE).",
        variant("epochDays INT, format STRING", "STRING", _formatter(f"({_EPOCH} + {{}})")),
    ))
    registry.register(scalar(
        "PARSE_DATE", DATE_TIME, "Parses a DATE with a Java pattern.",
        variant("date STRING, format STRING", "DATE", _parser("CAST({} AS DATE)")),
    ))
    registry.register(scalar(
        "PARSE_TIME", DATE_TIME, "Parses a TIME with a Java pattern.",
        variant("time STRING, format STRING", "TIME", _parser("CAST({} AS TIME)")),
    ))
    registry.register(scalar(
        "PARSE_TIMESTAMP", DATE_TIME, "Parses a TIMESTAMP with a Java pattern, in UTC or a time zone.",
        variant("ts STRING, format STRING", "TIMESTAMP", _parser("{}", zoned=True)),
        variant("ts STRING, format STRING, tz STRING", "TIMESTAMP", _parser("{}", zoned=True)),
    ))
    registry.register(scalar(
        "STRINGTOTIMESTAMP", DATE_TIME, "Parses epoch milliseconds with a Java pattern (deprecated: PARSE_TIMESTAMP).",
        variant("formattedTimestamp STRING, format STRING", "BIGINT", _parser(epoch_millis_sql("{}"), zoned=True)),
        variant("formattedTimestamp STRING, format STRING, tz STRING", "BIGINT", _parser(epoch_millis_sql("{}"), zoned=True)),
    ))
    registry.register(scalar(
        "STRINGTODATE", DATE_TIME, "Parses epoch days with a Java pattern (deprecated: PARSE_DATE).",
        variant("formattedDate STRING, format STRING", "INT", _parser(f"CAST(CAST({{}} AS DATE) - {_EPOCH} AS INTEGER)")),
    ))
    registry.register(scalar(
        "FROM_DAYS", DATE_TIME, "The DATE a number of days after 1970-01-01.",
        variant("days INT", "DATE", f"({_EPOCH} + {{0}})"),
    ))
    registry.register(scalar(
        "FROM_UNIXTIME", DATE_TIME, "The TIMESTAMP of epoch milliseconds.",
        variant("epochMilli BIGINT", "TIMESTAMP", "CAST(epoch_ms({0}) AS TIMESTAMP_MS)"),
    ))
    registry.register(scalar(
        "UNIX_DATE", DATE_TIME, "Days since 1970-01-01 of a DATE, or of today.",
        variant("", "INT", f"CAST(current_date - {_EPOCH} AS INTEGER)"),
        variant("date DATE", "INT", f"CAST({{0}} - {_EPOCH} AS INTEGER)"),
    ))
    registry.register(scalar(
        "UNIX_TIMESTAMP", DATE_TIME, "Milliseconds since the epoch of a TIMESTAMP, or of now.",
        variant("", "BIGINT", "epoch_ms(current_timestamp)"),
        variant("ts TIMESTAMP", "BIGINT", epoch_millis_sql("{0}")),
    ))
