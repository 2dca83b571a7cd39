"""Counters: what a member (and a rule, programme-wide) has already used.

The engine never stores anything. The service loads the counters an event needs (see
:func:`counters_needed`), passes them in, and adds the evaluation's
``usage`` (a delta of the same shape) back in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple, TypeVar

from fidela.loyalty.rules.definitions import PunchCardRule, RuleSet
from fidela.loyalty.rules.inputs import Event, Member
from fidela.loyalty.rules.periods import bucket, local_time

PROGRAMME = "*"  # the scope of programme-wide member caps (all rules together)


class CounterKey(NamedTuple):
    """A rule id (or :data:`PROGRAMME`) and a period bucket such as ``month:2026-11``."""

    scope: str
    bucket: str


K = TypeVar("K")


def _add(left: Mapping[K, int], right: Mapping[K, int]) -> dict[K, int]:
    # A plain loop rather than ``collections.Counter``: this runs several times per event
    # evaluated, mostly with an empty side. Keys keep their order (left's, then right's
    # new ones) and zero sums stay, as ``Counter.update`` does.
    total = dict(left)
    for key, value in right.items():
        total[key] = total.get(key, 0) + value
    return total


@dataclass(frozen=True)
class Counters:
    """Used amounts; also the shape of an evaluation's delta.

    - ``points``: points granted to this member per (rule or programme, bucket), kept only
      for the buckets that some cap watches;
    - ``awards``: awards granted to this member per (rule, bucket), for "N times per
      period" limits;
    - ``punches``: punches counted so far on each punch card (lifetime; progress is the
      count modulo the card size);
    - ``budget_used``: points each rule has issued programme-wide (all members).
    """

    points: Mapping[CounterKey, int] = field(default_factory=dict)
    awards: Mapping[CounterKey, int] = field(default_factory=dict)
    punches: Mapping[str, int] = field(default_factory=dict)
    budget_used: Mapping[str, int] = field(default_factory=dict)

    def plus(self, delta: Counters) -> Counters:
        """These counters with ``delta`` added (keys missing on either side count as 0)."""
        if not (delta.points or delta.awards or delta.punches or delta.budget_used):
            return self  # nothing to add; counters are values, never mutated in place
        return Counters(
            points=_add(self.points, delta.points),
            awards=_add(self.awards, delta.awards),
            punches=_add(self.punches, delta.punches),
            budget_used=_add(self.budget_used, delta.budget_used),
        )


@dataclass(frozen=True)
class CounterNeeds:
    """The counters the service must load before evaluating one event."""

    points: frozenset[CounterKey]
    awards: frozenset[CounterKey]
    punches: frozenset[str]
    budgets: frozenset[str]


_NO_NEEDS = CounterNeeds(frozenset(), frozenset(), frozenset(), frozenset())


def counters_needed(rule_set: RuleSet, event: Event, member: Member) -> CounterNeeds:
    """Keys of every counter an evaluation of ``event`` may read, in the member's calendar."""
    if not rule_set.counts:
        return _NO_NEEDS  # nothing watches a counter: every set below would be empty
    local = local_time(event.occurred_at, member.timezone or rule_set.timezone)
    rules = [rule for rule in rule_set.awarding if rule.concerns(event)]
    points = {
        CounterKey(rule.id, bucket(cap.period, local)) for rule in rules for cap in rule.limits.caps
    }
    if rules:
        points |= {CounterKey(PROGRAMME, bucket(cap.period, local)) for cap in rule_set.member_caps}
    return CounterNeeds(
        points=frozenset(points),
        awards=frozenset(
            CounterKey(rule.id, bucket(rule.limits.limit.per, local))
            for rule in rules
            if rule.limits.limit is not None
        ),
        punches=frozenset(rule.id for rule in rules if isinstance(rule, PunchCardRule)),
        budgets=frozenset(rule.id for rule in rules if rule.limits.budget is not None),
    )
