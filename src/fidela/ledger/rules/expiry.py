"""Expiry policies, holds (pending points), activation, activity, due expiries and warnings.

A lot's expiry is decided once, by the policy in force when it was earned, and stored on the
lot. Nothing here ever recomputes an existing lot's expiry from a newer policy: that is what
makes switching a policy on non-retroactive. The one exception is the activity policy, whose
whole point is that activity pushes expiry forward, and it only touches lots earned under it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fidela.kernel.errors import FieldProblem
from fidela.ledger.rules.errors import InvalidExpiryPolicy, NothingPending
from fidela.ledger.rules.lots import Lot, LotState, require_aware, require_positive


class RoundTo(StrEnum):
    """Where a deadline is rounded up to: the end of its day, month, quarter, half or year."""

    DAY = "day"
    MONTH = "month"
    QUARTER = "quarter"
    HALF_YEAR = "half_year"
    YEAR = "year"


def _problem(pointer: str, message: str) -> InvalidExpiryPolicy:
    return InvalidExpiryPolicy(f"{pointer}: {message}", [FieldProblem(pointer, message)])


def _check_common(effective_from: datetime | None, timezone: str) -> None:
    if effective_from is not None and (
        effective_from.tzinfo is None or effective_from.utcoffset() is None
    ):
        raise _problem("/effective_from", "must carry a timezone")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise _problem("/timezone", f"'{timezone}' is not an IANA timezone") from None


def _check_duration(months: int, days: int) -> None:
    if months < 0:
        raise _problem("/months", "must not be negative")
    if days < 0:
        raise _problem("/days", "must not be negative")


@dataclass(frozen=True)
class NoExpiry:
    """Points never expire."""

    effective_from: datetime | None = None

    def __post_init__(self) -> None:
        _check_common(self.effective_from, "UTC")


@dataclass(frozen=True)
class FixedExpiry:
    """Points expire a fixed time after they become active, rounded up to a period end.

    The deadline is the end of the day ``months`` then ``days`` after activation (a month
    later from the 31st is the last day of the next month), then rounded up to the end of the
    ``round_to`` period, all in ``timezone``: a member is told "valid until 25 Feb", not a time
    of day. ``months=0, days=0, round_to=YEAR`` is "points expire at the end of the year they
    were earned in"; ``months=0, days=0`` (end of day) expires them at midnight the same day.
    """

    months: int = 0
    days: int = 0
    round_to: RoundTo = RoundTo.DAY
    effective_from: datetime | None = None
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        _check_duration(self.months, self.days)
        _check_common(self.effective_from, self.timezone)


@dataclass(frozen=True)
class ActivityExpiry:
    """The balance lives while the member is active.

    An activity whose ``kind`` is in ``activity_kinds`` pushes the expiry of every lot earned
    under this policy to the end of the day ``months`` (and ``days``) after the activity.
    With ``counts_zero_points`` false, an activity that moved no points (a purchase below the
    earning threshold) does not count.
    """

    months: int
    activity_kinds: frozenset[str]
    days: int = 0
    counts_zero_points: bool = True
    effective_from: datetime | None = None
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        _check_duration(self.months, self.days)
        if self.months == 0 and self.days == 0:
            raise _problem("/months", "an activity window must be longer than zero")
        if not self.activity_kinds or any(not kind.strip() for kind in self.activity_kinds):
            raise _problem("/activity_kinds", "name at least one activity kind, none blank")
        _check_common(self.effective_from, self.timezone)


ExpiryPolicy: TypeAlias = NoExpiry | FixedExpiry | ActivityExpiry


_BEGINNING = datetime.min.replace(tzinfo=UTC)


def _since(policy: ExpiryPolicy) -> datetime:
    return policy.effective_from or _BEGINNING


@dataclass(frozen=True)
class ExpirySchedule:
    """A programme's expiry policies over time; each applies to lots earned from its
    ``effective_from`` (``None``: from the start) until the next one's."""

    policies: tuple[ExpiryPolicy, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        starts = [_since(policy) for policy in self.policies]
        if len(set(starts)) != len(starts):
            raise _problem("/policies", "two policies take effect at the same instant")

    def in_force(self, at: datetime) -> ExpiryPolicy:
        """The policy governing a lot earned at ``at``; no policy yet means no expiry."""
        require_aware(at, "at")
        governing = [policy for policy in self.policies if _since(policy) <= at]
        return max(governing, key=_since) if governing else NoExpiry()


def _add_months(day: date, months: int) -> date:
    year, index = divmod(day.month - 1 + months, 12)
    year += day.year
    month = index + 1
    # Earned on the 31st, a month later is the last day of a shorter month, never the 1st
    # of the month after: the member must not lose days by the calendar.
    next_month = date(year + month // 12, month % 12 + 1, 1)
    last = (next_month - timedelta(days=1)).day
    return date(year, month, min(day.day, last))


def _period_end(day: date, round_to: RoundTo) -> date:
    """The first day after the ``round_to`` period containing ``day``."""
    if round_to is RoundTo.DAY:
        return day + timedelta(days=1)
    if round_to is RoundTo.YEAR:
        return date(day.year + 1, 1, 1)
    span = {RoundTo.MONTH: 1, RoundTo.QUARTER: 3, RoundTo.HALF_YEAR: 6}[round_to]
    first_of_period = date(day.year, (day.month - 1) // span * span + 1, 1)
    return _add_months(first_of_period, span)


def _deadline(
    start: datetime, months: int, days: int, round_to: RoundTo, timezone: str
) -> datetime:
    zone = ZoneInfo(timezone)
    return _deadline_after(start.astimezone(zone).date(), months, days, round_to, timezone)


# The deadline depends on the local day only, and the lots of one batch are mostly earned on
# a handful of days: the calendar arithmetic is done once per day, not once per lot.
@lru_cache(maxsize=1024)
def _deadline_after(
    local_day: date, months: int, days: int, round_to: RoundTo, timezone: str
) -> datetime:
    zone = ZoneInfo(timezone)
    due = _add_months(local_day, months) + timedelta(days=days)
    return datetime.combine(_period_end(due, round_to), time(), tzinfo=zone).astimezone(UTC)


def expiry_for(policy: ExpiryPolicy, start: datetime) -> datetime | None:
    """The exclusive expiry instant (UTC) of points whose clock starts at ``start``.

    ``start`` is when the points became active (the earn, or the end of their hold): pending
    points do not lose validity while they cannot be used. For the activity policy, ``start``
    is the latest of activation and the member's last counted activity.
    """
    require_aware(start, "start")
    match policy:
        case NoExpiry():
            return None
        case FixedExpiry():
            return _deadline(start, policy.months, policy.days, policy.round_to, policy.timezone)
        case ActivityExpiry():
            return _deadline(start, policy.months, policy.days, RoundTo.DAY, policy.timezone)


class HoldKind(StrEnum):
    NONE = "none"
    DAYS = "days"
    EVENT = "event"


@dataclass(frozen=True)
class Hold:
    """How long earned points stay pending: not at all, ``days`` (a return window), or until
    an activation event (delivery confirmed, stay completed) of type ``event``; a hold until
    an unnamed event is released by any activation of its lot's ``ref``."""

    kind: HoldKind = HoldKind.NONE
    days: int = 0
    event: str | None = None

    def __post_init__(self) -> None:
        if (self.kind is HoldKind.DAYS) != (self.days > 0):
            raise ValueError("a hold has days > 0 exactly when its kind is 'days'")
        if self.event is not None and (self.kind is not HoldKind.EVENT or not self.event.strip()):
            raise ValueError("only a hold until an event names an event type, never blank")

    @property
    def label(self) -> str:
        """``none``, ``days:14`` or ``event:<type>``: stable, for keys and reports."""
        if self.kind is HoldKind.DAYS:
            return f"days:{self.days}"
        if self.kind is HoldKind.EVENT:
            return f"event:{self.event or ''}"
        return "none"

    @classmethod
    def immediate(cls) -> Hold:
        return cls()

    @classmethod
    def for_days(cls, days: int) -> Hold:
        return cls(HoldKind.DAYS, days)

    @classmethod
    def until_event(cls, event: str | None = None) -> Hold:
        return cls(HoldKind.EVENT, event=event)


def _check_governs(policy: ExpiryPolicy, earned_at: datetime) -> None:
    if _since(policy) > earned_at:
        raise ValueError("the policy takes effect after the earn; use ExpirySchedule.in_force")


def new_lot(
    lot_id: int,
    points: int,
    *,
    earned_at: datetime,
    hold: Hold,
    policy: ExpiryPolicy,
    ref: str | None = None,
) -> Lot:
    """The lot of an earn of ``points`` at ``earned_at`` under ``policy`` (the one in force at
    ``earned_at``). Held points are pending; their expiry clock starts when they activate, so a
    lot held until an event has no expiry yet, and records the event it ``awaits``."""
    require_positive(points)
    require_aware(earned_at, "earned_at")
    _check_governs(policy, earned_at)
    match hold.kind:
        case HoldKind.NONE:
            state, activates_at = LotState.ACTIVE, None
            expires_at = expiry_for(policy, earned_at)
        case HoldKind.DAYS:
            state, activates_at = LotState.PENDING, earned_at + timedelta(days=hold.days)
            expires_at = expiry_for(policy, activates_at)
        case HoldKind.EVENT:
            state, activates_at, expires_at = LotState.PENDING, None, None
    return Lot(
        id=lot_id,
        amount=points,
        remaining=points,
        earned_at=earned_at,
        expires_at=expires_at,
        state=state,
        activates_at=activates_at,
        ref=ref,
        awaits=hold.event if hold.kind is HoldKind.EVENT else None,
    )


def released_by(lot: Lot, event: str | None, *, unnamed: bool, now: datetime) -> bool:
    """Whether activation event ``event`` releases pending ``lot`` as of ``now``.

    A lot held until an event is released by that event only; a return window (days) is
    not cut short by an event. ``event=None`` (an explicit activation of a ``ref``) releases
    every pending lot. Lots held before holds named their event (``awaits`` is ``None``)
    are released when ``unnamed`` (the event is their programme's activation event).
    """
    if not lot.is_pending(now):
        return False
    if event is None:
        return True
    if lot.activates_at is not None:
        return False
    return lot.awaits == event if lot.awaits is not None else unnamed


def activate(lot: Lot, at: datetime, policy: ExpiryPolicy) -> Lot:
    """Activate a pending lot by event at ``at`` (also ends a day hold early); its expiry clock
    starts now, under ``policy``, the policy in force when the lot was earned."""
    require_aware(at, "at")
    if not lot.is_pending(at):
        raise NothingPending(f"lot {lot.id} is not pending")
    _check_governs(policy, lot.earned_at)
    return replace(lot, state=LotState.ACTIVE, activates_at=at, expires_at=expiry_for(policy, at))


def due_activations(lots: Iterable[Lot], now: datetime) -> tuple[Lot, ...]:
    """Lots still stored as pending whose hold ended by ``now``, with their state flipped.

    Their expiry was set from ``activates_at`` at earn time, so only the state changes. The
    caller writes the activation entries (pending to active) in the same unit of work.
    """
    return tuple(
        replace(lot, state=LotState.ACTIVE)
        for lot in lots
        if lot.state is LotState.PENDING and not lot.is_pending(now)
    )


@dataclass(frozen=True)
class Activity:
    """Something the member did: a purchase, a redemption, a login, a review..."""

    kind: str
    at: datetime
    points: int = 0


def counts_as_activity(policy: ExpiryPolicy, activity: Activity) -> bool:
    return (
        isinstance(policy, ActivityExpiry)
        and activity.kind in policy.activity_kinds
        and (policy.counts_zero_points or activity.points != 0)
        and _since(policy) <= activity.at
    )


def extend_on_activity(
    lots: Iterable[Lot], policy: ExpiryPolicy, activity: Activity
) -> tuple[Lot, ...]:
    """The lots whose expiry an activity pushes forward, with their new expiry.

    Only under an activity policy (the one in force at the activity), only for lots earned
    under it (never retroactive), only lots not expired by then (activity does not revive
    expired points) and never shortening an expiry. Spent-out lots are pushed too: points a
    cancelled redemption gives back must be as alive as the rest of the balance. A store can
    do this in one set-based update; the pure answer lists every lot it changes.
    """
    require_aware(activity.at, "activity.at")
    if not isinstance(policy, ActivityExpiry) or not counts_as_activity(policy, activity):
        return ()
    pushed_to = _deadline(activity.at, policy.months, policy.days, RoundTo.DAY, policy.timezone)
    since = _since(policy)
    return tuple(
        replace(lot, expires_at=pushed_to)
        for lot in lots
        if lot.earned_at >= since
        and lot.expires_at is not None
        and lot.expires_at < pushed_to
        and not lot.is_expired(activity.at)
    )


@dataclass(frozen=True)
class ExpiryDue:
    """An expire entry the expiry job must write: ``points`` of lot ``lot_id``, which stopped
    being usable at ``expired_at``."""

    lot_id: int
    points: int
    expired_at: datetime


def due_expiries(lots: Iterable[Lot], now: datetime) -> tuple[ExpiryDue, ...]:
    """What has passed its expiry by ``now`` and still has points: the whole ``remaining``."""
    due = [
        ExpiryDue(lot.id, lot.remaining, lot.expires_at)
        for lot in lots
        if lot.remaining > 0 and lot.is_expired(now) and lot.expires_at is not None
    ]
    return tuple(sorted(due, key=lambda item: (item.expired_at, item.lot_id)))


@dataclass(frozen=True)
class ExpiryWarning:
    """``points`` of lot ``lot_id`` will expire at ``expires_at`` unless spent."""

    lot_id: int
    points: int
    expires_at: datetime

    @property
    def key(self) -> str:
        """Stable per lot and deadline: a warning is sent once, and again only if an
        activity moved the deadline."""
        return f"{self.lot_id}:{self.expires_at.isoformat()}"


def expiry_warnings(
    lots: Iterable[Lot], now: datetime, *, within_days: int = 30
) -> tuple[ExpiryWarning, ...]:
    """Spendable points that expire in the next ``within_days`` days, soonest first."""
    require_aware(now, "now")
    if within_days < 0:
        raise ValueError("within_days must not be negative")
    horizon = now + timedelta(days=within_days)
    warnings = [
        ExpiryWarning(lot.id, lot.remaining, lot.expires_at)
        for lot in lots
        if lot.is_spendable(now) and lot.expires_at is not None and lot.expires_at < horizon
    ]
    return tuple(sorted(warnings, key=lambda item: (item.expires_at, item.lot_id)))
