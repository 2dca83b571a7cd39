"""Charity: members donate points, and the business pledges impact per purchase.

A donation turns points into money at the charity's rate (rounded down, like every points to
money conversion); the ledger moves the points to the charity's account. A pledge ("a tree
planted per order") costs the business money, never the member's points.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from fidela.kernel.clock import ensure_utc
from fidela.kernel.errors import FieldProblem
from fidela.kernel.money import CurrencyMismatch, Money, UnknownCurrency, parse_currency
from fidela.reward.rules.catalogue import (
    SLUG,
    LimitPeriod,
    points_value,
    valid_timezone,
)
from fidela.reward.rules.errors import (
    DonationLimitReached,
    InvalidCharity,
    InvalidPointsAmount,
    PointsShort,
)
from fidela.reward.rules.redemption import period_start


@dataclass(frozen=True)
class Charity:
    code: str
    name: str
    currency: str
    value_per_point: Decimal  # major units of ``currency`` the business pays per point
    minimum_points: int = 1
    multiple_of: int = 1
    daily_limit_points: int | None = None  # per member, per day in ``timezone``
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        problems = []
        if not SLUG.match(self.code):
            problems.append(FieldProblem("/code", "lower-case letters, digits, '-' or '_'"))
        if not self.name.strip():
            problems.append(FieldProblem("/name", "required"))
        problems += _currency_problems(self.currency)
        if not self.value_per_point > 0:
            problems.append(FieldProblem("/value_per_point", "greater than 0"))
        if self.multiple_of < 1:
            problems.append(FieldProblem("/multiple_of", "at least 1"))
        elif self.minimum_points < 1 or self.minimum_points % self.multiple_of:
            problems.append(
                FieldProblem("/minimum_points", "at least 1, a multiple of multiple_of")
            )
        if self.daily_limit_points is not None and self.daily_limit_points < self.minimum_points:
            problems.append(FieldProblem("/daily_limit_points", "at least minimum_points"))
        if not valid_timezone(self.timezone):
            problems.append(FieldProblem("/timezone", "unknown IANA timezone"))
        if problems:
            raise InvalidCharity("; ".join(f"{p.pointer}: {p.message}" for p in problems), problems)


@dataclass(frozen=True)
class Donation:
    at: datetime
    points: int


@dataclass(frozen=True)
class DonationPlan:
    charity_code: str
    points: int  # moved from the member's lots to the charity's account
    value: Money  # what the business owes the charity


@dataclass(frozen=True)
class Pledge:
    """``units_per_order`` units of ``impact`` per qualifying order, or per full ``per_amount``
    spent when set ("a tree per 50 €"). ``budget`` caps the total cost of the pledge."""

    code: str
    charity_code: str
    impact: str  # "tree", "meal", "m² of reef"
    units_per_order: int
    unit_cost: Money
    per_amount: Money | None = None
    min_order: Money | None = None
    budget: Money | None = None
    available_from: datetime | None = None
    available_until: datetime | None = None  # exclusive

    def __post_init__(self) -> None:
        problems = []
        if not SLUG.match(self.code):
            problems.append(FieldProblem("/code", "lower-case letters, digits, '-' or '_'"))
        if not SLUG.match(self.charity_code):
            problems.append(FieldProblem("/charity", "a charity code"))
        if not self.impact.strip():
            problems.append(FieldProblem("/impact", "required, e.g. tree"))
        if self.units_per_order < 1:
            problems.append(FieldProblem("/units_per_order", "at least 1"))
        if self.unit_cost.minor < 1:
            problems.append(FieldProblem("/unit_cost_minor", "at least 1"))
        for name, value, minimum in (
            ("per_amount", self.per_amount, 1),
            ("min_order", self.min_order, 0),
            ("budget", self.budget, 1),
        ):
            if value is not None and value.currency != self.unit_cost.currency:
                problems.append(FieldProblem(f"/{name}_minor", "in the pledge's currency"))
            elif value is not None and value.minor < minimum:
                problems.append(FieldProblem(f"/{name}_minor", f"at least {minimum}"))
        start, end = self.available_from, self.available_until
        if any(value is not None and value.utcoffset() is None for value in (start, end)):
            problems.append(FieldProblem("/available_from", "timezone-aware instants"))
        elif start is not None and end is not None and end <= start:
            problems.append(FieldProblem("/available_until", "after available_from"))
        if problems:
            raise InvalidCharity("; ".join(f"{p.pointer}: {p.message}" for p in problems), problems)


@dataclass(frozen=True)
class PledgeOutcome:
    units: int
    cost: Money
    detail: str


def plan_donation(
    charity: Charity,
    *,
    points: int,
    available_points: int,
    history: Sequence[Donation],
    now: datetime,
) -> DonationPlan:
    """Check a donation of ``points`` and value it. ``history``: the member's past donations
    (to any charity); only those of the current day in the charity's timezone count."""
    now = ensure_utc(now)
    if points < charity.minimum_points or points % charity.multiple_of:
        rule = f"at least {charity.minimum_points}, in multiples of {charity.multiple_of}"
        raise InvalidPointsAmount(f"donate {rule}", [FieldProblem("/points", rule)])
    if points > available_points:
        raise PointsShort(f"{points} points asked, {available_points} available")
    if charity.daily_limit_points is not None:
        start = period_start(LimitPeriod.DAY, now, ZoneInfo(charity.timezone))
        today = sum(d.points for d in history if start is not None and d.at >= start)
        if today + points > charity.daily_limit_points:
            left = max(0, charity.daily_limit_points - today)
            raise DonationLimitReached(f"{left} more points can be donated today")
    return DonationPlan(
        charity.code, points, points_value(points, charity.value_per_point, charity.currency)
    )


def pledge_for_order(
    pledge: Pledge, *, order_total: Money, ordered_at: datetime, committed: Money
) -> PledgeOutcome:
    """Units of impact an order triggers and their cost to the business.

    ``committed`` is what the pledge has cost so far; the units are cut to what the remaining
    budget pays for in full, so the budget is never exceeded. Refunded orders keep their units:
    the impact is bought when the order is settled (run this after the return window).
    """
    ordered_at = ensure_utc(ordered_at)
    currency = pledge.unit_cost.currency
    if order_total.currency != currency or committed.currency != currency:
        raise CurrencyMismatch(f"pledge {pledge.code} is in {currency}")
    zero = Money(0, currency)
    if pledge.available_from is not None and ordered_at < pledge.available_from:
        return PledgeOutcome(0, zero, "the pledge had not started")
    if pledge.available_until is not None and ordered_at >= pledge.available_until:
        return PledgeOutcome(0, zero, "the pledge has ended")
    if pledge.min_order is not None and order_total.minor < pledge.min_order.minor:
        return PledgeOutcome(0, zero, f"orders from {pledge.min_order} qualify")
    units = pledge.units_per_order
    if pledge.per_amount is not None:
        units *= order_total.minor // pledge.per_amount.minor
    detail = f"{units} {pledge.impact}(s)"
    if pledge.budget is not None:
        affordable = max(0, pledge.budget.minor - committed.minor) // pledge.unit_cost.minor
        if affordable < units:
            units, detail = affordable, f"{affordable} {pledge.impact}(s): the budget is spent"
    return PledgeOutcome(units, Money(units * pledge.unit_cost.minor, currency), detail)


def _currency_problems(currency: str) -> list[FieldProblem]:
    try:
        parse_currency(currency)
    except UnknownCurrency:
        return [FieldProblem("/currency", "an ISO 4217 currency")]
    return []
