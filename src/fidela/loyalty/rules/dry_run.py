"""Dry runs: what a rule set would have issued, and at what cost, without writing anything.

One event: :func:`~fidela.loyalty.rules.earning.evaluate` is already a dry run (it only
returns a decision). Many events: :func:`replay` plays historical orders and events through
the rule set in time order, carrying each member's counters (caps, limits, punch cards) and
the rules' shared budgets from one event to the next, as the live engine would have.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from fidela.kernel.errors import InvalidInput
from fidela.loyalty.rules.awards import Award, points_cost_minor
from fidela.loyalty.rules.counters import Counters
from fidela.loyalty.rules.definitions import RuleKind, RuleSet
from fidela.loyalty.rules.earning import evaluate
from fidela.loyalty.rules.inputs import Event, Member


@dataclass(frozen=True)
class RuleTotals:
    """What one rule would have issued over the replay.

    ``awards`` counts awards that granted something; ``capped`` counts awards a cap reduced
    (possibly to nothing); ``cost_minor`` values the rule's points once, plus its rewards.
    """

    rule_id: str
    kind: RuleKind
    awards: int = 0
    points: int = 0
    uncapped_points: int = 0
    capped: int = 0
    rewards: int = 0
    cost_minor: int = 0


@dataclass(frozen=True)
class Rejected:
    """An event the engine refused (wrong currency, bad timezone...), with the error's code."""

    event_id: str
    code: str
    detail: str


@dataclass(frozen=True)
class ReplayReport:
    """Totals of a replay. ``cost_minor`` is in minor units of ``currency``; the final
    ``counters`` per member and ``budget_used`` per rule are what the replay ended with."""

    currency: str
    events: int
    members: int
    rules: tuple[RuleTotals, ...]
    total_points: int
    cost_minor: int
    rejected: tuple[Rejected, ...] = ()
    counters: Mapping[int, Counters] = field(default_factory=dict)
    budget_used: Mapping[str, int] = field(default_factory=dict)

    def for_rule(self, rule_id: str) -> RuleTotals:
        return next(totals for totals in self.rules if totals.rule_id == rule_id)


@dataclass
class _Tally:
    """A rule's running totals during one replay (local to the call, never shared)."""

    awards: int = 0
    points: int = 0
    uncapped_points: int = 0
    capped: int = 0
    rewards: int = 0
    reward_cost_minor: int = 0

    def add(self, award: Award) -> None:
        self.awards += award.points > 0 or award.reward_count > 0
        self.points += award.points
        self.uncapped_points += award.uncapped_points
        self.capped += award.capped
        self.rewards += award.reward_count
        self.reward_cost_minor += award.reward_cost_minor


def replay(
    rule_set: RuleSet,
    history: Iterable[tuple[Event, Member]],
    *,
    starting: Mapping[int, Counters] | None = None,
    budget_used: Mapping[str, int] | None = None,
) -> ReplayReport:
    """Evaluate every ``(event, member)`` of ``history`` in ``occurred_at`` order.

    ``starting`` holds each member's counters before the first event (default: nothing
    used), ``budget_used`` the rules' programme-wide usage. An event the engine refuses is
    reported in ``rejected`` and the replay goes on. Points are ints, costs minor units.
    """
    ordered = sorted(history, key=lambda item: item[0].occurred_at)  # stable on equal times
    members: dict[int, Counters] = dict(starting or {})
    budgets: dict[str, int] = dict(budget_used or {})
    tallies: dict[str, _Tally] = defaultdict(_Tally)
    rejected: list[Rejected] = []
    earners: set[int] = set()
    evaluated = 0
    for event, member in ordered:
        mine = members.get(event.customer_id, Counters())
        try:
            result = evaluate(
                rule_set, event, member=member, counters=replace(mine, budget_used=budgets)
            )
        except InvalidInput as error:
            rejected.append(Rejected(event.id, error.code, error.detail))
            continue
        evaluated += 1
        members[event.customer_id] = replace(mine.plus(result.usage), budget_used={})
        budgets = dict(Counters(budget_used=budgets).plus(result.usage).budget_used)
        for award in result.awards:
            tallies[award.rule_id].add(award)
        if result.total_points > 0 or any(award.reward_count for award in result.awards):
            earners.add(event.customer_id)
    rules = tuple(
        RuleTotals(
            rule_id=rule.id,
            kind=rule.kind,
            awards=tally.awards,
            points=tally.points,
            uncapped_points=tally.uncapped_points,
            capped=tally.capped,
            rewards=tally.rewards,
            cost_minor=points_cost_minor(tally.points, rule_set.cost_per_point_minor)
            + tally.reward_cost_minor,
        )
        for rule in rule_set.awarding
        for tally in [tallies[rule.id]]
    )
    total_points = sum(totals.points for totals in rules)
    reward_costs = sum(tallies[rule.id].reward_cost_minor for rule in rule_set.awarding)
    return ReplayReport(
        currency=rule_set.currency,
        events=evaluated,
        members=len(earners),
        rules=rules,
        total_points=total_points,
        cost_minor=points_cost_minor(total_points, rule_set.cost_per_point_minor) + reward_costs,
        rejected=tuple(rejected),
        counters=members,
        budget_used=budgets,
    )
