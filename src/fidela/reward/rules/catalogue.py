"""The reward catalogue as data: what a reward gives, costs, and who may see it when.

A `Reward` validates itself on construction (`InvalidReward` with pointers in the JSON form
that `load_reward` reads), so an invalid reward cannot exist in memory.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fidela.kernel.errors import FieldProblem
from fidela.kernel.money import Money, minor_exponent
from fidela.reward.rules.errors import InvalidReward

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
PREFIX = re.compile(r"^[A-Z0-9]{0,12}$")

_Bad = Callable[[str, str], None]  # records one problem: (pointer, message)


class RewardKind(StrEnum):
    FIXED_VOUCHER = "fixed_voucher"
    PERCENT_VOUCHER = "percent_voucher"
    PAY_WITH_POINTS = "pay_with_points"  # cashback: points become money off an order
    FREE_SHIPPING = "free_shipping"
    FREE_PRODUCT = "free_product"
    EXPERIENCE = "experience"


class ExperienceKind(StrEnum):
    WORKSHOP = "workshop"
    PRIVATE_VISIT = "private_visit"
    EXPERT_MEETING = "expert_meeting"
    EVENT = "event"


class LimitPeriod(StrEnum):
    EVER = "ever"
    DAY = "day"
    WEEK = "week"  # ISO week, Monday first
    MONTH = "month"
    YEAR = "year"


@dataclass(frozen=True)
class FixedValue:
    value: Money
    min_order: Money | None = None


@dataclass(frozen=True)
class PercentOff:
    percent: Decimal  # 0 < percent <= 100
    max_discount: Money | None = None
    min_order: Money | None = None


@dataclass(frozen=True)
class PointsToMoney:
    """Pay with points: ``value_per_point`` major units each (``0.01`` EUR: 100 points = 1 €);
    the member picks an amount that is a multiple of ``step_points``, at least the minimum."""

    currency: str
    value_per_point: Decimal
    minimum_points: int
    step_points: int
    maximum_points: int | None = None


@dataclass(frozen=True)
class FreeShipping:
    max_value: Money | None = None  # None: whatever the shipping costs


@dataclass(frozen=True)
class FreeProduct:
    sku: str
    value: Money | None = None  # what it costs the business, for liability reports


@dataclass(frozen=True)
class Experience:
    kind: ExperienceKind
    starts_at: datetime
    ends_at: datetime  # the booking code is valid until then
    capacity: int
    cancel_cutoff_hours: int = 48  # a booking may be cancelled until this long before the start
    location: str = ""


Terms = FixedValue | PercentOff | PointsToMoney | FreeShipping | FreeProduct | Experience

_KIND_OF: dict[type, RewardKind] = {
    FixedValue: RewardKind.FIXED_VOUCHER,
    PercentOff: RewardKind.PERCENT_VOUCHER,
    PointsToMoney: RewardKind.PAY_WITH_POINTS,
    FreeShipping: RewardKind.FREE_SHIPPING,
    FreeProduct: RewardKind.FREE_PRODUCT,
    Experience: RewardKind.EXPERIENCE,
}


@dataclass(frozen=True)
class MemberLimit:
    count: int
    period: LimitPeriod = LimitPeriod.EVER
    timezone: str = "UTC"  # where a day, week, month or year begins


@dataclass(frozen=True)
class Visibility:
    """Who sees the reward. Each non-empty set must match (tier in ``tiers``, a shared segment,
    a shared tag from the tier's benefits); empty sets do not restrict."""

    tiers: frozenset[str] = frozenset()
    segments: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()


@dataclass(frozen=True)
class VoucherSpec:
    """How issued codes look: ``PREFIX-XXXX-XXXX`` with ``length`` random characters."""

    prefix: str = ""
    length: int = 8  # 5 bits each: 8 characters are 2^40 codes
    valid_days: int | None = None  # None: no expiry (an experience's code ends with it)


@dataclass(frozen=True)
class Reward:
    code: str
    name: str
    terms: Terms
    cost_points: int  # 0 for pay-with-points, where the member chooses the amount
    stock: int | None = None  # items or seats left; None is unlimited
    member_limit: MemberLimit | None = None
    available_from: datetime | None = None
    available_until: datetime | None = None  # exclusive
    visibility: Visibility = field(default_factory=Visibility)
    voucher: VoucherSpec | None = None  # required except for pay-with-points at checkout

    def __post_init__(self) -> None:
        problems = _reward_problems(self)
        if problems:
            raise InvalidReward("; ".join(f"{p.pointer}: {p.message}" for p in problems), problems)

    @property
    def kind(self) -> RewardKind:
        return _KIND_OF[type(self.terms)]

    @property
    def currency(self) -> str | None:
        """The currency of the reward's money terms, if it has any."""
        terms = self.terms
        if isinstance(terms, PointsToMoney):
            return terms.currency
        for value in vars(terms).values():
            if isinstance(value, Money):
                return value.currency
        return None


def points_value(points: int, value_per_point: Decimal, currency: str) -> Money:
    """Money for ``points`` at ``value_per_point`` major units each, rounded down to the minor
    unit: points never buy more than they are worth, so the liability is never exceeded."""
    minor = (Decimal(points) * value_per_point).scaleb(minor_exponent(currency))
    return Money(int(minor.quantize(Decimal(1), rounding=ROUND_DOWN)), currency)


def _aware(value: datetime | None) -> bool:
    return value is None or (value.tzinfo is not None and value.utcoffset() is not None)


def valid_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _reward_problems(reward: Reward) -> list[FieldProblem]:
    problems: list[FieldProblem] = []

    def bad(pointer: str, message: str) -> None:
        problems.append(FieldProblem(pointer, message))

    if not SLUG.match(reward.code):
        bad("/code", "lower-case letters, digits, '-' or '_', at most 64")
    if not reward.name.strip():
        bad("/name", "required")
    if reward.kind is RewardKind.PAY_WITH_POINTS:
        if reward.cost_points != 0:
            bad("/cost_points", "0: the member chooses the points (minimum_points, step_points)")
    elif reward.cost_points < 1:
        bad("/cost_points", "at least 1")
    if reward.stock is not None and reward.stock < 0:
        bad("/stock", "not negative")
    limit = reward.member_limit
    if limit is not None:
        if limit.count < 1:
            bad("/member_limit/count", "at least 1")
        if not valid_timezone(limit.timezone):
            bad("/member_limit/timezone", "unknown IANA timezone")
    for name in ("available_from", "available_until"):
        if not _aware(getattr(reward, name)):
            bad(f"/{name}", "timezone-aware")
    start, end = reward.available_from, reward.available_until
    if start and end and _aware(start) and _aware(end) and end <= start:
        bad("/available_until", "after available_from")
    for name in ("tiers", "segments", "tags"):
        if any(not SLUG.match(item) for item in getattr(reward.visibility, name)):
            bad(f"/visibility/{name}", "codes are lower-case slugs")
    _voucher_problems(reward, bad)
    _terms_problems(reward, bad)
    return problems


def _voucher_problems(reward: Reward, bad: _Bad) -> None:
    spec = reward.voucher
    if spec is None:
        if reward.kind is not RewardKind.PAY_WITH_POINTS:
            bad("/voucher", "required: the member presents a code to use this reward")
        return
    if not PREFIX.match(spec.prefix):
        bad("/voucher/prefix", "up to 12 upper-case letters or digits")
    if not 6 <= spec.length <= 32:
        bad("/voucher/length", "6 to 32 characters (6 is a billion codes)")
    if spec.valid_days is not None:
        if reward.kind is RewardKind.EXPERIENCE:
            bad("/voucher/valid_days", "an experience's code is valid until it ends")
        elif not 1 <= spec.valid_days <= 3660:
            bad("/voucher/valid_days", "1 to 3660 days")


def _terms_problems(reward: Reward, bad: _Bad) -> None:
    terms = reward.terms
    currency = reward.currency
    for name, value in vars(terms).items():
        if isinstance(value, Money) and value.currency != currency:
            bad(f"/terms/{name}_minor", f"in {currency}, like the other amounts")
    if isinstance(terms, FixedValue):
        if terms.value.minor < 1:
            bad("/terms/value_minor", "at least 1")
        _positive_or_none(terms.min_order, "/terms/min_order_minor", bad, minimum=0)
    elif isinstance(terms, PercentOff):
        if not Decimal(0) < terms.percent <= Decimal(100):
            bad("/terms/percent", "greater than 0, at most 100")
        _positive_or_none(terms.max_discount, "/terms/max_discount_minor", bad)
        _positive_or_none(terms.min_order, "/terms/min_order_minor", bad, minimum=0)
    elif isinstance(terms, PointsToMoney):
        if not terms.value_per_point > 0:
            bad("/terms/value_per_point", "greater than 0")
        if terms.step_points < 1:
            bad("/terms/step_points", "at least 1")
        elif terms.minimum_points < 1 or terms.minimum_points % terms.step_points:
            bad("/terms/minimum_points", "at least 1 and a multiple of step_points")
        elif terms.maximum_points is not None and (
            terms.maximum_points < terms.minimum_points or terms.maximum_points % terms.step_points
        ):
            bad("/terms/maximum_points", "at least minimum_points and a multiple of step_points")
    elif isinstance(terms, FreeShipping):
        _positive_or_none(terms.max_value, "/terms/max_value_minor", bad)
    elif isinstance(terms, FreeProduct):
        if not terms.sku.strip():
            bad("/terms/sku", "required")
        _positive_or_none(terms.value, "/terms/value_minor", bad, minimum=0)
    else:
        _experience_problems(reward, terms, bad)


def _experience_problems(reward: Reward, terms: Experience, bad: _Bad) -> None:
    if terms.capacity < 1:
        bad("/terms/capacity", "at least 1")
    if reward.stock is None:
        bad("/stock", "the seats left: an experience has a capacity")
    elif reward.stock > terms.capacity:
        bad("/stock", f"at most the capacity ({terms.capacity})")
    if not (_aware(terms.starts_at) and _aware(terms.ends_at)):
        bad("/terms/starts_at", "timezone-aware")
    elif terms.ends_at <= terms.starts_at:
        bad("/terms/ends_at", "after starts_at")
    if terms.cancel_cutoff_hours < 0:
        bad("/terms/cancel_cutoff_hours", "not negative")


def _positive_or_none(value: Money | None, pointer: str, bad: _Bad, minimum: int = 1) -> None:
    if value is not None and value.minor < minimum:
        bad(pointer, f"at least {minimum}")
