"""MASK and its left/right variants.

A character is upper-case when lower-casing changes it, lower-case when
upper-casing changes it, a digit when 0-9, and "other" otherwise. Masks
default to ``X``, ``x``, ``n`` and ``-``; a NULL mask keeps that class of
characters as it is (ksqlDB's rule); only the first character of a mask is used.
A negative count is an error in ksqlDB (logged) and NULL here.
"""

from __future__ import annotations

from collections.abc import Callable

from headwater.sql.functions.registry import Call, FunctionRegistry, scalar, variant

STRING = "STRING"

MACROS: tuple[str, ...] = (
    """CREATE OR REPLACE MACRO hw_mask(hw_s, hw_u, hw_l, hw_d, hw_o) AS
         CASE WHEN hw_s IS NOT NULL THEN array_to_string(list_transform(string_split(hw_s, ''), lambda hw_c:
           CASE WHEN hw_c <> lower(hw_c) THEN coalesce(left(hw_u, 1), hw_c)
                WHEN hw_c <> upper(hw_c) THEN coalesce(left(hw_l, 1), hw_c)
                WHEN hw_c BETWEEN '0' AND '9' THEN coalesce(left(hw_d, 1), hw_c)
                ELSE coalesce(left(hw_o, 1), hw_c) END), '') END""",
)

_DEFAULTS = ("'X'", "'x'", "'n'", "'-'")


def _masks(call: Call, first: int) -> str:
    given = call.sql[first:]
    return ", ".join(given if given else _DEFAULTS)


def _mask(call: Call) -> str:
    return f"hw_mask({call.sql[0]}, {_masks(call, 1)})"


def _mask_part(which: str) -> Callable[[Call], str]:
    def translate(call: Call) -> str:
        s, n = call.sql[:2]
        masks = _masks(call, 2)
        left_n = f"left({s}, {n})"
        rest_n = f"substr({s}, {n} + 1)"
        keep = f"greatest(length({s}) - {n}, 0)"
        body = {
            "KEEP_LEFT": f"{left_n} || hw_mask({rest_n}, {masks})",
            "KEEP_RIGHT": f"hw_mask(left({s}, {keep}), {masks}) || right({s}, {n})",
            "LEFT": f"hw_mask({left_n}, {masks}) || {rest_n}",
            "RIGHT": f"left({s}, {keep}) || hw_mask(right({s}, {n}), {masks})",
        }[which]
        return f"CASE WHEN {n} >= 0 THEN {body} END"

    return translate


def register(registry: FunctionRegistry) -> None:
    registry.add_setup(*MACROS)
    masks = "upper STRING, lower STRING, digit STRING, other STRING"
    registry.register(scalar(
        "MASK", STRING,
        "Masks a string: upper-case letters, lower-case letters, digits and other characters are replaced "
        "by the given characters (default X, x, n, -; NULL keeps that class).",
        variant("input STRING", "STRING", _mask),
        variant(f"input STRING, {masks}", "STRING", _mask),
    ))
    for name, which, text in (
        ("MASK_KEEP_LEFT", "KEEP_LEFT", "all but the first n characters"),
        ("MASK_KEEP_RIGHT", "KEEP_RIGHT", "all but the last n characters"),
        ("MASK_LEFT", "LEFT", "the first n characters"),
        ("MASK_RIGHT", "RIGHT", "the last n characters"),
    ):
        translate = _mask_part(which)
        registry.register(scalar(
            name, STRING, f"Masks {text} of a string, as MASK does.",
            variant("input STRING, n INT", "STRING", translate),
            variant(f"input STRING, n INT, {masks}", "STRING", translate),
        ))
