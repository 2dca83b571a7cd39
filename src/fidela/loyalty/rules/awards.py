"""What an evaluation decides: awards, punch card progress, their cost, the counters used."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

from fidela.loyalty.rules.counters import Counters
from fidela.loyalty.rules.definitions import RuleKind
from fidela.loyalty.rules.periods import Period


class CapKind(StrEnum):
    RULE_CAP = "rule_cap"  # the rule's own per-member cap for a period
    MEMBER_CAP = "member_cap"  # the programme-wide per-member cap for a period
    BUDGET = "budget"  # the rule's total budget across all members
    LIMIT = "limit"  # the rule's "N times per period" limit


@dataclass(frozen=True)
class CapHit:
    """A cap that reduced an award: its ``limit`` and what was ``left`` before the award
    (points, or for :attr:`CapKind.LIMIT` the number of awards)."""

    kind: CapKind
    period: Period | None
    limit: int
    left: int


@dataclass(frozen=True)
class Award:
    """Points (and/or rewards) one rule grants for one event.

    ``points`` is after caps, ``uncapped_points`` before; ``capped_by`` lists every cap that
    bit (empty when none did). ``lines`` and ``amount_minor`` say what the award applied to
    (line numbers, and the eligible amount in minor units before any points-payment share).
    """

    rule_id: str
    kind: RuleKind
    points: int
    uncapped_points: int
    reason: str
    lines: tuple[int, ...] = ()
    amount_minor: int = 0
    reward: str | None = None
    reward_count: int = 0
    reward_cost_minor: int = 0  # the cost of the rewards granted, in minor units
    capped_by: tuple[CapHit, ...] = ()

    @property
    def capped(self) -> bool:
        return bool(self.capped_by)


@dataclass(frozen=True)
class PunchProgress:
    """Where a punch card stands after the event: ``punches`` counted in all, of which
    ``in_card`` on the current card of ``every``; ``completed`` cards finished now."""

    rule_id: str
    punches: int
    every: int
    added: int
    completed: int

    @property
    def in_card(self) -> int:
        return self.punches % self.every

    @property
    def to_go(self) -> int:
        return self.every - self.in_card


def points_cost_minor(points: int, cost_per_point_minor: Decimal) -> int:
    """What ``points`` cost in minor units, rounded half-even once (never per point)."""
    return int((cost_per_point_minor * points).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


@dataclass(frozen=True)
class Evaluation:
    """The result of evaluating one event. Nothing is written: the service persists it.

    ``usage`` is the delta to add to the member's counters (and the programme's budgets).
    ``cost_minor`` values all points once at the programme's cost per point, plus the
    rewards' cost; it may differ by a rounding unit from the sum of per-award costs.
    """

    event_id: str
    customer_id: int
    currency: str
    awards: tuple[Award, ...]
    total_points: int
    cost_minor: int
    punch_cards: tuple[PunchProgress, ...] = ()
    usage: Counters = field(default_factory=Counters)

    def award_for(self, rule_id: str) -> Award | None:
        return next((award for award in self.awards if award.rule_id == rule_id), None)
