"""Which pending window each award's points get: one lot per distinct hold.

A rule may carry its own ``hold`` (a purchase's base points held for the 30-day return
window, its signup bonus credited at once, a delivery-dependent bonus held until
``custom.delivered``); without one it takes the default the caller passes (the programme's
hold for purchases, none for member events). An event whose awards carry different holds
becomes one lot per hold, each naming the rules that earned it, so a return, an activation
or an expiry acts on exactly the points it concerns.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fidela.ledger.rules import Hold, HoldKind
from fidela.loyalty.rules.awards import Award
from fidela.loyalty.rules.definitions import RuleSet


@dataclass(frozen=True)
class HeldPoints:
    """``points`` earned under ``hold`` by ``awards`` (in precedence order)."""

    hold: Hold
    points: int
    awards: tuple[Award, ...]

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(award.rule_id for award in self.awards)


def hold_of(rule_set: RuleSet, rule_id: str, default: Hold) -> Hold:
    """The hold of rule ``rule_id``'s points: its own, else ``default``."""
    rule = next((rule for rule in rule_set.awarding if rule.id == rule_id), None)
    return rule.hold if rule is not None and rule.hold is not None else default


def split_by_hold(
    rule_set: RuleSet, awards: Iterable[Award], default: Hold
) -> tuple[HeldPoints, ...]:
    """The awarded points grouped by hold, in order of each hold's first award; awards of no
    points (a reward-only punch card, a capped-out rule) are left out. The parts add up to
    the evaluation's total."""
    own = {rule.id: rule.hold for rule in rule_set.awarding}
    groups: dict[Hold, list[Award]] = {}
    for award in awards:
        if award.points > 0:
            groups.setdefault(own.get(award.rule_id) or default, []).append(award)
    return tuple(
        HeldPoints(hold, sum(award.points for award in mine), tuple(mine))
        for hold, mine in groups.items()
    )


def lot_key(key: str, hold: Hold, default: Hold) -> str:
    """The idempotency key of the lot under ``hold`` of the event keyed ``key``: the lot
    under the default hold keeps ``key`` itself (the one lot most events have); any other
    gets ``key~<hold>``, stable for the same event and rule set."""
    return key if hold == default else f"{key}~{hold.label}"


def activation_events(rule_set: RuleSet | None, default: Hold) -> frozenset[str]:
    """Every event type that activates held points: the default hold's and the rules'."""
    holds = [default] + [rule.hold for rule in (rule_set.awarding if rule_set else ()) if rule.hold]
    return frozenset(
        hold.event for hold in holds if hold.kind is HoldKind.EVENT and hold.event is not None
    )
