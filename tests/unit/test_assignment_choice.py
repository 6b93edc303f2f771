"""Who gets the next MQL, decided over plain facts: rotation, weights, caps, territories."""

from collections.abc import Mapping, Sequence
from fractions import Fraction

from handoff.assignment import (
    RepFacts,
    Rotation,
    Territory,
    candidates_for,
    rep_choose,
    territory_matches,
)


def picks(
    reps: Sequence[RepFacts],
    n: int,
    *,
    state: Rotation | None = None,
    country: str | None = None,
    employees: int | None = None,
    open_counts: Mapping[int, int] | None = None,
) -> tuple[list[int | None], Rotation]:
    """n leads in a row; each chosen rep has one more open MQL; the ids and the final state."""
    state = state or Rotation()
    counts = dict(open_counts or {})
    chosen: list[int | None] = []
    for _ in range(n):
        rep, state = rep_choose(
            reps,
            lead_country=country,
            lead_employees=employees,
            state=state,
            open_counts=counts,
        )
        chosen.append(rep)
        if rep is not None:
            counts[rep] = counts.get(rep, 0) + 1
    return chosen, state


def ids(reps: Sequence[RepFacts]) -> list[int]:
    return [r.id for r in reps]


# --- rotation --------------------------------------------------------------------------------


def test_equal_weights_are_plain_round_robin_in_id_order():
    reps = [RepFacts(id=30), RepFacts(id=10), RepFacts(id=20)]
    chosen, state = picks(reps, 7)
    assert chosen == [10, 20, 30, 10, 20, 30, 10]
    assert state == Rotation(
        clock=Fraction(2), finish={10: Fraction(3), 20: Fraction(2), 30: Fraction(2)}
    )


def test_weights_two_to_one_over_six_picks():
    # hand-computed: finish times heavy 1/2, 1, 3/2, 2 and light 1, 2; ties go to the rep
    # whose turn started earlier (smaller start), then to the smaller id
    heavy, light = RepFacts(id=1, weight=2), RepFacts(id=2, weight=1)
    chosen, state = picks([heavy, light], 6)
    assert chosen == [1, 2, 1, 1, 2, 1]
    assert chosen.count(1) == 4
    assert chosen.count(2) == 2
    assert state == Rotation(clock=Fraction(2), finish={1: Fraction(2), 2: Fraction(2)})


def test_a_weight_below_one_counts_as_one():
    chosen, _ = picks([RepFacts(id=1, weight=0), RepFacts(id=2, weight=1)], 4)
    assert chosen == [1, 2, 1, 2]


def test_a_rep_who_was_away_rejoins_at_the_current_virtual_time_without_a_flood():
    a, away = RepFacts(id=1), RepFacts(id=2, available=False)
    chosen, state = picks([a, away], 4)
    assert chosen == [1, 1, 1, 1]
    # the away rep is not in the rotation at all while away
    assert state == Rotation(clock=Fraction(4), finish={1: Fraction(4)})

    back = RepFacts(id=2)
    chosen, state = picks([a, back], 4, state=state)
    # the returning rep starts at V = 4, a tie with a broken by id: turns, not four in a row
    assert chosen == [1, 2, 1, 2]
    assert state == Rotation(clock=Fraction(6), finish={1: Fraction(6), 2: Fraction(6)})


def test_a_stale_finish_time_from_before_an_absence_is_lifted_to_the_clock():
    # rep 2 last had a lead at virtual time 1; the rotation has moved on to 10 since
    state = Rotation(clock=Fraction(10), finish={1: Fraction(10), 2: Fraction(1)})
    chosen, _ = picks([RepFacts(id=1), RepFacts(id=2)], 4, state=state)
    assert chosen == [1, 2, 1, 2]


def test_a_new_rep_starts_at_the_clock():
    state = Rotation(clock=Fraction(5), finish={1: Fraction(5)})
    rep, after = rep_choose(
        [RepFacts(id=1), RepFacts(id=9)],
        lead_country=None,
        lead_employees=None,
        state=state,
        open_counts={},
    )
    assert rep == 1
    assert after == Rotation(clock=Fraction(5), finish={1: Fraction(6), 9: Fraction(5)})


def test_the_state_given_is_left_as_it_was():
    finish = {1: Fraction(3), 2: Fraction(1)}
    state = Rotation(clock=Fraction(2), finish=finish)
    rep_choose(
        [RepFacts(id=1), RepFacts(id=2)],
        lead_country=None,
        lead_employees=None,
        state=state,
        open_counts={},
    )
    assert state == Rotation(clock=Fraction(2), finish={1: Fraction(3), 2: Fraction(1)})
    assert finish == {1: Fraction(3), 2: Fraction(1)}


def test_the_rotation_round_trips_through_the_cursor_json():
    stored = {"V": "3/2", "v": {"7": "5/2", "12": "3/2"}}
    state = Rotation.from_json(stored)
    assert state == Rotation(clock=Fraction(3, 2), finish={7: Fraction(5, 2), 12: Fraction(3, 2)})
    assert state.to_json() == stored
    assert Rotation.from_json({}) == Rotation(clock=Fraction(0), finish={})
    assert Rotation.from_json(None) == Rotation()
    assert Rotation().to_json() == {"V": "0", "v": {}}


# --- caps ------------------------------------------------------------------------------------


def test_caps_on_open_mqls_skip_a_full_rep_and_then_nobody_is_left():
    a, b = RepFacts(id=1, max_open_mqls=1), RepFacts(id=2, max_open_mqls=2)
    chosen, state = picks([a, b], 4)
    assert chosen == [1, 2, 2, None]
    assert state == Rotation(clock=Fraction(2), finish={1: Fraction(1), 2: Fraction(2)})
    # rep 1's MQL was accepted: a free slot, and rep 1 is next
    chosen, _ = picks([a, b], 1, state=state, open_counts={1: 0, 2: 2})
    assert chosen == [1]


def test_open_mqls_already_at_the_cap_count_from_the_first_pick():
    a, b = RepFacts(id=1, max_open_mqls=3), RepFacts(id=2, max_open_mqls=3)
    chosen, _ = picks([a, b], 3, open_counts={1: 3, 2: 1})
    assert chosen == [2, 2, None]


def test_a_cap_of_zero_gets_nothing_and_no_cap_has_no_limit():
    zero, free = RepFacts(id=1, max_open_mqls=0), RepFacts(id=2, max_open_mqls=None)
    chosen, _ = picks([zero, free], 3, open_counts={2: 500})
    assert chosen == [2, 2, 2]


# --- territories -----------------------------------------------------------------------------

JP_LARGE = RepFacts(id=1, territories=(Territory(countries=("JP",), employees_min=1000),))
JP_SMALL = RepFacts(id=2, territories=(Territory(countries=("jp",), employees_max=999),))
REST = RepFacts(id=3)
TEAM = [JP_LARGE, JP_SMALL, REST]


def test_territory_country_is_case_and_space_insensitive():
    rule = Territory(countries=(" Jp ", "US"))
    assert territory_matches(rule, country="jp", employees=None) is True
    assert territory_matches(rule, country="JP ", employees=None) is True
    assert territory_matches(rule, country="us", employees=None) is True
    assert territory_matches(rule, country="DE", employees=None) is False
    assert territory_matches(rule, country="", employees=None) is False
    assert territory_matches(rule, country=None, employees=None) is False


def test_territory_employee_band_is_inclusive_and_needs_a_known_size():
    band = Territory(employees_min=100, employees_max=999)
    assert [territory_matches(band, country="JP", employees=n) for n in (99, 100, 999, 1000)] == [
        False,
        True,
        True,
        False,
    ]
    assert territory_matches(band, country="JP", employees=None) is False
    assert territory_matches(Territory(employees_min=1000), country="", employees=10**6) is True
    assert territory_matches(Territory(employees_max=10), country="", employees=0) is True


def test_a_rule_without_countries_or_band_covers_every_lead():
    assert territory_matches(Territory(), country=None, employees=None) is True


def test_territories_by_country_and_employees_band():
    assert picks(TEAM, 2, country="JP", employees=5000)[0] == [1, 1]
    assert picks(TEAM, 1, country="jp", employees=1000)[0] == [1]
    assert picks(TEAM, 1, country="JP", employees=999)[0] == [2]
    assert picks(TEAM, 1, country="Jp", employees=50)[0] == [2]


def test_a_lead_of_unknown_size_or_another_country_goes_to_the_reps_without_territories():
    assert picks(TEAM, 1, country="JP", employees=None)[0] == [3]
    assert picks(TEAM, 2, country="US", employees=5000)[0] == [3, 3]
    assert picks(TEAM, 1, country=None, employees=None)[0] == [3]


def test_a_covered_lead_never_goes_to_the_reps_without_territories():
    assert ids(candidates_for(TEAM, country="JP", employees=5000)) == [1]
    assert ids(candidates_for(TEAM, country="US", employees=5000)) == [3]


def test_any_of_a_reps_territories_covers_the_lead():
    both = RepFacts(id=4, territories=(Territory(countries=("US",)), Territory(countries=("DE",))))
    assert ids(candidates_for([both, REST], country="de", employees=None)) == [4]
    assert ids(candidates_for([both, REST], country="FR", employees=None)) == [3]


def test_an_uncovered_lead_with_no_rep_free_of_territories_goes_to_the_pool():
    assert candidates_for([JP_LARGE, JP_SMALL], country="US", employees=5000) == []
    assert picks([JP_LARGE, JP_SMALL], 1, country="US", employees=5000)[0] == [None]


def test_the_territory_rep_full_means_the_pool_not_the_fallback():
    # the territory decides first, then the cap: a full territory rep does not hand over
    full = RepFacts(id=1, max_open_mqls=0, territories=(Territory(countries=("JP",)),))
    assert picks([full, REST], 1, country="JP")[0] == [None]


def test_a_stored_territory_rule_becomes_a_territory():
    assert Territory.of(
        {"countries": ["JP", "KR"], "employees_min": 50, "employees_max": None}
    ) == Territory(countries=("JP", "KR"), employees_min=50, employees_max=None)
    assert Territory.of({"countries": None}) == Territory()
    assert Territory.of({}) == Territory()


# --- nobody, exclude -------------------------------------------------------------------------


def test_nobody_available_leaves_the_lead_in_the_pool_and_the_state_untouched():
    state = Rotation(clock=Fraction(3), finish={1: Fraction(3)})
    away = [RepFacts(id=1, available=False), RepFacts(id=2, available=False)]
    assert rep_choose(away, lead_country="JP", lead_employees=10, state=state, open_counts={}) == (
        None,
        state,
    )
    assert rep_choose([], lead_country=None, lead_employees=None, state=state, open_counts={}) == (
        None,
        state,
    )


def test_an_excluded_rep_is_skipped_and_keeps_their_place():
    reps = [RepFacts(id=1), RepFacts(id=2), RepFacts(id=3)]
    rep, state = rep_choose(
        reps,
        lead_country=None,
        lead_employees=None,
        state=Rotation(),
        open_counts={},
        exclude=[1],
    )
    assert rep == 2
    assert state == Rotation(clock=Fraction(0), finish={2: Fraction(1), 3: Fraction(0)})


def test_excluding_every_available_rep_leaves_the_pool():
    reps = [RepFacts(id=1), RepFacts(id=2, available=False)]
    assert rep_choose(
        reps,
        lead_country=None,
        lead_employees=None,
        state=Rotation(),
        open_counts={},
        exclude={1},
    ) == (None, Rotation())
