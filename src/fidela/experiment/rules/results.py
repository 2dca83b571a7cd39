"""An experiment's results: each arm against the control, the split's health and, when asked
for, the winner."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fidela.experiment.rules.errors import InvalidExperiment
from fidela.experiment.rules.statistics import (
    MeanTest,
    Moments,
    ProportionTest,
    RatioCheck,
    chance_to_beat,
    sample_ratio_check,
    two_proportion_test,
    welch_test,
)
from fidela.kernel.errors import FieldProblem


@dataclass(frozen=True)
class ArmData:
    name: str
    weight: float  # the share of recipients the split meant to give this arm
    recipients: int
    conversions: int
    revenue: Moments  # revenue per recipient, in minor units


@dataclass(frozen=True)
class ArmComparison:
    name: str
    recipients: int
    conversion_rate: float
    revenue_per_recipient: float
    conversion: ProportionTest | None
    revenue: MeanTest | None
    chance_to_beat_control: float | None


@dataclass(frozen=True)
class WinnerPolicy:
    alpha: float = 0.05
    min_chance: float = 0.95
    min_recipients: int = 100


@dataclass(frozen=True)
class Results:
    control: str
    arms: tuple[ArmComparison, ...]
    ratio: RatioCheck
    winner: str | None


def compare(
    arms: Sequence[ArmData],
    *,
    control: str,
    confidence: float = 0.95,
    winner_policy: WinnerPolicy | None = None,
) -> Results:
    by_name = {arm.name: arm for arm in arms}
    if control not in by_name:
        raise InvalidExperiment(
            f"the control arm {control!r} has no data",
            [FieldProblem("/control", "not one of the arms")],
        )
    base = by_name[control]
    comparisons: list[ArmComparison] = []
    for arm in arms:
        rate = arm.conversions / arm.recipients if arm.recipients else 0.0
        conversion = revenue = chance = None
        if arm.name != control and arm.recipients and base.recipients:
            conversion = two_proportion_test(
                base.conversions,
                base.recipients,
                arm.conversions,
                arm.recipients,
                confidence=confidence,
            )
            chance = chance_to_beat(
                base.conversions, base.recipients, arm.conversions, arm.recipients
            )
            if arm.revenue.n >= 2 and base.revenue.n >= 2:
                revenue = welch_test(base.revenue, arm.revenue, confidence=confidence)
        comparisons.append(
            ArmComparison(
                arm.name, arm.recipients, rate, arm.revenue.mean, conversion, revenue, chance
            )
        )
    ratio = sample_ratio_check([a.recipients for a in arms], [a.weight for a in arms])
    winner = _winner(comparisons, base, ratio, winner_policy) if winner_policy else None
    return Results(control, tuple(comparisons), ratio, winner)


def _winner(
    comparisons: Sequence[ArmComparison],
    base: ArmData,
    ratio: RatioCheck,
    policy: WinnerPolicy,
) -> str | None:
    """The best-converting arm that beats the control significantly and with enough
    posterior confidence; none while the split itself is suspect (SRM) or data is thin."""
    if ratio.mismatch or base.recipients < policy.min_recipients:
        return None
    candidates = [
        c
        for c in comparisons
        if c.conversion is not None
        and c.recipients >= policy.min_recipients
        and c.conversion.p_value < policy.alpha
        and c.conversion.absolute_lift > 0
        and (c.chance_to_beat_control or 0.0) >= policy.min_chance
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda c: c.conversion_rate).name
