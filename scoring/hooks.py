"""Hooks scoring calls so that the app above it (handoff) hears of new scores ("scores
changed") without scoring knowing it: registered in that app's AppConfig.ready().

- `scores_computed(ids, bulk=...)`: inside scoring's transaction, the leads whose score was
  just computed from new events or data (and, for the hourly refresh, those whose score or
  fit rose: time only ever lowering a score cannot make it newly pass a threshold); `bulk`:
  a back-fill's leads (a large batch, an import), which the app above may take in larger
  batches.
- `rules_published()`: after a re-score job's rules went live (every score may have moved).
"""

from collections.abc import Callable, Iterable

_computed: list[Callable[..., None]] = []
_published: list[Callable[[], None]] = []


def register(
    *,
    computed: Callable[..., None] | None = None,
    published: Callable[[], None] | None = None,
) -> None:
    if computed is not None and computed not in _computed:
        _computed.append(computed)
    if published is not None and published not in _published:
        _published.append(published)


def scores_computed(lead_ids: Iterable[int], *, bulk: bool = False) -> None:
    ids = sorted(set(lead_ids))
    if ids:
        for hook in _computed:
            hook(ids, bulk=bulk)


def rules_published() -> None:
    for hook in _published:
        hook()
