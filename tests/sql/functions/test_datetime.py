"""Date and time functions and the Java pattern translator, evaluated in DuckDB."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import pytest

from headwater.sql.functions.date_patterns import PatternError, Segment, strptime_format, translate_pattern
from headwater.sql.functions.datetime import zone_name
from tests.sql.functions.harness import check, ids

TS = datetime(2021, 1, 2, 3, 4, 5, 678000)  # the standard row's TS, 1609556645678 ms
TS_MS = 1609556645678

CASES: list[tuple[str, Any]] = [
    ("FORMAT_TIMESTAMP(TS, 'yyyy-MM-dd HH:mm:ss.SSS')", "2021-01-02 03:04:05.678"),
    ("FORMAT_TIMESTAMP(TS, 'yyyy-MM-dd''T''HH:mm:ssXXX')", "2021-01-02T03:04:05Z"),
    ("FORMAT_TIMESTAMP(TS, 'yyyy-MM-dd HH:mm', 'America/Los_Angeles')", "2021-01-01 19:04"),
    ("FORMAT_TIMESTAMP(TS, 'HH:mmXXX', 'America/Los_Angeles')", "19:04-08:00"),
    ("FORMAT_TIMESTAMP(TS, 'HH:mm Z', 'America/Los_Angeles')", "19:04 -0800"),
    ("FORMAT_TIMESTAMP(TS, 'HH:mm X', 'America/Los_Angeles')", "19:04 -08"),
    ("FORMAT_TIMESTAMP(TS, 'HH:mm X', 'Asia/Kolkata')", "08:34 +0530"),
    ("FORMAT_TIMESTAMP(TS, 'HH:mm xxx')", "03:04 +00:00"),
    ("FORMAT_TIMESTAMP(TS, 'HH:mm z', 'Europe/Paris')", "04:04 Europe/Paris"),
    ("FORMAT_TIMESTAMP(TS, 'EEE, d MMM yyyy h:mm a')", "Sat, 2 Jan 2021 3:04 AM"),
    ("FORMAT_TIMESTAMP(TS, 'EEEE MMMM dd')", "Saturday January 02"),
    ("FORMAT_TIMESTAMP(TS, 'yy/M/d D')", "21/1/2 2"),
    ("FORMAT_TIMESTAMP(TS, '''at'' H''h''')", "at 3h"),
    ("FORMAT_TIMESTAMP(TS, '100% yyyy')", "100% 2021"),
    ("FORMAT_TIMESTAMP(TS, 'ss.S|ss.SS|SSSSSS|SSSSSSSSS|n')", "05.6|05.67|678000|678000000|678000000"),
    ("FORMAT_TIMESTAMP(NTS, 'yyyy')", None),
    ("FORMAT_TIMESTAMP(TS, 'yyyy', NS)", None),
    ("FORMAT_TIMESTAMP(TS, 'yyyy', '+01:00')", "2021"),
    ("FORMAT_DATE(DT, 'yyyy-MM-dd')", "2021-01-02"),
    ("FORMAT_DATE(DT, 'dd/MM/yyyy')", "02/01/2021"),
    ("FORMAT_DATE(NDT, 'yyyy')", None),
    ("FORMAT_TIME(TM, 'HH:mm:ss')", "03:04:05"),
    ("FORMAT_TIME(TM, 'hh:mm a')", "03:04 AM"),
    ("FORMAT_TIME(TM, 'HH:mm:ss.SSS')", "03:04:05.678"),
    ("PARSE_TIMESTAMP('2021-01-02 03:04:05.678', 'yyyy-MM-dd HH:mm:ss.SSS')", TS),
    ("PARSE_TIMESTAMP('2021-01-02T03:04:05Z', 'yyyy-MM-dd''T''HH:mm:ssX')", datetime(2021, 1, 2, 3, 4, 5)),
    ("PARSE_TIMESTAMP('2021-01-02T03:04:05+01:00', 'yyyy-MM-dd''T''HH:mm:ssXXX')", datetime(2021, 1, 2, 2, 4, 5)),
    ("PARSE_TIMESTAMP('2021-01-02 03:04:05 +0100', 'yyyy-MM-dd HH:mm:ss Z')", datetime(2021, 1, 2, 2, 4, 5)),
    ("PARSE_TIMESTAMP('2021-01-01 19:04:05', 'yyyy-MM-dd HH:mm:ss', 'America/Los_Angeles')", datetime(2021, 1, 2, 3, 4, 5)),
    ("PARSE_TIMESTAMP('10:30', 'HH:mm')", datetime(1970, 1, 1, 10, 30)),
    ("PARSE_TIMESTAMP('2/1/2021 3:04 PM', 'd/M/yyyy h:mm a')", datetime(2021, 1, 2, 15, 4)),
    ("PARSE_TIMESTAMP('garbage', 'yyyy-MM-dd')", None),
    ("PARSE_TIMESTAMP(NS, 'yyyy-MM-dd')", None),
    ("PARSE_DATE('2021-01-02', 'yyyy-MM-dd')", date(2021, 1, 2)),
    ("PARSE_DATE('02/01/2021', 'dd/MM/yyyy')", date(2021, 1, 2)),
    ("PARSE_DATE('Jan 2, 2021', 'MMM d, yyyy')", date(2021, 1, 2)),
    ("PARSE_DATE('not a date', 'yyyy-MM-dd')", None),
    ("PARSE_TIME('03:04:05', 'HH:mm:ss')", time(3, 4, 5)),
    ("PARSE_TIME('3:04 PM', 'h:mm a')", time(15, 4)),
    ("PARSE_TIME('25:00', 'HH:mm')", None),
    ("TIMESTAMPTOSTRING(1609556645678, 'yyyy-MM-dd HH:mm:ss.SSS')", "2021-01-02 03:04:05.678"),
    ("TIMESTAMPTOSTRING(1609556645678, 'yyyy-MM-dd HH:mm:ss', 'UTC')", "2021-01-02 03:04:05"),
    ("TIMESTAMPTOSTRING(1609556645678, 'HH:mm', '+05:30')", "08:34"),
    ("TIMESTAMPTOSTRING(NB, 'yyyy')", None),
    ("STRINGTOTIMESTAMP('2021-01-02 03:04:05.678', 'yyyy-MM-dd HH:mm:ss.SSS')", TS_MS),
    ("STRINGTOTIMESTAMP('2021-01-02 04:04:05', 'yyyy-MM-dd HH:mm:ss', 'Europe/Paris')", 1609556645000),
    ("STRINGTOTIMESTAMP('bad', 'yyyy')", None),
    ("DATETOSTRING(18629, 'yyyy-MM-dd')", "2021-01-02"),
    ("STRINGTODATE('2021-01-02', 'yyyy-MM-dd')", 18629),
    ("FROM_DAYS(18629)", date(2021, 1, 2)),
    ("FROM_DAYS(NI)", None),
    ("FROM_UNIXTIME(1609556645678)", TS),
    ("FROM_UNIXTIME(B)", datetime(1970, 1, 1, 0, 0, 0, 10000)),
    ("UNIX_DATE(DT)", 18629),
    ("UNIX_DATE() > 18000", True),
    ("UNIX_TIMESTAMP(TS)", TS_MS),
    ("UNIX_TIMESTAMP() > 1600000000000", True),
    ("UNIX_TIMESTAMP(NTS)", None),
    ("CONVERT_TZ(TS, 'UTC', 'America/Los_Angeles')", datetime(2021, 1, 1, 19, 4, 5, 678000)),
    ("CONVERT_TZ(TS, '+01:00', 'UTC')", datetime(2021, 1, 2, 2, 4, 5, 678000)),
    ("CONVERT_TZ(NTS, 'UTC', 'UTC')", None),
    ("DATEADD(DAYS, 5, DT)", date(2021, 1, 7)),
    ("DATESUB(DAYS, 2, DT)", date(2020, 12, 31)),
    ("DATEADD(HOURS, 25, DT)", date(2021, 1, 3)),
    ("DATEADD(HOURS, -1, DT)", date(2021, 1, 1)),
    ("DATEADD(DAYS, NI, DT)", None),
    ("TIMEADD(HOURS, 22, TM)", time(1, 4, 5, 678000)),
    ("TIMESUB(MINUTES, 5, TM)", time(2, 59, 5, 678000)),
    ("TIMEADD(SECONDS, 1, NTM)", None),
    ("TIMESTAMPADD(SECONDS, 30, TS)", datetime(2021, 1, 2, 3, 4, 35, 678000)),
    ("TIMESTAMPSUB(DAYS, 1, TS)", datetime(2021, 1, 1, 3, 4, 5, 678000)),
    ("TIMESTAMPADD(MILLISECONDS, B, TS)", datetime(2021, 1, 2, 3, 4, 5, 688000)),
    ("TIMESTAMPADD(MINUTE, I, TS)", datetime(2021, 1, 2, 3, 11, 5, 678000)),
]


@pytest.mark.parametrize(("expression", "expected"), CASES, ids=ids(CASES))
def test_datetime_function(con, expression: str, expected: Any) -> None:
    check(con, expression, expected)


@pytest.mark.parametrize(
    ("pattern", "segments"),
    [
        ("yyyy-MM-dd", [Segment("text", "%Y-%m-%d")]),
        ("yyyy-MM-dd'T'HH:mm:ss.SSS", [Segment("text", "%Y-%m-%dT%H:%M:%S.%g")]),
        ("d/M/yy h:m:s a", [Segment("text", "%-d/%-m/%y %-I:%-M:%-S %p")]),
        ("EEE MMM", [Segment("text", "%a %b")]),
        ("EEEE MMMM", [Segment("text", "%A %B")]),
        ("HH:mmXXX", [Segment("text", "%H:%M"), Segment("offset", "XXX")]),
        ("HH z", [Segment("text", "%H "), Segment("zone", "z")]),
        ("'o''clock' %", [Segment("text", "o'clock %%")]),
        ("''", [Segment("text", "'")]),
        ("SSSSSS", [Segment("text", "%f")]),
        ("ss.SS", [Segment("text", "%S."), Segment("fraction", "SS")]),
    ],
)
def test_pattern_translation(pattern: str, segments: list[Segment]) -> None:
    assert translate_pattern(pattern) == segments


def test_parse_patterns_use_padded_specifiers_and_read_offsets() -> None:
    assert strptime_format("d/M/yyyy H:m:sX") == "%d/%m/%Y %H:%M:%S%z"
    assert strptime_format("yyyy z") == "%Y %Z"


@pytest.mark.parametrize("pattern", ["yyyy QQ", "yyyy[-MM]", "'unclosed", "W"])
def test_untranslatable_patterns_are_rejected(pattern: str) -> None:
    with pytest.raises(PatternError):
        translate_pattern(pattern)


@pytest.mark.parametrize(
    ("zone", "name"),
    [("UTC", "UTC"), ("Z", "UTC"), ("America/New_York", "America/New_York"), ("+01:00", "GMT+01:00"),
     ("-0530", "GMT-05:30"), ("GMT+2", "GMT+02:00"), ("Mars/Olympus", None), ("+25:00", None)],
)
def test_zone_names(zone: str, name: str | None) -> None:
    assert zone_name(zone) == name
