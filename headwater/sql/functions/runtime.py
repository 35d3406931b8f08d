"""DuckDB macros the compiled SQL relies on, and the connection settings it assumes.

Macros are expanded when a query is bound, so they cost nothing per row
beyond the SQL they stand for. All names start with ``hw_``.
"""

from __future__ import annotations

import duckdb

from headwater.sql.functions.registry import FunctionRegistry


def utc(con: duckdb.DuckDBPyConnection) -> None:
    """ksqlDB's TIMESTAMP is UTC; strings with an offset go through TIMESTAMPTZ and back.

    Set only when not already UTC: engine connections lock their configuration
    after setup (``formats/duck.py``), and installing again must stay harmless.
    """
    if con.execute("SELECT current_setting('TimeZone')").fetchall() != [("UTC",)]:
        con.execute("SET TimeZone = 'UTC'")


SETTINGS = (utc,)

_JAVA_SCIENTIFIC = """
CREATE OR REPLACE MACRO hw_java_scientific(hw_r) AS
  CASE WHEN contains(hw_r, 'e') THEN
    CASE WHEN contains(split_part(hw_r, 'e', 1), '.') THEN split_part(hw_r, 'e', 1)
         ELSE split_part(hw_r, 'e', 1) || '.0' END
    || 'E' || CAST(CAST(split_part(hw_r, 'e', 2) AS INTEGER) AS VARCHAR)
  ELSE hw_java_digits(
    rtrim(ltrim(replace(ltrim(hw_r, '-'), '.', ''), '0'), '0'),
    CASE WHEN split_part(ltrim(hw_r, '-'), '.', 1) <> '0'
         THEN length(split_part(ltrim(hw_r, '-'), '.', 1)) - 1
         ELSE -(length(split_part(hw_r, '.', 2)) - length(ltrim(split_part(hw_r, '.', 2), '0')) + 1) END,
    CASE WHEN starts_with(hw_r, '-') THEN '-' ELSE '' END)
  END
"""

MACROS: tuple[str, ...] = (
    # A map from key and value lists as Java builds one: the last of duplicate keys wins,
    # NULL keys are dropped, missing values are NULL (DuckDB's map() rejects duplicates).
    """CREATE OR REPLACE MACRO hw_map(hw_k, hw_v) AS CASE WHEN hw_k IS NOT NULL AND hw_v IS NOT NULL THEN
         map_from_entries(list_filter(
           list_transform(hw_k, lambda hw_x, hw_i: {'key': hw_x, 'value': hw_v[hw_i]}),
           lambda hw_e, hw_i: hw_e.key IS NOT NULL
             AND list_position(list_slice(hw_k, hw_i + 1, len(hw_k)), hw_e.key) IS NULL))
       END""",
    # Java's Double.toString: plain between 1e-3 and 1e7, else d.dddE<exp>; NaN and Infinity spelled out.
    """CREATE OR REPLACE MACRO hw_java_digits(hw_d, hw_exp, hw_sign) AS
         hw_sign || hw_d[1] || '.' || CASE WHEN length(hw_d) > 1 THEN hw_d[2:] ELSE '0' END
         || 'E' || CAST(hw_exp AS VARCHAR)""",
    _JAVA_SCIENTIFIC,
    """CREATE OR REPLACE MACRO hw_double_to_string(hw_x) AS CASE
         WHEN hw_x IS NULL THEN NULL
         WHEN isnan(hw_x) THEN 'NaN'
         WHEN isinf(hw_x) THEN CASE WHEN hw_x > 0 THEN 'Infinity' ELSE '-Infinity' END
         WHEN hw_x = 0 OR (abs(hw_x) >= 1e-3 AND abs(hw_x) < 1e7) THEN CAST(hw_x AS VARCHAR)
         ELSE hw_java_scientific(CAST(hw_x AS VARCHAR)) END""",
)


def register(registry: FunctionRegistry) -> None:
    registry.add_setup(*SETTINGS, *MACROS)
