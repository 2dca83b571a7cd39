"""Punch cards: count qualifying purchases and say when a card is full.

Punches are a lifetime count per card; the current card is the count modulo its size, so
no reset is ever written. One order can complete several cards when punches count units
(buying 12 coffees on a card of 10 completes one card and starts the next at 2).
"""

from __future__ import annotations

from collections.abc import Sequence

from fidela.loyalty.rules.awards import PunchProgress
from fidela.loyalty.rules.definitions import PunchCardRule, PunchUnit
from fidela.loyalty.rules.inputs import OrderLine


def punches_for(rule: PunchCardRule, eligible: Sequence[OrderLine]) -> int:
    """Punches a qualifying purchase adds: one per order, or one per unit on eligible lines."""
    if rule.per is PunchUnit.UNIT:
        return sum(line.quantity for line in eligible)
    return 1


def punch(rule: PunchCardRule, *, before: int, added: int) -> PunchProgress:
    """Progress after adding ``added`` punches to ``before``; ``completed`` cards filled now."""
    after = before + added
    completed = after // rule.every - before // rule.every
    return PunchProgress(rule.id, after, rule.every, added, completed)
