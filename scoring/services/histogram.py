"""A score histogram with round bucket edges (1, 2 or 5 × a power of ten)."""

from collections.abc import Sequence
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


def histogram(values: Sequence[Decimal], *, buckets: int = MAX_BUCKETS) -> list[dict[str, Any]]:
    """Contiguous buckets [from, to) from the lowest to the highest value; empty: []."""
    if not values:
        return []
    low, high = min(values), max(values)
    width = bucket_width(high - low, buckets=buckets)
    start = (low / width).to_integral_value(rounding="ROUND_FLOOR") * width
    count = int((high - start) // width) + 1
    counts = [0] * count
    for value in values:
        counts[int((value - start) // width)] += 1
    return [
        {"from": float(start + i * width), "to": float(start + (i + 1) * width), "count": n}
        for i, n in enumerate(counts)
    ]
