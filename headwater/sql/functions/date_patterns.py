"""Java date/time patterns (DateTimeFormatter / SimpleDateFormat) as DuckDB strftime / strptime formats.

A pattern becomes a list of segments: runs of strftime format text, and the
parts DuckDB cannot print itself, which the caller renders in SQL: zone
offsets (``XXX``, ``Z``) and names (``z``) for a zone chosen per call, and
fractions of a second of other widths than 3 and 6 digits.

Letters and their translations (n = repeat count):

====== =========================== ===================================
letter meaning                      strftime
====== =========================== ===================================
y u    year                         n=2: ``%y``, else ``%Y``
Y      week-based year              ``%G``
M L    month                        1: ``%-m``, 2: ``%m``, 3: ``%b``, 4+: ``%B``
d      day of month                 1: ``%-d``, 2: ``%d``
D      day of year                  1: ``%-j``, else ``%j``
E      day of week                  1-3: ``%a``, 4+: ``%A``
a      AM/PM                        ``%p``
H k    hour 0-23 (k: 1-24, as H)    1: ``%-H``, 2: ``%H``
h K    hour 1-12 (K: 0-11, as h)    1: ``%-I``, 2: ``%I``
m      minute                       1: ``%-M``, 2: ``%M``
s      second                       1: ``%-S``, 2: ``%S``
S      fraction of second           3: ``%g`` (ms), 6: ``%f`` (µs), other counts a fraction segment
n      nano of second               a fraction segment
w      week of year                 ``%V``
G      era                          the text ``AD``
X x Z  zone offset                  an offset segment
z V O  zone name / id               a zone segment
====== =========================== ===================================

When parsing, numbers are read with the padded specifiers (DuckDB reads one
or two digits for them), and every offset letter reads ``%z`` (the caller
turns a trailing ``Z`` into ``+00:00`` first). Letters not in the table, and
optional sections ``[...]``, are errors.
"""

from __future__ import annotations

from dataclasses import dataclass


class PatternError(ValueError):
    """A Java pattern this translator cannot express."""


@dataclass(frozen=True)
class Segment:
    """``kind`` is ``text`` (a strftime format), or ``offset``, ``zone``, ``fraction`` (``value``: the Java letters)."""

    kind: str
    value: str


def _number(parse: bool, count: int, spec: str) -> str:
    if count == 1 and not parse:
        return f"%-{spec}"
    return f"%{spec}"


def _letter(letter: str, count: int, parse: bool) -> str:
    if letter in "yu":
        return "%y" if count == 2 else "%Y"
    if letter == "Y":
        return "%G"
    if letter in "ML":
        if count >= 4:
            return "%B"
        if count == 3:
            return "%b"
        return _number(parse, count, "m")
    if letter == "d":
        return _number(parse, count, "d")
    if letter == "D":
        return _number(parse, count, "j")
    if letter == "E":
        return "%A" if count >= 4 else "%a"
    if letter == "a":
        return "%p"
    if letter in "Hk":
        return _number(parse, count, "H")
    if letter in "hK":
        return _number(parse, count, "I")
    if letter == "m":
        return _number(parse, count, "M")
    if letter == "s":
        return _number(parse, count, "S")
    if letter == "S":
        return "%g" if count <= 3 else "%f" if count <= 6 else "%n"
    if letter == "n":
        return "%n"
    if letter == "w":
        return "%V"
    if letter == "G":
        return "AD"
    raise PatternError(f"the pattern letter '{letter}' is not supported")


def translate_pattern(pattern: str, parse: bool = False) -> list[Segment]:
    """Segments of a Java pattern; raises :class:`PatternError` for what has no DuckDB form."""
    segments: list[Segment] = []
    text: list[str] = []

    def flush() -> None:
        if text:
            segments.append(Segment("text", "".join(text)))
            text.clear()

    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "'":
            end = i + 1
            literal: list[str] = []
            while True:
                if end >= len(pattern):
                    raise PatternError("a quote is not closed")
                if pattern[end] == "'":
                    if end + 1 < len(pattern) and pattern[end + 1] == "'":
                        literal.append("'")
                        end += 2
                        continue
                    break
                literal.append(pattern[end])
                end += 1
            text.append("'" if end == i + 1 else "".join(literal).replace("%", "%%"))
            i = end + 1
            continue
        if c.isascii() and c.isalpha():
            count = 1
            while i + count < len(pattern) and pattern[i + count] == c:
                count += 1
            if c in "XxZ":
                if parse:
                    text.append("%z")
                else:
                    flush()
                    segments.append(Segment("offset", c * count))
            elif c in "Sn" and not parse and not (c == "S" and count in (3, 6)):
                # DuckDB's strftime has no 1-, 2- or 9-digit fraction (and %n garbles what follows it).
                flush()
                segments.append(Segment("fraction", c * count))
            elif c in "zVO":
                if parse:
                    text.append("%Z")
                else:
                    flush()
                    segments.append(Segment("zone", c * count))
            else:
                text.append(_letter(c, count, parse))
            i += count
            continue
        if c in "[]{}#":
            raise PatternError(f"the pattern character '{c}' is not supported")
        text.append("%%" if c == "%" else c)
        i += 1
    flush()
    return segments


def has_zone(segments: list[Segment]) -> bool:
    """Whether a parse pattern reads a zone (so strptime yields TIMESTAMPTZ)."""
    return any(s.kind == "text" and ("%z" in s.value or "%Z" in s.value) for s in segments)


def strptime_format(pattern: str) -> str:
    """The strptime format of a Java pattern used for parsing."""
    return "".join(s.value for s in translate_pattern(pattern, parse=True))
