"""Tier ladders as data: levels, thresholds, benefits, windows and policies.

A `TierLadder` validates itself on construction (`InvalidLadder` with pointers in the JSON
form that `load_ladder` reads), so an invalid ladder cannot exist in memory.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fidela.kernel.errors import FieldProblem
from fidela.kernel.money import Money, UnknownCurrency, parse_currency
from fidela.tier.rules.errors import InvalidLadder, LevelRemoved, UnknownTier

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_MAX_DAYS = 3660


class Basis(StrEnum):
    POINTS = "points"  # earned points (EARN minus CLAWBACK)
    SPEND = "spend"  # qualifying spend in minor units (SPEND minus REFUND)


class WindowKind(StrEnum):
    LIFETIME = "lifetime"
    CALENDAR_YEAR = "calendar_year"
    ROLLING = "rolling"
    ANNIVERSARY = "anniversary"


class DowngradeTo(StrEnum):
    ONE_STEP = "one_step"  # Talon.One one_down, Capillary's default for regular programmes
    QUALIFIED = (
        "qualified"  # the level the reviewed amount reaches (Open Loyalty, T1 balance_based)
    )


class OnReturn(StrEnum):
    # Undo the upgrade at once when the returned order caused it and the return comes within
    # ``return_window_days`` of the upgrade; otherwise the reduced amount is judged at review.
    # Default, because an upgrade bought and returned is the cheapest tier fraud there is.
    REQUALIFY_AT_ONCE = "requalify_at_once"
    AT_REVIEW = "at_review"  # returns only lower the amount judged at the next review


@dataclass(frozen=True)
class Benefits:
    """What a level gives. ``discount_percent`` is 0-100; ``earn_multiplier`` multiplies the
    base earn rate (the earning rules apply it, rounding once through ``kernel.points``)."""

    earn_multiplier: Decimal = Decimal(1)
    discount_percent: Decimal = Decimal(0)
    free_shipping: bool = False
    priority_service: bool = False
    event_access: bool = False
    reward_tags: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Level:
    code: str
    name: str
    threshold: int  # points, or minor units of the ladder currency for a spend basis
    benefits: Benefits = field(default_factory=Benefits)
    retired: bool = False


@dataclass(frozen=True)
class Window:
    kind: WindowKind
    months: int | None = None  # rolling windows only

    @property
    def length_months(self) -> int | None:
        if self.kind is WindowKind.LIFETIME:
            return None
        return self.months if self.kind is WindowKind.ROLLING else 12


@dataclass(frozen=True)
class TierLadder:
    """A validated ladder; constructing one with broken fields raises `InvalidLadder`."""

    code: str
    name: str
    basis: Basis
    window: Window
    levels: tuple[Level, ...]
    currency: str | None = None  # required for a spend basis, refused for points
    downgrade: DowngradeTo = DowngradeTo.ONE_STEP
    grace_days: int = 0
    count_pending: bool = False
    on_return: OnReturn = OnReturn.REQUALIFY_AT_ONCE
    return_window_days: int = 30
    timezone: str = "UTC"  # where calendar years and months begin

    def __post_init__(self) -> None:
        problems = _ladder_problems(self)
        if problems:
            raise InvalidLadder(summary(problems), problems)

    def rank(self, code: str) -> int:
        for index, level in enumerate(self.levels):
            if level.code == code:
                return index
        raise UnknownTier(f"'{code}' is not a level of ladder '{self.code}'")

    def level(self, code: str) -> Level:
        return self.levels[self.rank(code)]

    @property
    def base(self) -> Level:
        return self.levels[0]

    @property
    def unit(self) -> str:
        """``points``, or the currency code for a spend basis."""
        return self.currency if self.basis is Basis.SPEND and self.currency else "points"

    def format_amount(self, amount: int) -> str:
        """``1200 points`` or ``450.00 EUR``."""
        if self.basis is Basis.SPEND and self.currency:
            return str(Money(amount, self.currency))
        return f"{amount} points"


def benefits_for(ladder: TierLadder, tier_code: str) -> Benefits:
    return ladder.level(tier_code).benefits


def check_ladder_change(old: TierLadder, new: TierLadder) -> None:
    """Refuse a new ladder version that drops a level code members may hold."""
    kept = {level.code for level in new.levels}
    problems = [
        FieldProblem("/levels", f"level '{level.code}' was removed: mark it retired instead")
        for level in old.levels
        if level.code not in kept
    ]
    if problems:
        raise LevelRemoved(summary(problems), problems)


def summary(problems: Sequence[FieldProblem]) -> str:
    return "; ".join(f"{problem.pointer}: {problem.message}" for problem in problems)


def _ladder_problems(ladder: TierLadder) -> list[FieldProblem]:
    problems: list[FieldProblem] = []

    def bad(pointer: str, message: str) -> None:
        problems.append(FieldProblem(pointer, message))

    if not SLUG.match(ladder.code):
        bad("/code", "lower-case letters, digits, '-' or '_', at most 64")
    if not ladder.name.strip():
        bad("/name", "required")
    if ladder.basis is Basis.SPEND:
        try:
            parse_currency(ladder.currency or "")
        except UnknownCurrency:
            bad("/currency", "an ISO 4217 currency is required for a spend basis")
    elif ladder.currency is not None:
        bad("/currency", "only for a spend basis")
    months = ladder.window.months
    if ladder.window.kind is WindowKind.ROLLING:
        if months is None or not 1 <= months <= 120:
            bad("/window/months", "1 to 120 months for a rolling window")
    elif months is not None:
        bad("/window/months", "only for a rolling window")
    try:
        ZoneInfo(ladder.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        bad("/timezone", "unknown IANA timezone")
    for name in ("grace_days", "return_window_days"):
        if not 0 <= getattr(ladder, name) <= _MAX_DAYS:
            bad(f"/{name}", f"0 to {_MAX_DAYS} days")
    if not ladder.levels:
        bad("/levels", "at least the base level")
        return problems
    seen: dict[str, int] = {}
    for index, level in enumerate(ladder.levels):
        at = f"/levels/{index}"
        if not SLUG.match(level.code):
            bad(f"{at}/code", "lower-case letters, digits, '-' or '_', at most 64")
        elif level.code in seen:
            bad(f"{at}/code", f"duplicate of /levels/{seen[level.code]}/code")
        seen.setdefault(level.code, index)
        if not level.name.strip():
            bad(f"{at}/name", "required")
        if index == 0 and level.threshold != 0:
            bad(f"{at}/threshold", "the base level (the first) has threshold 0")
        elif index > 0 and level.threshold <= ladder.levels[index - 1].threshold:
            bad(
                f"{at}/threshold",
                f"must be greater than /levels/{index - 1}/threshold "
                f"({ladder.levels[index - 1].threshold}): thresholds strictly increase",
            )
        if index == 0 and level.retired:
            bad(f"{at}/retired", "the base level cannot be retired")
        benefits = level.benefits
        if not Decimal(0) < benefits.earn_multiplier <= Decimal(100):
            bad(f"{at}/benefits/earn_multiplier", "greater than 0, at most 100")
        if not Decimal(0) <= benefits.discount_percent <= Decimal(100):
            bad(f"{at}/benefits/discount_percent", "0 to 100")
        for tag in sorted(benefits.reward_tags):
            if not SLUG.match(tag):
                bad(f"{at}/benefits/reward_tags", f"'{tag}' is not a valid tag")
    return problems
