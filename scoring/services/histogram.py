"""A score histogram with round bucket edges (1, 2 or 5 × a power of ten)."""

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

MAX_BUCKETS = 20


def bucket_width(span: Decimal, *, buckets: int = MAX_BUCKETS) -> Decimal:
    """The smallest round width (at least 1 point) that covers `span` in `buckets` buckets."""
    raw = span / buckets
    power = Decimal(1)
    while True:
        for factor in (1, 2, 5):
            width = factor * power
            if width >= raw:
                return width
        power *= 10


@dataclass
class Tally:
    """What a histogram needs of many scores, without the scores: the lowest, the highest and
    how many have each whole part (floor). Every width is a whole number of points and every
    bucket starts at a multiple of it, so a score's bucket follows from its floor. Small to
    send between processes, and merged by adding."""

    low: Decimal | None = None
    high: Decimal | None = None
    floors: Counter[int] = field(default_factory=Counter)

    @classmethod
    def of(cls, values: Sequence[Decimal]) -> "Tally":
        if not values:
            return cls()
        return cls(min(values), max(values), Counter(map(math.floor, values)))

    def merge(self, other: "Tally") -> None:
        if other.low is None or other.high is None:
            return
        self.low = other.low if self.low is None else min(self.low, other.low)
        self.high = other.high if self.high is None else max(self.high, other.high)
        self.floors.update(other.floors)

    def buckets(self, *, buckets: int = MAX_BUCKETS) -> list[dict[str, Any]]:
        """Contiguous buckets [from, to) from the lowest to the highest score; none: []."""
        if self.low is None or self.high is None:
            return []
        width = bucket_width(self.high - self.low, buckets=buckets)
        start = (self.low / width).to_integral_value(rounding="ROUND_FLOOR") * width
        count = int((self.high - start) // width) + 1
        counts = [0] * count
        whole, first = int(width), int(start)
        for floor, n in self.floors.items():
            counts[(floor - first) // whole] += n
        return [
            {"from": float(start + i * width), "to": float(start + (i + 1) * width), "count": n}
            for i, n in enumerate(counts)
        ]


def histogram(values: Iterable[Decimal], *, buckets: int = MAX_BUCKETS) -> list[dict[str, Any]]:
    """Contiguous buckets [from, to) from the lowest to the highest value; empty: []."""
    return Tally.of(list(values)).buckets(buckets=buckets)
