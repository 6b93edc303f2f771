"""The simulator's histogram from tallies (lowest, highest, count per whole point) equals the
histogram of the scores themselves, however the scores are split over ranges."""

from decimal import Decimal
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from scoring.services.histogram import Tally, bucket_width, histogram

scores = st.lists(
    st.decimals(min_value=-5000, max_value=100_000, places=2, allow_nan=False), max_size=300
)


def _by_definition(values):
    """Each value in the bucket [start + i·width, start + (i + 1)·width) that holds it."""
    if not values:
        return []
    low, high = min(values), max(values)
    width = bucket_width(high - low)
    start = (low / width).to_integral_value(rounding="ROUND_FLOOR") * width
    count = int((high - start) // width) + 1
    edges = [(start + i * width, start + (i + 1) * width) for i in range(count)]
    return [
        {"from": float(a), "to": float(b), "count": sum(a <= v < b for v in values)}
        for a, b in edges
    ]


@given(scores, st.lists(st.integers(min_value=0, max_value=300), max_size=5))
def test_tallies_of_any_split_give_the_histogram_of_the_scores(values, cuts):
    whole = Tally()
    edges = sorted({0, len(values), *(min(cut, len(values)) for cut in cuts)})
    for start, end in pairwise(edges):
        whole.merge(Tally.of(values[start:end]))

    assert whole.buckets() == _by_definition(values) == histogram(values)
    assert sum(bucket["count"] for bucket in whole.buckets()) == len(values)


def test_negative_scores_fall_in_the_bucket_below_zero():
    tally = Tally.of([Decimal("-0.01"), Decimal("0"), Decimal("0.99"), Decimal("1")])

    assert tally.buckets() == [
        {"from": -1.0, "to": 0.0, "count": 1},
        {"from": 0.0, "to": 1.0, "count": 2},
        {"from": 1.0, "to": 2.0, "count": 1},
    ]
    assert Tally().buckets() == []
