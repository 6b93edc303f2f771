"""What a set of rules can read: which events and fields a score depends on, to load less."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from scoring.engine.conditions import event_key, name_key
from scoring.engine.facts import EventFact, Rule

__all__ = ["EVERY_EVENT", "Needs", "changes_with_time", "definition", "needs", "project"]

# Event types a score can see; identify/group/alias calls never match a rule.
EVERY_EVENT: Final = ("track", "page", "screen")

_Paths = frozenset[tuple[str, ...]]
_NEVER: Final = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Needs:
    """The part of a lead's facts that `evaluate(facts, rules)` can read.

    `keys` are event keys (`name_key`) the rules select; `every_event` means any scored
    event matters (an inactivity rule without a watch list). `properties` / `context` are
    the paths conditions read (minimal: no path has another as prefix); None means the
    whole object. `lead_fields` are the fit fields (`traits.*` included) conditions read.
    """

    every_event: bool = False
    keys: frozenset[str] = frozenset()
    properties: _Paths | None = frozenset()
    context: _Paths | None = frozenset()
    lead_fields: frozenset[str] = frozenset()

    @property
    def events(self) -> bool:
        """True when any event can change the score."""
        return self.every_event or bool(self.keys)

    def wants(self, event: EventFact) -> bool:
        """True when `event` can matter to the rules."""
        return self.wants_kind(event.type, event.name)

    def wants_kind(self, type_: str, name: str) -> bool:
        """True when an event of this type and name can matter to the rules."""
        if self.every_event:
            return type_ in EVERY_EVENT
        key = event_key(EventFact("", type_, name, _NEVER))
        return key is not None and key in self.keys


def _numeric(segment: str) -> bool:
    # A database JSON path reads "0" or "-1" as an array index, the engine never does:
    # rules with such paths load the whole object so both agree.
    return segment.strip().lstrip("+-").isdigit()


def _minimal(paths: Iterable[tuple[str, ...]]) -> _Paths:
    ordered = sorted(set(paths), key=len)
    kept: list[tuple[str, ...]] = []
    for path in ordered:
        if not any(path[: len(prefix)] == prefix for prefix in kept):
            kept.append(path)
    return frozenset(kept)


def needs(rules: Iterable[Rule]) -> Needs:
    """The events and fields the active `rules` can read."""
    every_event = False
    keys: set[str] = set()
    paths: dict[str, set[tuple[str, ...]]] = {"properties": set(), "context": set()}
    whole: set[str] = set()
    lead_fields: set[str] = set()
    for rule in rules:
        if not rule.active:
            continue
        if rule.kind == "fit":
            lead_fields.update(c.field for c in rule.conditions)
            continue
        if rule.kind == "behavior" and rule.event:
            keys.add(name_key(rule.event))
        elif rule.kind == "inactivity":
            if rule.after_event:
                keys.add(name_key(rule.after_event))
            if rule.watch_events:
                keys.update(name_key(name) for name in rule.watch_events)
            else:
                every_event = True
        for condition in rule.conditions:
            head, _, rest = condition.field.partition(".")
            if head not in paths:
                continue
            path = tuple(rest.split("."))
            if any(_numeric(part) for part in path):
                whole.add(head)
            else:
                paths[head].add(path)
    return Needs(
        every_event=every_event,
        keys=frozenset(keys),
        properties=None if "properties" in whole else _minimal(paths["properties"]),
        context=None if "context" in whole else _minimal(paths["context"]),
        lead_fields=frozenset(lead_fields),
    )


_ABSENT: Final = object()


def _lookup(root: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = root
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return _ABSENT
        node = node[part]
    return node


def _reduce(root: Mapping[str, Any], paths: _Paths | None) -> Mapping[str, Any]:
    """Keep only `paths` of `root` (nested as they were); None keeps everything."""
    if paths is None:
        return root
    reduced: dict[str, Any] = {}
    for path in paths:
        value = _lookup(root, path)
        if value is _ABSENT or value is None:  # the engine reads JSON null as missing
            continue
        node = reduced
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return reduced


def project(event: EventFact, plan: Needs) -> EventFact | None:
    """`event` reduced to what the rules read, or None when no rule can see it."""
    if not plan.wants(event):
        return None
    return dataclasses.replace(
        event,
        properties=_reduce(event.properties, plan.properties),
        context=_reduce(event.context, plan.context),
    )


def definition(rule: Rule) -> Rule:
    """The rule without its identity (id, name): equal definitions score equally."""
    return dataclasses.replace(rule, id=0, name="")


def changes_with_time(rules: Iterable[Rule]) -> bool:
    """True when a score under `rules` can change without new events (fading, inactivity)."""
    return any(
        rule.active
        and (
            rule.kind == "inactivity"
            or rule.half_life_days is not None
            or rule.expire_after_days is not None
        )
        for rule in rules
    )
