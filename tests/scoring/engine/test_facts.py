"""`event_fact` builds exactly the EventFact its constructor does."""

from __future__ import annotations

import dataclasses
from datetime import UTC, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring.engine import EventFact, event_fact
from tests.scoring.engine.builders import NOW

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=6,
)
objects = st.dictionaries(st.text(max_size=5), json_values, max_size=3)
moments = st.integers(-(10**6), 10**6).map(lambda s: NOW + timedelta(seconds=s))
zones = st.sampled_from([UTC, timezone(timedelta(hours=9)), timezone(-timedelta(hours=3))])


@given(
    id=st.text(max_size=8),
    type=st.sampled_from(["track", "page", "screen", "identify"]),
    name=st.text(max_size=8),
    at=moments,
    zone=zones,
    properties=objects,
    context=objects,
)
def test_event_fact_equals_the_constructor(id, type, name, at, zone, properties, context):
    args = (id, type, name, at.astimezone(zone), properties, context)

    built, constructed = event_fact(*args), EventFact(*args)

    assert built == constructed
    assert repr(built) == repr(constructed)
    assert dataclasses.astuple(built) == dataclasses.astuple(constructed)
    assert [getattr(built, f.name) for f in dataclasses.fields(EventFact)] == list(args)


def test_event_fact_is_as_frozen_as_the_constructor():
    event = event_fact("m1", "track", "A", NOW, {"a": 1}, {})

    with pytest.raises(dataclasses.FrozenInstanceError):
        event.name = "B"  # type: ignore[misc]
    assert dataclasses.replace(event, name="B") == EventFact("m1", "track", "B", NOW, {"a": 1}, {})
