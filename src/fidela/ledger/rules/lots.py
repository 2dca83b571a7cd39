"""Lots, the order in which they are spent, allocations, restorations and the balance as of now.

A lot is one earn: ``amount`` points of which ``remaining`` are left. A spend never changes a
balance figure directly: it takes points from lots and says which (allocations), so that a
cancellation can put them back where they came from, with their original expiry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from fidela.ledger.rules.errors import InsufficientPoints, InvalidPoints, LotNotFound

_NEVER = datetime.max.replace(tzinfo=UTC)


def require_aware(value: datetime, name: str) -> None:
    """Refuse a naive datetime: every instant in the ledger is timezone-aware."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")


def require_positive(points: int, what: str = "points") -> None:
    if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
        raise InvalidPoints(f"{what} must be a positive whole number, not {points!r}")


class LotState(StrEnum):
    PENDING = "pending"  # earned but held (return window, or waiting for an activation event)
    ACTIVE = "active"


@dataclass(frozen=True)
class Lot:
    """One earn. ``remaining`` is what is left of ``amount`` after spends, clawbacks, expiry.

    ``expires_at`` is exclusive: the points are usable while ``now < expires_at``; ``None``
    means they never expire (or, for a lot waiting for its activation event, that the clock
    has not started: it starts at activation). ``activates_at`` is when a pending lot becomes
    active by itself (a return window of N days); ``None`` on a pending lot means it waits for
    an explicit activation. Once active, ``activates_at`` records when that happened.
    ``ref`` names what the points were earned for (an order), so a return finds its lot.
    ``awaits`` is the event type a lot held until an event waits for (``None`` on lots held
    before holds named their event: their programme's activation event releases them).
    """

    id: int
    amount: int
    remaining: int
    earned_at: datetime
    expires_at: datetime | None = None
    state: LotState = LotState.ACTIVE
    activates_at: datetime | None = None
    ref: str | None = None
    awaits: str | None = None

    def __post_init__(self) -> None:
        if self.amount <= 0:
            raise ValueError(f"lot {self.id}: amount must be positive, not {self.amount}")
        if not 0 <= self.remaining <= self.amount:
            raise ValueError(
                f"lot {self.id}: remaining {self.remaining} outside [0, {self.amount}]"
            )
        require_aware(self.earned_at, "earned_at")
        if self.expires_at is not None:
            require_aware(self.expires_at, "expires_at")
        if self.activates_at is not None:
            require_aware(self.activates_at, "activates_at")

    def is_pending(self, now: datetime) -> bool:
        """Held as of ``now``; a lot whose return window is over counts as active even before
        a job flips its stored state."""
        return self.state is LotState.PENDING and (
            self.activates_at is None or now < self.activates_at
        )

    def is_expired(self, now: datetime) -> bool:
        """Past its expiry as of ``now`` (pending lots do not expire: their clock starts at
        activation), whether or not the expiry job has written its entry yet."""
        return not self.is_pending(now) and self.expires_at is not None and now >= self.expires_at

    def is_spendable(self, now: datetime) -> bool:
        return self.remaining > 0 and not self.is_pending(now) and not self.is_expired(now)


@dataclass(frozen=True)
class Allocation:
    """``points`` taken from (or given back to) lot ``lot_id`` by one movement."""

    lot_id: int
    points: int

    def __post_init__(self) -> None:
        if self.points <= 0:
            raise ValueError(f"an allocation moves a positive number of points, not {self.points}")


def spend_order_key(lot: Lot) -> tuple[bool, datetime, datetime, int]:
    """Soonest expiry first, never-expiring last, then oldest earned, then lowest id.

    Spending what would expire first is what a member would choose; the id makes the order
    total, so two runs over the same lots always allocate the same way.
    """
    return (lot.expires_at is None, lot.expires_at or _NEVER, lot.earned_at, lot.id)


def spendable_lots(lots: Iterable[Lot], now: datetime) -> list[Lot]:
    """The lots a spend may draw from as of ``now``, in spend order."""
    return sorted((lot for lot in lots if lot.is_spendable(now)), key=spend_order_key)


def draw(lots: Sequence[Lot], points: int) -> tuple[Allocation, ...]:
    """Take up to ``points`` from ``lots`` in the given order; may take fewer."""
    allocations = []
    left = points
    for lot in lots:
        if left == 0:
            break
        taken = min(left, lot.remaining)
        if taken > 0:
            allocations.append(Allocation(lot.id, taken))
            left -= taken
    return tuple(allocations)


def allocate(lots: Iterable[Lot], points: int, now: datetime) -> tuple[Allocation, ...]:
    """Allocate a spend of ``points`` over the spendable lots, in spend order.

    All or nothing: raises ``InsufficientPoints`` (allocating nothing) when the spendable
    points as of ``now`` do not cover the spend. Pending and expired lots are never drawn.
    """
    require_positive(points)
    candidates = spendable_lots(lots, now)
    available = sum(lot.remaining for lot in candidates)
    if available < points:
        raise InsufficientPoints(
            f"{points} points requested, {available} spendable",
            requested=points,
            available=available,
        )
    return draw(candidates, points)


def _by_id(lots: Iterable[Lot]) -> dict[int, Lot]:
    return {lot.id: lot for lot in lots}


def _lot(lots: Mapping[int, Lot], lot_id: int) -> Lot:
    lot = lots.get(lot_id)
    if lot is None:
        raise LotNotFound(f"lot {lot_id} is not among the lots given")
    return lot


def take(lots: Iterable[Lot], allocations: Iterable[Allocation]) -> tuple[Lot, ...]:
    """The lots touched by ``allocations``, with the allocated points removed."""
    by_id = _by_id(lots)
    changed: dict[int, Lot] = {}
    for allocation in allocations:
        lot = changed.get(allocation.lot_id) or _lot(by_id, allocation.lot_id)
        changed[lot.id] = replace(lot, remaining=lot.remaining - allocation.points)
    return tuple(changed.values())


def plan_restore(outstanding: Sequence[Allocation], points: int) -> tuple[Allocation, ...]:
    """Split ``points`` to give back over a spend's ``outstanding`` allocations, pro rata.

    Each allocation gets its share of what is still outstanding, by telescoping prefix sums
    (``floor(P_i * points / W) - floor(P_(i-1) * points / W)``): the parts are whole points,
    each within its allocation, and add up to exactly ``points``. Giving back everything that
    is outstanding therefore restores every allocation exactly, however many partial give-backs
    came before; nothing drifts.
    """
    require_positive(points)
    whole = sum(allocation.points for allocation in outstanding)
    if points > whole:
        raise ValueError(f"cannot give back {points} of {whole} outstanding points")
    parts = []
    prefix = 0
    given = 0
    for allocation in outstanding:
        prefix += allocation.points
        upto = prefix * points // whole
        if upto > given:
            parts.append(Allocation(allocation.lot_id, upto - given))
        given = upto
    return tuple(parts)


@dataclass(frozen=True)
class Restoration:
    """Points given back to their original lots.

    ``restored`` went back into lots still usable; ``expired`` went back into lots whose
    expiry passed meanwhile, so they arrive expired (the caller writes an expire entry for
    them at once). ``lots`` are the touched lots after the restoration.
    """

    lots: tuple[Lot, ...]
    restored: tuple[Allocation, ...]
    expired: tuple[Allocation, ...]

    @property
    def points(self) -> int:
        return sum(a.points for a in self.restored) + sum(a.points for a in self.expired)

    @property
    def restored_points(self) -> int:
        return sum(a.points for a in self.restored)

    @property
    def expired_points(self) -> int:
        return sum(a.points for a in self.expired)


def restore(lots: Iterable[Lot], allocations: Iterable[Allocation], now: datetime) -> Restoration:
    """Give allocated points back to the lots they were taken from.

    A lot that expired since the spend gets its points back expired: the lot keeps the expiry
    it was earned with, which is the truth the member was told; reviving the points instead
    would make "redeem just before expiry, cancel just after" a way around any expiry policy.
    The lot's ``remaining`` is then left as it is (restored and expired in the same instant),
    and the restoration reports those points as ``expired``. A goodwill credit, if the business
    wants one, is a new earn with its own lot.
    """
    by_id = _by_id(lots)
    changed: dict[int, Lot] = {}
    restored = []
    expired = []
    for allocation in allocations:
        lot = changed.get(allocation.lot_id) or _lot(by_id, allocation.lot_id)
        if lot.is_expired(now):
            expired.append(allocation)
            changed[lot.id] = lot
        else:
            restored.append(allocation)
            changed[lot.id] = replace(lot, remaining=lot.remaining + allocation.points)
    return Restoration(tuple(changed.values()), tuple(restored), tuple(expired))


@dataclass(frozen=True)
class Balance:
    """An account as of an instant, in points.

    ``available`` is what can be spent: spendable lots minus any debt (negative only under the
    ``unlimited`` return policy); ``debt`` is the part of it spendable points do not cover.
    ``pending`` is held and neither spendable nor, by default, qualifying. ``expiring`` is the
    part of ``available`` whose lots expire before ``expiring_before``. ``unrecorded_expiry``
    is what has passed its expiry but still sits in the cached balance until the expiry job
    writes its entries.
    """

    available: int
    pending: int
    expiring: int
    expiring_before: datetime
    debt: int
    unrecorded_expiry: int


def balance_as_of(
    lots: Iterable[Lot], now: datetime, *, debt: int = 0, expiring_within_days: int = 30
) -> Balance:
    """The balance as of ``now`` from the lots alone: right even if no job has run.

    Debt is paid from the soonest-expiring points first (that is the spend order), so it is
    taken off the expiring figure before anything else.
    """
    require_aware(now, "now")
    if expiring_within_days < 0:
        raise ValueError("expiring_within_days must not be negative")
    horizon = now + timedelta(days=expiring_within_days)
    spendable = 0
    pending = 0
    expiring = 0
    unrecorded = 0
    for lot in lots:
        if lot.is_pending(now):
            pending += lot.remaining
        elif lot.is_expired(now):
            unrecorded += lot.remaining
        else:
            spendable += lot.remaining
            if lot.expires_at is not None and lot.expires_at < horizon:
                expiring += lot.remaining
    return Balance(
        available=spendable - debt,
        pending=pending,
        expiring=max(0, expiring - debt),
        expiring_before=horizon,
        # Points that became spendable by themselves (a return window ended) pay debt first,
        # even before a step records the payment.
        debt=max(0, debt - spendable),
        unrecorded_expiry=unrecorded,
    )
