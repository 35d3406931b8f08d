"""ksqlDB's UDAFs transcribed record by record, as the truth the SQL templates are checked against.

Each model follows the Java ``aggregate`` / ``map`` / ``undo`` of ksqlDB's
class (named in the docstring) one value at a time; ``value`` is the single
argument, or a tuple for several. Where the Java keeps an approximation
(COUNT_DISTINCT's HyperLogLog) the model is the exact quantity.
"""

from __future__ import annotations

import math
from typing import Any


class Udaf:
    def initialize(self) -> Any:
        raise NotImplementedError

    def aggregate(self, value: Any, agg: Any) -> Any:
        raise NotImplementedError

    def map(self, agg: Any) -> Any:
        return agg

    def undo(self, value: Any, agg: Any) -> Any:
        raise NotImplementedError


class CountDistinct(Udaf):
    """CountDistinct (exact: what the HyperLogLog estimates)."""

    def initialize(self) -> Any:
        return set()

    def aggregate(self, value: Any, agg: Any) -> Any:
        return agg if value is None else agg | {value}

    def map(self, agg: Any) -> Any:
        return len(agg)


class CollectList(Udaf):
    """CollectListUdaf."""

    def __init__(self, limit: int = 1000) -> None:
        self.limit = limit

    def initialize(self) -> Any:
        return []

    def aggregate(self, value: Any, agg: Any) -> Any:
        return agg + [value] if len(agg) < self.limit else agg

    def undo(self, value: Any, agg: Any) -> Any:
        positions = [i for i, v in enumerate(agg) if v == value]
        return agg[:positions[-1]] + agg[positions[-1] + 1:] if positions else agg


class CollectSet(Udaf):
    """CollectSetUdaf."""

    def __init__(self, limit: int = 1000) -> None:
        self.limit = limit

    def initialize(self) -> Any:
        return []

    def aggregate(self, value: Any, agg: Any) -> Any:
        return agg + [value] if len(agg) < self.limit and value not in agg else agg

    def undo(self, value: Any, agg: Any) -> Any:
        return [v for v in agg if v != value]


class Histogram(Udaf):
    """HistogramUdaf (NULL values skipped)."""

    LIMIT = 1000

    def initialize(self) -> Any:
        return {}

    def aggregate(self, value: Any, agg: Any) -> Any:
        if value is None or (len(agg) >= self.LIMIT and value not in agg):
            return agg
        return {**agg, value: agg.get(value, 0) + 1}

    def undo(self, value: Any, agg: Any) -> Any:
        if value not in agg:
            return agg
        out = {**agg, value: agg[value] - 1}
        return {k: v for k, v in out.items() if v > 0}


class Attr(Udaf):
    """Attr: counts per value (NULL included); the value when there is exactly one."""

    def initialize(self) -> Any:
        return {}

    def aggregate(self, value: Any, agg: Any) -> Any:
        return {**agg, value: agg.get(value, 0) + 1}

    def map(self, agg: Any) -> Any:
        return next(iter(agg)) if len(agg) == 1 else None

    def undo(self, value: Any, agg: Any) -> Any:
        return Histogram.undo(Histogram(), value, agg)


class TopK(Udaf):
    """TopkKudaf: insert, stable sort descending on the sort value, keep k. ``value`` is the sort value,
    or a tuple (sort value, other columns...) for the struct form."""

    def __init__(self, k: int, struct: bool = False) -> None:
        self.k = k
        self.struct = struct

    def initialize(self) -> Any:
        return []

    def _key(self, entry: Any) -> Any:
        return entry[0] if self.struct else entry

    def aggregate(self, value: Any, agg: Any) -> Any:
        if self._key(value) is None:
            return agg
        if len(agg) == self.k and self._key(value) <= self._key(agg[-1]):
            return agg
        grown = (agg[:-1] if len(agg) == self.k else agg) + [value]
        return sorted(grown, key=self._key, reverse=True)  # stable: earlier rows first among equals

    def map(self, agg: Any) -> Any:
        if not self.struct:
            return agg
        return [{"sort_col": e[0], **{f"col{i}": v for i, v in enumerate(e[1:])}} for e in agg]


class TopKDistinct(Udaf):
    """TopkDistinctKudaf."""

    def __init__(self, k: int) -> None:
        self.k = k

    def initialize(self) -> Any:
        return []

    def aggregate(self, value: Any, agg: Any) -> Any:
        if value is None or value in agg:
            return agg
        return sorted(agg + [value], reverse=True)[: self.k]


class ByOffset(Udaf):
    """EarliestByOffset / LatestByOffset, all four forms (n None: the single-value forms)."""

    def __init__(self, latest: bool, n: int | None = None, ignore_nulls: bool = True) -> None:
        self.latest, self.n, self.ignore_nulls = latest, n, ignore_nulls

    def initialize(self) -> Any:
        return [] if self.n is not None else None

    def aggregate(self, value: Any, agg: Any) -> Any:
        if value is None and self.ignore_nulls:
            return agg
        if self.n is None:
            return (value,) if self.latest or agg is None else agg
        if self.latest:
            return (agg + [value])[-self.n:]
        return agg + [value] if len(agg) < self.n else agg

    def map(self, agg: Any) -> Any:
        if self.n is not None:
            return agg
        return None if agg is None else agg[0]


class StdDev(Udaf):
    """StandardDeviationSampUdaf / population variant; the state is the values (undo removes one)."""

    def __init__(self, sample: bool) -> None:
        self.sample = sample

    def initialize(self) -> Any:
        return []

    def aggregate(self, value: Any, agg: Any) -> Any:
        return agg if value is None else agg + [float(value)]

    def map(self, agg: Any) -> Any:
        n = len(agg)
        if n < (2 if self.sample else 1):
            return 0.0
        mean = sum(agg) / n
        m2 = sum((x - mean) ** 2 for x in agg)
        return math.sqrt(m2 / (n - 1 if self.sample else n))

    def undo(self, value: Any, agg: Any) -> Any:
        if value is None:
            return agg
        out = list(agg)
        out.remove(float(value))
        return out


class Correlation(Udaf):
    """CorrelationUdaf, from the sums as the Java computes it; ``value`` is (x, y)."""

    def initialize(self) -> Any:
        return []

    def aggregate(self, value: Any, agg: Any) -> Any:
        x, y = value
        return agg if x is None or y is None else agg + [(float(x), float(y))]

    def map(self, agg: Any) -> Any:
        n = len(agg)
        if n < 2:
            return math.nan
        sx = sum(x for x, _ in agg)
        sy = sum(y for _, y in agg)
        sxx = sum(x * x for x, _ in agg)
        syy = sum(y * y for _, y in agg)
        sxy = sum(x * y for x, y in agg)
        numerator = n * sxy - sx * sy
        denominator = math.sqrt(n * sxx - sx * sx) * math.sqrt(n * syy - sy * sy)
        if denominator == 0:
            return math.nan if numerator == 0 else math.copysign(math.inf, numerator)
        return numerator / denominator

    def undo(self, value: Any, agg: Any) -> Any:
        x, y = value
        if x is None or y is None:
            return agg
        out = list(agg)
        out.remove((float(x), float(y)))
        return out


class SumList(Udaf):
    """ListSumUdaf."""

    def initialize(self) -> Any:
        return 0

    def aggregate(self, value: Any, agg: Any) -> Any:
        return agg if value is None else agg + sum(v for v in value if v is not None)

    def undo(self, value: Any, agg: Any) -> Any:
        return agg if value is None else agg - sum(v for v in value if v is not None)
