"""String functions: CONCAT ... UUID, with Java's String semantics where they differ from DuckDB's.

Positions are 1-based. SUBSTRING follows ksqlDB's clamping (a start before the
string starts at its beginning; negative positions count from the end). TRIM
removes what Java's ``String.trim`` removes (every character up to U+0020).
INSTR returns 0 when either string is NULL, as ksqlDB's does.
"""

from __future__ import annotations

from headwater.sql.functions.registry import Call, FunctionRegistry, scalar, variant

STRING = "STRING"

_JAVA_WHITESPACE = " || ".join(f"chr({code})" for code in range(1, 33))

MACROS: tuple[str, ...] = (
    # ksqlDB's Substring: 0-based start clamped into the string, end clamped, never before start.
    """CREATE OR REPLACE MACRO hw_substring_start(hw_n, hw_pos) AS
         CASE WHEN hw_pos < 0 THEN greatest(hw_n + hw_pos, 0) ELSE greatest(least(hw_pos - 1, hw_n), 0) END""",
    """CREATE OR REPLACE MACRO hw_substring(hw_s, hw_pos, hw_len) AS
         hw_s[hw_substring_start(length(hw_s), hw_pos) + 1 :
              greatest(least(hw_substring_start(length(hw_s), hw_pos) + hw_len, length(hw_s)),
                       hw_substring_start(length(hw_s), hw_pos))]""",
    """CREATE OR REPLACE MACRO hw_bytes_substring(hw_s, hw_pos, hw_len) AS
         hw_s[hw_substring_start(octet_length(hw_s), hw_pos) + 1 :
              greatest(least(hw_substring_start(octet_length(hw_s), hw_pos) + hw_len, octet_length(hw_s)),
                       hw_substring_start(octet_length(hw_s), hw_pos))]""",
    # Every (overlapping) 1-based start of hw_sub in hw_s, as repeated String.indexOf finds them.
    """CREATE OR REPLACE MACRO hw_starts(hw_s, hw_sub) AS
         list_filter(range(1, length(hw_s) - length(hw_sub) + 2),
                     lambda hw_i: substr(hw_s, hw_i, length(hw_sub)) = hw_sub)""",
    """CREATE OR REPLACE MACRO hw_instr(hw_s, hw_sub, hw_pos, hw_occ) AS
         CASE WHEN hw_s IS NULL OR hw_sub IS NULL OR hw_pos IS NULL OR hw_occ IS NULL
                   OR hw_occ <= 0 OR hw_pos = 0 THEN 0
              WHEN hw_pos > 0 THEN coalesce(
                list_filter(hw_starts(hw_s, hw_sub), lambda hw_i: hw_i >= hw_pos)[hw_occ], 0)
              ELSE coalesce(list_reverse(list_filter(hw_starts(hw_s, hw_sub),
                lambda hw_i: hw_i <= length(hw_s) + hw_pos + 1))[hw_occ], 0) END""",
    """CREATE OR REPLACE MACRO hw_initcap(hw_s) AS
         array_to_string(list_transform(string_split(hw_s, ' '),
           lambda hw_w: upper(left(hw_w, 1)) || lower(substr(hw_w, 2))), ' ')""",
    # A padding function that refuses an empty pad or a negative length (ksqlDB returns NULL).
    """CREATE OR REPLACE MACRO hw_pad_ok(hw_len, hw_pad) AS hw_len >= 0 AND length(hw_pad) > 0""",
)


def _concat(call: Call) -> str:
    if not call.args:
        return "''"
    return f"concat({', '.join(call.sql)})"


def _concat_bytes(call: Call) -> str:
    # Hex text concatenates byte-wise and concat() skips NULLs as ksqlDB does.
    if not call.args:
        return "''::BLOB"
    return f"unhex(concat({', '.join(f'hex({s})' for s in call.sql)}))"


def _concat_ws(call: Call) -> str:
    if len(call.args) == 1:
        return f"CASE WHEN {call.sql[0]} IS NOT NULL THEN '' END"
    return f"concat_ws({', '.join(call.sql)})"


def _concat_ws_bytes(call: Call) -> str:
    if len(call.args) == 1:
        return f"CASE WHEN {call.sql[0]} IS NOT NULL THEN ''::BLOB END"
    return f"unhex(concat_ws({', '.join(f'hex({s})' for s in call.sql)}))"


def _pad(fn: str, binary: bool) -> str:
    if binary:  # two hex digits per byte, so padding hex text pads bytes
        return (
            f"CASE WHEN {{1}} >= 0 AND octet_length({{2}}) > 0 "
            f"THEN unhex({fn}(hex({{0}}), 2 * {{1}}, hex({{2}}))) END"
        )
    return f"CASE WHEN hw_pad_ok({{1}}, {{2}}) THEN {fn}({{0}}, {{1}}, {{2}}) END"


def _elt(call: Call) -> str:
    n, *items = call.sql
    if not items:
        return "CAST(NULL AS VARCHAR)"
    return f"CASE WHEN {n} >= 1 THEN list_extract([{', '.join(items)}], {n}) END"


def _field(call: Call) -> str:
    s, *items = call.sql
    if not items:
        return "0"
    return f"CASE WHEN {s} IS NULL THEN 0 ELSE CAST(coalesce(list_position([{', '.join(items)}], {s}), 0) AS INTEGER) END"


def _split_to_map(call: Call) -> str:
    s, entry, kv = call.sql
    e = call.fresh()
    entries = f"list_filter(string_split({s}, {entry}), lambda {e}: {e} <> '' AND contains({e}, {kv}))"
    keys = f"list_transform({entries}, lambda {e}: split_part({e}, {kv}, 1))"
    values = f"list_transform({entries}, lambda {e}: split_part({e}, {kv}, 2))"
    valid = f"{entry} <> '' AND {kv} <> '' AND {entry} <> {kv}"
    return f"CASE WHEN {valid} THEN hw_map({keys}, {values}) END"


def register(registry: FunctionRegistry) -> None:
    registry.add_setup(*MACROS)
    registry.register(scalar(
        "CHR", STRING, "The character with a Unicode code point, given as a number or as '\\uXXXX'.",
        variant("code INT", "STRING", "CASE WHEN {0} BETWEEN 0 AND 1114111 AND NOT {0} BETWEEN 55296 AND 57343 THEN chr({0}) END"),
        variant(
            "code STRING", "STRING",
            r"CASE WHEN regexp_full_match({0}, '\\u[0-9A-Fa-f]{{4}}') "
            r"AND NOT CAST('0x' || substr({0}, 3) AS INTEGER) BETWEEN 55296 AND 57343 "
            "THEN chr(CAST('0x' || substr({0}, 3) AS INTEGER)) END",
        ),
    ))
    registry.register(scalar(
        "CONCAT", STRING, "Concatenates strings or bytes; NULL arguments are skipped.",
        variant("inputs STRING...", "STRING", _concat),
        variant("inputs BYTES...", "BYTES", _concat_bytes),
    ))
    registry.register(scalar(
        "CONCAT_WS", STRING, "Concatenates strings or bytes with a separator, skipping NULLs; NULL if the separator is NULL.",
        variant("separator STRING, inputs STRING...", "STRING", _concat_ws),
        variant("separator BYTES, inputs BYTES...", "BYTES", _concat_ws_bytes),
    ))
    registry.register(scalar(
        "INITCAP", STRING, "Capitalizes the first letter of each space-separated word and lower-cases the rest.",
        variant("input STRING", "STRING", "hw_initcap({0})"),
    ))
    registry.register(scalar(
        "INSTR", STRING,
        "The 1-based position of an occurrence of a substring, searching from a position "
        "(negative: backwards from the end); 0 when not found.",
        variant("str STRING, substring STRING", "INT", "CAST(hw_instr({0}, {1}, 1, 1) AS INTEGER)"),
        variant("str STRING, substring STRING, position INT", "INT", "CAST(hw_instr({0}, {1}, {2}, 1) AS INTEGER)"),
        variant(
            "str STRING, substring STRING, position INT, occurrence INT", "INT",
            "CAST(hw_instr({0}, {1}, {2}, {3}) AS INTEGER)",
        ),
    ))
    registry.register(scalar("LCASE", STRING, "Converts a string to lower case.", variant("input STRING", "STRING", "lower({0})")))
    registry.register(scalar("UCASE", STRING, "Converts a string to upper case.", variant("input STRING", "STRING", "upper({0})")))
    registry.register(scalar(
        "LEN", STRING, "The number of characters in a string, or of bytes in a BYTES value.",
        variant("input STRING", "INT", "CAST(length({0}) AS INTEGER)"),
        variant("input BYTES", "INT", "CAST(octet_length({0}) AS INTEGER)"),
    ))
    for name, fn, side in (("LPAD", "lpad", "left"), ("RPAD", "rpad", "right")):
        registry.register(scalar(
            name, STRING,
            f"Pads a string or bytes on the {side} with a padding to a length, truncating a longer input; "
            "NULL for an empty padding or a negative length.",
            variant("input STRING, length INT, padding STRING", "STRING", _pad(fn, binary=False)),
            variant("input BYTES, length INT, padding BYTES", "BYTES", _pad(fn, binary=True)),
        ))
    registry.register(scalar(
        "MD5", STRING, "The MD5 hash of a string, as 32 hex digits.",
        variant("input STRING", "STRING", "md5({0})"),
    ))
    registry.register(scalar(
        "REPLACE", STRING, "Replaces every occurrence of a substring with another.",
        variant("str STRING, substring STRING, replacement STRING", "STRING", "replace({0}, {1}, {2})"),
    ))
    registry.register(scalar(
        "SPLIT", STRING,
        "Splits a string into an array at a delimiter; an empty delimiter splits it into characters.",
        variant("string STRING, delimiter STRING", "ARRAY<STRING>", "string_split({0}, {1})"),
    ))
    registry.register(scalar(
        "SPLIT_TO_MAP", STRING,
        "Splits a string into a map: entries at one delimiter, key and value at another. "
        "Entries without the key-value delimiter are skipped; the last duplicate key wins.",
        variant("input STRING, entryDelimiter STRING, kvDelimiter STRING", "MAP<STRING, STRING>", _split_to_map),
    ))
    registry.register(scalar(
        "SUBSTRING", STRING,
        "The part of a string or bytes from a 1-based position (negative: from the end), optionally of a length.",
        variant("str STRING, pos INT", "STRING", "hw_substring({0}, {1}, 2147483647)"),
        variant("str STRING, pos INT, length INT", "STRING", "hw_substring({0}, {1}, {2})"),
        variant("bytes BYTES, pos INT", "BYTES", "hw_bytes_substring({0}, {1}, 2147483647)"),
        variant("bytes BYTES, pos INT, length INT", "BYTES", "hw_bytes_substring({0}, {1}, {2})"),
    ))
    registry.register(scalar(
        "TRIM", STRING, "Removes leading and trailing whitespace (every character up to U+0020).",
        variant("input STRING", "STRING", f"trim({{0}}, {_JAVA_WHITESPACE})"),
    ))
    registry.register(scalar("UUID", STRING, "A random UUID as a string.", variant("", "STRING", "CAST(uuid() AS VARCHAR)")))
    registry.register(scalar(
        "ELT", STRING, "The n-th (1-based) of the strings that follow; NULL when n is out of range.",
        variant("n INT, args STRING...", "STRING", _elt),
    ))
    registry.register(scalar(
        "FIELD", STRING, "The 1-based position of a string among the strings that follow; 0 when absent or NULL.",
        variant("str STRING, args STRING...", "INT", _field),
    ))
