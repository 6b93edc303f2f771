"""Hooks the core calls so the apps above it keep their own rows: the core never writes them.

Each app registers its functions in its AppConfig.ready() (in INSTALLED_APPS order). The core
calls them inside its own transaction, so a lead created, changed, merged or erased is so in
every app at once, or in none.

- `leads_created(ids)`: new leads; each app creates its one row per lead.
- `leads_changed(ids, bulk=)`: events stored or lead data changed; scoring queues the leads.
  `bulk`: a back-fill changed them (a large batch, a CSV import): work for them may wait
  behind the leads that live traffic changed.
- `lead_merge_prefer(a, b)`: which of two leads to keep, when an app has a reason (handoff:
  the one sales already works); None when it has none.
- `lead_merged(into=, duplicate=)`: before the duplicate is deleted; each app moves (or
  drops) its own rows of the duplicate onto the survivor, and returns what the duplicate
  held with it (stage, owner, score) for the merge record.
- `lead_unmerged(into=, restored=, held=)`: an admin undid a merge; the restored lead exists
  again (with each app's row from `leads_created`); each app moves back the rows it moved
  (`held` is the merge record's data, with what its `lead_merged` returned).
- `lead_erased(id)`: each app erases the personal data it holds; returns counts for the record.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _Registry:
    created: list[Callable[[list[int]], None]] = field(default_factory=list)
    changed: list[Callable[..., None]] = field(default_factory=list)
    prefer: list[Callable[[int, int], int | None]] = field(default_factory=list)
    merged: list[Callable[..., dict[str, Any]]] = field(default_factory=list)
    unmerged: list[Callable[..., None]] = field(default_factory=list)
    erased: list[Callable[[int], dict[str, int]]] = field(default_factory=list)


_registry = _Registry()


def register(
    *,
    created: Callable[[list[int]], None] | None = None,
    changed: Callable[..., None] | None = None,
    prefer: Callable[[int, int], int | None] | None = None,
    merged: Callable[..., dict[str, Any]] | None = None,
    unmerged: Callable[..., None] | None = None,
    erased: Callable[[int], dict[str, int]] | None = None,
) -> None:
    """Register an app's hooks; registering the same function twice has no effect."""
    for hook, slot in (
        (created, _registry.created),
        (changed, _registry.changed),
        (prefer, _registry.prefer),
        (merged, _registry.merged),
        (unmerged, _registry.unmerged),
        (erased, _registry.erased),
    ):
        if hook is not None and hook not in slot:
            slot.append(hook)  # type: ignore[arg-type]


def leads_created(lead_ids: Iterable[int]) -> None:
    ids = sorted(set(lead_ids))
    if ids:
        for hook in _registry.created:
            hook(ids)


def leads_changed(lead_ids: Iterable[int], *, bulk: bool = False) -> None:
    ids = sorted(set(lead_ids))
    if ids:
        for hook in _registry.changed:
            hook(ids, bulk=bulk)


def lead_merge_prefer(a: int, b: int) -> int | None:
    for hook in _registry.prefer:
        preferred = hook(a, b)
        if preferred is not None:
            return preferred
    return None


def lead_merged(*, into: int, duplicate: int) -> dict[str, Any]:
    held: dict[str, Any] = {}
    for hook in _registry.merged:
        held.update(hook(into=into, duplicate=duplicate))
    return held


def lead_unmerged(*, into: int | None, restored: int, held: dict[str, Any]) -> None:
    for hook in _registry.unmerged:
        hook(into=into, restored=restored, held=held)


def lead_erased(lead_id: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for hook in _registry.erased:
        counts.update(hook(lead_id))
    return counts
