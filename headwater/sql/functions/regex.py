"""Regular-expression functions. ksqlDB uses java.util.regex; DuckDB uses RE2.

The common syntax is shared; Java-only constructs (look-around, back
references, possessive quantifiers) are rejected by DuckDB when the query is
bound. REGEXP_REPLACE's replacement is translated from Java's form (``$1``,
``\\$``) to RE2's (``\\1``) when it is a literal. A group number must be a
literal (DuckDB needs it constant).

A literal pattern or replacement that DuckDB would refuse is refused when the
statement is planned: DuckDB refuses it for the whole batch, whatever the
records, so no record could ever be evaluated (a push query would wait
forever with nothing to show and nothing logged).
"""

from __future__ import annotations

from headwater.formats import duck
from headwater.sql.functions.registry import Call, FunctionRegistry, scalar, variant
from headwater.sql.typing import lenient, quote_literal

REGEX = "REGULAR EXPRESSION"


def java_replacement(text: str) -> str:
    """A java.util.regex replacement string as RE2 writes it."""
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append("\\\\" if nxt == "\\" else nxt)
            i += 2
        elif c == "$" and i + 1 < len(text) and text[i + 1] in "0123456789":
            out.append("\\" + text[i + 1])
            i += 2
        elif c == "\\":
            out.append("\\\\")
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _group(call: Call, index: int) -> int:
    group = call.literal(index, "group number")
    if not isinstance(group, int) or group < 0:
        raise call.error(f"Function '{call.name}': the group number must be a non-negative integer.", call.args[index].node)
    return group


def _probe(call: Call, index: int, sql: str, values: list[object], what: str) -> None:
    """Refuse at planning the literal ``values`` DuckDB rejects whatever the input (``sql`` binds them)."""
    reason = duck.refusal(sql, values)
    if reason is not None:
        raise call.error(f"Function '{call.name}': invalid {what}: {reason}", call.args[index].node)


def _checked_pattern(call: Call, index: int) -> None:
    if call.is_literal(index) and isinstance(pattern := call.literal(index), str):
        _probe(call, index, "SELECT regexp_matches('', ?)", [pattern], f"regular expression {quote_literal(pattern)}")


def _extract(call: Call) -> str:
    _checked_pattern(call, 0)
    pattern, s = call.sql[:2]
    group = _group(call, 2) if len(call.args) == 3 else 0
    return f"CASE WHEN regexp_matches({s}, {pattern}) THEN regexp_extract({s}, {pattern}, {group}) END"


def _extract_all(call: Call) -> str:
    _checked_pattern(call, 0)
    pattern, s = call.sql[:2]
    group = _group(call, 2) if len(call.args) == 3 else 0
    return f"regexp_extract_all({s}, {pattern}, {group})"


def _replace(call: Call) -> str:
    _checked_pattern(call, 1)
    s, pattern, replacement = call.sql
    if call.is_literal(2):
        value = call.literal(2)
        replacement = "NULL" if value is None else quote_literal(java_replacement(value))
        if value is not None and call.is_literal(1) and isinstance(regex := call.literal(1), str):
            _probe(call, 2, "SELECT regexp_replace('', ?, ?, 'g')", [regex, java_replacement(value)],
                   f"replacement {quote_literal(value)} for the pattern {quote_literal(regex)}")
            return f"regexp_replace({s}, {pattern}, {replacement}, 'g')"
    # A pattern or replacement from the data may not fit: that record fails (NULL, logged), not the batch.
    return lenient(f"regexp_replace({s}, {pattern}, {replacement}, 'g')")


def _split(call: Call) -> str:
    _checked_pattern(call, 1)
    return "string_split_regex({0}, {1})".format(*call.sql)


def register(registry: FunctionRegistry) -> None:
    registry.register(scalar(
        "REGEXP_EXTRACT", REGEX,
        "The first substring matching a pattern, or a capturing group of it; NULL when nothing matches.",
        variant("pattern STRING, input STRING", "STRING", _extract),
        variant("pattern STRING, input STRING, group INT", "STRING", _extract),
    ))
    registry.register(scalar(
        "REGEXP_EXTRACT_ALL", REGEX,
        "Every substring matching a pattern, or a capturing group of each match.",
        variant("pattern STRING, input STRING", "ARRAY<STRING>", _extract_all),
        variant("pattern STRING, input STRING, group INT", "ARRAY<STRING>", _extract_all),
    ))
    registry.register(scalar(
        "REGEXP_REPLACE", REGEX, "Replaces every match of a pattern ($1 refers to a group).",
        variant("input STRING, pattern STRING, replacement STRING", "STRING", _replace),
    ))
    registry.register(scalar(
        "REGEXP_SPLIT_TO_ARRAY", REGEX, "Splits a string into an array at every match of a pattern.",
        variant("input STRING, pattern STRING", "ARRAY<STRING>", _split),
    ))
