"""Finding the records of a batch that make a vectorized step fail.

Decoding, evaluating and encoding run over a whole batch at once. When one
record makes the step raise, the batch is cut in halves until the failing
records are found: the rest of the batch goes on, and each failing record is
reported with the reason (the processing log's job). A batch with ``k`` bad
records of ``n`` costs about ``2 k log2(n)`` extra calls, and nothing when no
record fails: the first call is the whole batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Isolated(Generic[T]):
    """The ranges ``[start, stop)`` that ran, with their results, and the rows that failed, with the reason."""

    pieces: list[tuple[int, int, T]]
    failed: list[tuple[int, str]]


def reason(exc: BaseException) -> str:
    """The first line of an exception's message, prefixed by its type when the message alone is empty."""
    text = str(exc).split("\n")[0].strip()
    return text or type(exc).__name__


def isolate(run: Callable[[int, int], T], n: int, errors: tuple[type[BaseException], ...] = (Exception,)
            ) -> Isolated[T]:
    """Run ``run(start, stop)`` over rows ``[0, n)``, bisecting around the rows where it raises ``errors``."""
    pieces: list[tuple[int, int, T]] = []
    failed: list[tuple[int, str]] = []
    todo = [(0, n)]
    while todo:
        start, stop = todo.pop()
        try:
            pieces.append((start, stop, run(start, stop)))
        except errors as exc:
            if stop - start <= 1:
                failed.append((start, reason(exc)))
                continue
            middle = (start + stop) // 2
            todo.append((middle, stop))  # popped second: the pieces stay in row order
            todo.append((start, middle))
    return Isolated(pieces, failed)
