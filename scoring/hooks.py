"""Hooks scoring calls so that the app above it (handoff) hears of new scores ("scores
changed") without scoring knowing it: registered in that app's AppConfig.ready().

- `scores_computed(ids)`: inside scoring's transaction, the leads whose score was just
  computed from new events or data (and, for the hourly refresh, those whose score or fit
  rose: time only ever lowering a score cannot make it newly pass a threshold).
- `rules_published()`: after a re-score job's rules went live (every score may have moved).
"""

from collections.abc import Callable, Iterable

_computed: list[Callable[[list[int]], None]] = []
_published: list[Callable[[], None]] = []


def register(
    *,
    computed: Callable[[list[int]], None] | None = None,
    published: Callable[[], None] | None = None,
) -> None:
    if computed is not None and computed not in _computed:
        _computed.append(computed)
    if published is not None and published not in _published:
        _published.append(published)


def scores_computed(lead_ids: Iterable[int]) -> None:
    ids = sorted(set(lead_ids))
    if ids:
        for hook in _computed:
            hook(ids)


def rules_published() -> None:
    for hook in _published:
        hook()
