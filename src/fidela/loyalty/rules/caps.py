"""Caps, budgets and use limits: how much of an award may actually be granted.

Order of checks for one award (all against the counters used so far, including awards
granted earlier in the same evaluation):

1. the rule's use limit ("N times per period"): reached -> nothing is granted;
2. the rule's per-member caps per period, the rule's budget (all members), and the
   programme's per-member caps per period: the award is reduced to the smallest room left.

Every cap that bites is reported with its limit and the room that was left. A use limit
counts awards that granted something (points or a reward): a review capped to 0 points by a
daily cap does not use up one of the five reviews of the month. Counters are kept only for
the buckets some cap or limit watches, so a cap added mid-month counts from when it exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from fidela.loyalty.rules.awards import CapHit, CapKind
from fidela.loyalty.rules.counters import PROGRAMME, CounterKey, Counters
from fidela.loyalty.rules.definitions import Awarding, Cap
from fidela.loyalty.rules.periods import bucket


@dataclass(frozen=True)
class Grant:
    """What caps allow of an award, and the counters it uses (a delta)."""

    points: int
    reward_count: int
    capped_by: tuple[CapHit, ...] = ()
    usage: Counters = field(default_factory=Counters)


def grant(
    rule: Awarding,
    *,
    points: int,
    reward_count: int,
    used: Counters,
    member_caps: tuple[Cap, ...],
    local: datetime,
) -> Grant:
    """Apply ``rule``'s limit, caps and budget and the programme's ``member_caps`` to an
    award of ``points`` (>= 0) and ``reward_count`` rewards at local time ``local``."""
    limits = rule.limits
    if not (limits.caps or member_caps) and limits.limit is None and limits.budget is None:
        # Nothing limits the award (the usual rule): all of it, no counter used. The same
        # Grant the general path below computes for that case, without building it.
        return Grant(points, reward_count)
    limit_key = None
    if limits.limit is not None:
        limit_key = CounterKey(rule.id, bucket(limits.limit.per, local))
        done = used.awards.get(limit_key, 0)
        if done >= limits.limit.times:
            hit = CapHit(CapKind.LIMIT, limits.limit.per, limits.limit.times, 0)
            return Grant(0, 0, (hit,))

    allowed = points
    hits: list[CapHit] = []
    point_keys: list[CounterKey] = []
    rooms: list[tuple[CapKind, Cap, CounterKey]] = [
        (CapKind.RULE_CAP, cap, CounterKey(rule.id, bucket(cap.period, local)))
        for cap in limits.caps
    ]
    rooms += [
        (CapKind.MEMBER_CAP, cap, CounterKey(PROGRAMME, bucket(cap.period, local)))
        for cap in member_caps
    ]
    for kind, cap, key in rooms:
        point_keys.append(key)
        left = max(0, cap.max_points - used.points.get(key, 0))
        if left < points:
            hits.append(CapHit(kind, cap.period, cap.max_points, left))
        allowed = min(allowed, left)
    if limits.budget is not None:
        left = max(0, limits.budget - used.budget_used.get(rule.id, 0))
        if left < points:
            hits.append(CapHit(CapKind.BUDGET, None, limits.budget, left))
        allowed = min(allowed, left)

    if allowed == 0 and reward_count == 0:
        return Grant(0, 0, tuple(hits))
    usage = Counters(
        points=dict.fromkeys(point_keys, allowed),
        awards={limit_key: 1} if limit_key is not None else {},
        budget_used={rule.id: allowed} if limits.budget is not None else {},
    )
    return Grant(allowed, reward_count, tuple(hits), usage)
