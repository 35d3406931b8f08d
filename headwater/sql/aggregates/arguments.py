"""Checks of an aggregate call's arguments (arity, types, literal values), with ksqlDB's messages.

Binders call these before building templates, so a call ksqlDB refuses fails at
planning time with a :class:`SqlSemanticError` naming the function.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NoReturn

from headwater.errors import SqlSemanticError
from headwater.sql.types import BaseType, SqlType

NUMERIC = (BaseType.INTEGER, BaseType.BIGINT, BaseType.DOUBLE, BaseType.DECIMAL)
#: Types with a total order that ksqlDB's Comparable-based UDAFs (TOPK, TOPKDISTINCT) accept.
ORDERED = (*NUMERIC, BaseType.STRING, BaseType.DATE, BaseType.TIME, BaseType.TIMESTAMP, BaseType.BOOLEAN,
           BaseType.BYTES)
#: Every type but the unresolved CUSTOM one.
ANY = tuple(b for b in BaseType if b is not BaseType.CUSTOM)


def _shown(types: Sequence[SqlType | None], literals: Sequence[object]) -> str:
    parts = ["NULL" if t is None else t.sql() for t in types]
    parts += [repr(v).upper() if isinstance(v, bool) else repr(v) for v in literals]
    return ", ".join(parts)


def reject(name: str, types: Sequence[SqlType | None], literals: Sequence[object] = ()) -> NoReturn:
    """ksqlDB's error for a call no signature of the function matches."""
    raise SqlSemanticError(f"Function '{name}' does not accept parameters ({_shown(types, literals)}).")


def typed(name: str, types: Sequence[SqlType | None], literals: Sequence[object], count: int,
          allowed: Sequence[tuple[BaseType, ...]]) -> list[SqlType]:
    """The ``count`` column argument types, each of a kind in ``allowed[i]`` (the last entry repeats)."""
    if len(types) != count or count == 0:
        reject(name, types, literals)
    checked: list[SqlType] = []
    for i, arg in enumerate(types):
        kinds = allowed[min(i, len(allowed) - 1)]
        if arg is None or arg.base not in kinds:
            reject(name, types, literals)
        checked.append(arg)
    return checked


def positive_int(name: str, value: object, what: str) -> int:
    """A literal that must be an INTEGER of at least 1 (TOPK's k, the n of EARLIEST/LATEST_BY_OFFSET)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise SqlSemanticError(f"Function '{name}' expects {what} to be an INTEGER literal, got {value!r}.")
    if value < 1:
        raise SqlSemanticError(f"{what} must be 1 or greater")
    return value
