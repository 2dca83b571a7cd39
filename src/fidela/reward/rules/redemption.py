"""Who may redeem what, the plan of a redemption, and whether it may be cancelled."""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from fidela.kernel.clock import ensure_utc
from fidela.kernel.errors import DomainError, FieldProblem
from fidela.kernel.money import CurrencyMismatch, Money, minor_exponent
from fidela.reward.rules.catalogue import (
    Experience,
    FixedValue,
    FreeProduct,
    FreeShipping,
    LimitPeriod,
    MemberLimit,
    PointsToMoney,
    Reward,
    points_value,
)
from fidela.reward.rules.errors import (
    InvalidPointsAmount,
    MemberLimitReached,
    PointsShort,
    RedemptionNotCancellable,
    RewardNotVisible,
    RewardOutOfStock,
    RewardUnavailable,
)
from fidela.reward.rules.voucher import IssuedVoucher, RandomSource, VoucherIssue, issue_voucher


class Refusal(StrEnum):
    NOT_VISIBLE = "not_visible"
    OUTSIDE_WINDOW = "outside_window"
    OUT_OF_STOCK = "out_of_stock"
    MEMBER_LIMIT_REACHED = "member_limit_reached"
    NOT_ENOUGH_POINTS = "not_enough_points"


_ERROR_FOR: dict[Refusal, type[DomainError]] = {
    Refusal.NOT_VISIBLE: RewardNotVisible,
    Refusal.OUTSIDE_WINDOW: RewardUnavailable,
    Refusal.OUT_OF_STOCK: RewardOutOfStock,
    Refusal.MEMBER_LIMIT_REACHED: MemberLimitReached,
    Refusal.NOT_ENOUGH_POINTS: PointsShort,
}


@dataclass(frozen=True)
class PastRedemption:
    """One of the member's redemptions that was not cancelled."""

    reward_code: str
    at: datetime


@dataclass(frozen=True)
class MemberView:
    """What the rules need to know about a member: read from the ledger, tier and profile."""

    member_id: str
    available_points: int  # spendable balance: active, unexpired points
    tier_code: str | None = None
    segments: frozenset[str] = frozenset()
    reward_tags: frozenset[str] = frozenset()  # granted by the member's tier benefits
    redemptions: tuple[PastRedemption, ...] = ()


@dataclass(frozen=True)
class Reason:
    code: Refusal
    detail: str


@dataclass(frozen=True)
class Eligibility:
    """Every reason that stops the redemption (none: ``ok``) and the points it needs."""

    reasons: tuple[Reason, ...]
    points_needed: int
    points_short: int

    @property
    def ok(self) -> bool:
        return not self.reasons


@dataclass(frozen=True)
class RedemptionPlan:
    """What the service writes: debit ``points`` (the ledger allocates lots), decrement the
    stock by ``stock_decrement`` with a guarded update, store the voucher."""

    reward_code: str
    member_id: str
    points: int
    stock_decrement: int  # 1 for a stocked reward, 0 for an unlimited one
    stock_after: int | None
    voucher: VoucherIssue | None
    # Money granted when fixed now (voucher value, pay-with-points amount); store it with the
    # voucher: a pay-with-points code is worth what the points bought at redemption.
    value: Money | None
    starts_at: datetime | None  # the booked experience's start


class CancelRefusal(StrEnum):
    ALREADY_CANCELLED = "already_cancelled"
    VOUCHER_USED = "voucher_used"
    VOUCHER_EXPIRED = "voucher_expired"
    PAST_CUTOFF = "past_cutoff"
    APPLIED_TO_ORDER = "applied_to_order"


@dataclass(frozen=True)
class RedemptionRecord:
    reward_code: str
    member_id: str
    points: int  # what was debited; the ledger gives it back to the original lots
    redeemed_at: datetime
    voucher: IssuedVoucher | None = None
    cancelled_at: datetime | None = None


@dataclass(frozen=True)
class CancelDecision:
    allowed: bool
    reason: CancelRefusal | None
    detail: str
    points_to_restore: int
    restock: int


def can_redeem(
    reward: Reward, member: MemberView, now: datetime, *, points: int | None = None
) -> Eligibility:
    """Every reason ``member`` cannot redeem ``reward`` at ``now``; none means they can.

    ``points`` is the amount chosen for pay-with-points (its minimum when omitted) and must be
    on the reward's grid (`InvalidPointsAmount` otherwise). All reasons are listed, so an app can
    show "out of stock" and "300 points short" together.
    """
    now = ensure_utc(now)
    needed = points_to_spend(reward, points)
    reasons: list[Reason] = []
    if not visible_to(reward, member):
        reasons.append(Reason(Refusal.NOT_VISIBLE, "not offered to this member's tier or segments"))
    window = _outside_window(reward, now)
    if window:
        reasons.append(Reason(Refusal.OUTSIDE_WINDOW, window))
    if reward.stock is not None and reward.stock < 1:
        reasons.append(Reason(Refusal.OUT_OF_STOCK, "none left"))
    if reward.member_limit is not None:
        used = redemptions_in_period(reward.code, reward.member_limit, member.redemptions, now)
        if used >= reward.member_limit.count:
            reasons.append(
                Reason(
                    Refusal.MEMBER_LIMIT_REACHED,
                    f"{used} of {reward.member_limit.count} per "
                    f"{reward.member_limit.period.value} already redeemed",
                )
            )
    short = max(0, needed - member.available_points)
    if short:
        reasons.append(
            Reason(Refusal.NOT_ENOUGH_POINTS, f"needs {needed} points, {short} more than available")
        )
    return Eligibility(tuple(reasons), needed, short)


def ensure_can_redeem(
    reward: Reward, member: MemberView, now: datetime, *, points: int | None = None
) -> Eligibility:
    """`can_redeem`, raising the error of the first reason (visibility first, then window,
    stock, limit, points: a hidden reward must not reveal its stock)."""
    eligibility = can_redeem(reward, member, now, points=points)
    if not eligibility.ok:
        first = eligibility.reasons[0]
        raise _ERROR_FOR[first.code](f"{reward.code}: {first.detail}")
    return eligibility


def affordable_rewards(
    rewards: Iterable[Reward], member: MemberView, now: datetime
) -> list[Reward]:
    """The rewards ``member`` can redeem right now, cheapest first (then by code)."""
    return sorted(
        (reward for reward in rewards if can_redeem(reward, member, now).ok),
        key=lambda reward: (points_to_spend(reward, None), reward.code),
    )


def plan_redemption(
    reward: Reward,
    member: MemberView,
    now: datetime,
    *,
    rng: RandomSource,
    points: int | None = None,
    taken: Container[str] = frozenset(),
) -> RedemptionPlan:
    """Decide a redemption, or raise why not. ``taken`` holds voucher keys known to be in use.

    Stock never goes negative here; concurrent redemptions are settled by the service's guarded
    ``UPDATE ... WHERE stock >= 1`` and the ledger's guarded debit, which this plan feeds.
    """
    now = ensure_utc(now)
    eligibility = ensure_can_redeem(reward, member, now, points=points)
    spent = eligibility.points_needed
    voucher = issue_voucher(reward, issued_at=now, rng=rng, taken=taken) if reward.voucher else None
    terms = reward.terms
    value: Money | None = None
    if isinstance(terms, PointsToMoney):
        value = points_value(spent, terms.value_per_point, terms.currency)
    elif isinstance(terms, FixedValue):
        value = terms.value
    elif isinstance(terms, FreeShipping):
        value = terms.max_value
    elif isinstance(terms, FreeProduct):
        value = terms.value
    return RedemptionPlan(
        reward_code=reward.code,
        member_id=member.member_id,
        points=spent,
        stock_decrement=0 if reward.stock is None else 1,
        stock_after=None if reward.stock is None else reward.stock - 1,
        voucher=voucher,
        value=value,
        starts_at=terms.starts_at if isinstance(terms, Experience) else None,
    )


def points_to_spend(reward: Reward, points: int | None) -> int:
    """The points a redemption costs; for pay-with-points, ``points`` checked on the grid."""
    terms = reward.terms
    if not isinstance(terms, PointsToMoney):
        if points is not None and points != reward.cost_points:
            raise InvalidPointsAmount(
                f"{reward.code} costs {reward.cost_points} points",
                [FieldProblem("/points", f"omit it, or {reward.cost_points}")],
            )
        return reward.cost_points
    if points is None:
        return terms.minimum_points
    top = terms.maximum_points
    if points < terms.minimum_points or (top is not None and points > top):
        limits = f"{terms.minimum_points} to {top}" if top else f"at least {terms.minimum_points}"
        raise InvalidPointsAmount(f"use {limits} points", [FieldProblem("/points", limits)])
    if points % terms.step_points:
        raise InvalidPointsAmount(
            f"use a multiple of {terms.step_points} points",
            [FieldProblem("/points", f"a multiple of {terms.step_points}")],
        )
    return points


def max_payable_points(reward: Reward, *, order_total: Money, available_points: int) -> int:
    """The most points pay-with-points may take on an order: on the grid, within the balance,
    and never worth more than the order (0 when even the minimum does not fit)."""
    terms = reward.terms
    if not isinstance(terms, PointsToMoney):
        return 0
    if order_total.currency != terms.currency:
        raise CurrencyMismatch(f"pay with points in {terms.currency}, not {order_total.currency}")
    per_point_minor = terms.value_per_point.scaleb(minor_exponent(terms.currency))
    by_value = int((Decimal(order_total.minor) / per_point_minor).to_integral_value(ROUND_DOWN))
    most = min(by_value, available_points)
    if terms.maximum_points is not None:
        most = min(most, terms.maximum_points)
    most -= most % terms.step_points
    return most if most >= terms.minimum_points else 0


def visible_to(reward: Reward, member: MemberView) -> bool:
    rule = reward.visibility
    return (
        (not rule.tiers or member.tier_code in rule.tiers)
        and (not rule.segments or bool(rule.segments & member.segments))
        and (not rule.tags or bool(rule.tags & member.reward_tags))
    )


def redemptions_in_period(
    reward_code: str, limit: MemberLimit, redemptions: Sequence[PastRedemption], now: datetime
) -> int:
    """How many of ``redemptions`` of this reward fall in the limit's period containing ``now``."""
    start = period_start(limit.period, now, ZoneInfo(limit.timezone))
    return sum(
        1
        for past in redemptions
        if past.reward_code == reward_code and (start is None or past.at >= start)
    )


def period_start(period: LimitPeriod, now: datetime, zone: ZoneInfo) -> datetime | None:
    """Start of the calendar period containing ``now`` in ``zone``; None for ``ever``."""
    if period is LimitPeriod.EVER:
        return None
    day = now.astimezone(zone).date()
    if period is LimitPeriod.WEEK:
        day -= timedelta(days=day.weekday())
    elif period is LimitPeriod.MONTH:
        day = day.replace(day=1)
    elif period is LimitPeriod.YEAR:
        day = day.replace(month=1, day=1)
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def cancellation(reward: Reward, record: RedemptionRecord, now: datetime) -> CancelDecision:
    """May ``record`` be cancelled at ``now``? If so, its points go back (the ledger restores
    them to their original lots) and a stocked reward gets its item or seat back.

    Cancellable: an unused, unexpired voucher; an experience booking until
    ``cancel_cutoff_hours`` before it starts. Pay-with-points applied to an order comes back
    with the order's refund instead, so it is never cancelled here.
    """
    now = ensure_utc(now)
    voucher, terms = record.voucher, reward.terms

    def refuse(reason: CancelRefusal, detail: str) -> CancelDecision:
        return CancelDecision(False, reason, detail, 0, 0)

    if record.cancelled_at is not None or (voucher and voucher.cancelled_at is not None):
        return refuse(CancelRefusal.ALREADY_CANCELLED, "already cancelled")
    if voucher is not None and voucher.used_at is not None:
        return refuse(CancelRefusal.VOUCHER_USED, f"the code was used on {voucher.used_at}")
    if isinstance(terms, Experience):
        cutoff = terms.starts_at - timedelta(hours=terms.cancel_cutoff_hours)
        if now >= cutoff:
            return refuse(CancelRefusal.PAST_CUTOFF, f"bookings could be cancelled until {cutoff}")
    elif voucher is None:
        return refuse(
            CancelRefusal.APPLIED_TO_ORDER, "the points come back when the order is refunded"
        )
    elif voucher.expires_at is not None and now >= voucher.expires_at:
        return refuse(CancelRefusal.VOUCHER_EXPIRED, f"the code expired on {voucher.expires_at}")
    restock = 0 if reward.stock is None else 1
    return CancelDecision(True, None, "cancellable", record.points, restock)


def ensure_cancellable(reward: Reward, record: RedemptionRecord, now: datetime) -> CancelDecision:
    decision = cancellation(reward, record, now)
    if not decision.allowed:
        raise RedemptionNotCancellable(f"{reward.code}: {decision.detail}")
    return decision


def _outside_window(reward: Reward, now: datetime) -> str | None:
    if reward.available_from is not None and now < reward.available_from:
        return f"available from {reward.available_from.isoformat()}"
    if reward.available_until is not None and now >= reward.available_until:
        return f"ended on {reward.available_until.isoformat()}"
    if isinstance(reward.terms, Experience) and now >= reward.terms.starts_at:
        return "the experience has started"
    return None
