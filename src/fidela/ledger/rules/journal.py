"""The journal and the account: every movement as an entry, and the reference model that
composes the lot, expiry and return rules over one whole account.

Entries are append-only and signed, each in a bucket: ``pending`` for held points, ``active``
for the rest (spendable, debt, and expired points the job has not written yet). The cached
balance of an account is the sum of its entries per bucket, and it always equals, per
bucket, what the lots hold::

    cache.pending == sum(remaining of lots stored as pending)
    cache.active  == sum(remaining of lots stored as active) - debt

A store keeps exactly these structures (lots, debits with their allocations, entries, cache)
and applies the same ``post_*`` steps to the rows it loads; ``replay`` runs a whole history,
which is how tests (and ``fidela ledger verify``) prove cache = sum of entries.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Generic, TypeAlias, TypeVar

from fidela.ledger.rules.errors import (
    DuplicateReference,
    InvalidPoints,
    NothingPending,
    NothingToRestore,
    RestoreExceedsSpend,
    SpendNotFound,
)
from fidela.ledger.rules.expiry import (
    Activity,
    ExpiryDue,
    ExpirySchedule,
    Hold,
    activate,
    due_activations,
    due_expiries,
    extend_on_activity,
    new_lot,
    released_by,
)
from fidela.ledger.rules.lots import (
    Allocation,
    Balance,
    Lot,
    LotState,
    Restoration,
    allocate,
    balance_as_of,
    draw,
    plan_restore,
    require_aware,
    require_positive,
    restore,
    spendable_lots,
    take,
)
from fidela.ledger.rules.returns import ClawbackPlan, ReturnPolicy, plan_clawback


class Bucket(StrEnum):
    ACTIVE = "active"
    PENDING = "pending"


class EntryKind(StrEnum):
    EARN = "earn"  # + a new lot (pending or active bucket)
    ACTIVATE = "activate"  # a pair: - pending, + active, same lot
    SPEND = "spend"  # - active, allocations say which lots
    CANCEL = "cancel"  # + active, a spend given back whole
    GIVE_BACK = "give_back"  # + active, part of a spend given back (refund of a points payment)
    CLAWBACK = "clawback"  # - one lot, or (no lot) the part owed as debt
    EXPIRE = "expire"  # - one lot's remaining, past its expiry


@dataclass(frozen=True)
class Entry:
    """One signed movement. ``at`` is when it took effect (an expiry at the lot's deadline,
    an activation at the end of its hold), not when a job noticed it."""

    kind: EntryKind
    bucket: Bucket
    points: int
    at: datetime
    ref: str | None = None
    lot_id: int | None = None


@dataclass(frozen=True)
class CachedBalance:
    active: int = 0
    pending: int = 0

    def plus(self, entries: Iterable[Entry]) -> CachedBalance:
        active, pending = self.active, self.pending
        for entry in entries:
            if entry.bucket is Bucket.ACTIVE:
                active += entry.points
            else:
                pending += entry.points
        return CachedBalance(active, pending)


def cache_of(entries: Iterable[Entry]) -> CachedBalance:
    """The balance a cache must hold for these entries: their sum per bucket."""
    return CachedBalance().plus(entries)


@dataclass(frozen=True)
class Debit:
    """A spend or a clawback and where its points came from.

    ``allocations`` are what is still taken per lot (given-back points are subtracted), so a
    cancellation restores exactly them. ``owed`` is the part no lot covered yet (debt, under
    the unlimited return policy); points that become available pay it and are allocated here.
    """

    ref: str
    kind: EntryKind
    points: int
    allocations: tuple[Allocation, ...] = ()
    owed: int = 0

    @property
    def outstanding(self) -> int:
        return sum(a.points for a in self.allocations)


@dataclass(frozen=True)
class Account:
    lots: tuple[Lot, ...] = ()
    debits: tuple[Debit, ...] = ()
    cache: CachedBalance = field(default_factory=CachedBalance)

    @property
    def debt(self) -> int:
        return sum(debit.owed for debit in self.debits)

    def debit(self, ref: str) -> Debit | None:
        return next((debit for debit in self.debits if debit.ref == ref), None)

    @property
    def next_lot_id(self) -> int:
        return max((lot.id for lot in self.lots), default=0) + 1


R = TypeVar("R", covariant=True)


@dataclass(frozen=True)
class Posting(Generic[R]):
    """The account after a step, the entries the step appends, and what it decided."""

    account: Account
    entries: tuple[Entry, ...]
    result: R


def _with_lots(account: Account, changed: Iterable[Lot]) -> Account:
    updates = {lot.id: lot for lot in changed}
    if not updates:
        return account
    lots = tuple(updates.pop(lot.id, lot) for lot in account.lots) + tuple(updates.values())
    return replace(account, lots=lots)


def _with_debit(account: Account, debit: Debit) -> Account:
    others = tuple(d for d in account.debits if d.ref != debit.ref)
    if len(others) == len(account.debits):
        return replace(account, debits=(*account.debits, debit))
    return replace(
        account, debits=tuple(debit if d.ref == debit.ref else d for d in account.debits)
    )


def _post(account: Account, entries: Sequence[Entry]) -> Account:
    return replace(account, cache=account.cache.plus(entries))


def _minus(
    allocations: Iterable[Allocation], given: Iterable[Allocation]
) -> tuple[Allocation, ...]:
    left: dict[int, int] = {}
    for allocation in allocations:
        left[allocation.lot_id] = left.get(allocation.lot_id, 0) + allocation.points
    for allocation in given:
        left[allocation.lot_id] -= allocation.points
    return tuple(Allocation(lot_id, points) for lot_id, points in left.items() if points > 0)


def _activation_entries(lot: Lot, at: datetime) -> tuple[Entry, ...]:
    if lot.remaining == 0:
        return ()
    return (
        Entry(EntryKind.ACTIVATE, Bucket.PENDING, -lot.remaining, at, lot.ref, lot.id),
        Entry(EntryKind.ACTIVATE, Bucket.ACTIVE, lot.remaining, at, lot.ref, lot.id),
    )


def _catch_up(account: Account, now: datetime) -> tuple[Account, list[Entry]]:
    """Write the activations whose hold ended, then pay debt from available points.

    Every step starts here so that a lot drawn from is stored as active (its points are in
    the active bucket) and debt never coexists with spendable points once a step is done.
    """
    flipped = due_activations(account.lots, now)
    if not flipped:  # the common case (a new or settled account): nothing to write or move
        return _settle_debt(account, now), []
    entries = [
        entry
        for lot in flipped
        if lot.activates_at is not None
        for entry in _activation_entries(lot, lot.activates_at)
    ]
    account = _post(_with_lots(account, flipped), entries)
    return _settle_debt(account, now), entries


def _settle_debt(account: Account, now: datetime) -> Account:
    """Pay debt, oldest first, from the soonest-expiring spendable points. The cache does not
    move (points leave lots, debt shrinks by as much): only allocations are written."""
    for debit in account.debits:
        if debit.owed == 0:
            continue
        paid = draw(spendable_lots(account.lots, now), debit.owed)
        if not paid:
            break
        settled = replace(
            debit,
            allocations=(*debit.allocations, *paid),
            owed=debit.owed - sum(a.points for a in paid),
        )
        account = _with_debit(_with_lots(account, take(account.lots, paid)), settled)
    return account


def _refuse_taken(account: Account, ref: str) -> None:
    if account.debit(ref) is not None:
        raise DuplicateReference(f"a spend or clawback '{ref}' exists already")


def post_earn(
    account: Account,
    *,
    ref: str,
    points: int,
    now: datetime,
    hold: Hold | None = None,
    expiry: ExpirySchedule | None = None,
    earned_at: datetime | None = None,
) -> Posting[Lot]:
    """Earn ``points`` for ``ref``: a new lot dated ``earned_at`` (the purchase; ``now`` when
    not given, and never later than ``now``: nobody earns tomorrow's points today).

    The lot's policy, hold end and expiry all count from that date, so an order imported a
    year late is not given a fresh validity. A hold already over by ``now`` leaves the lot
    active at once; a lot already past its expiry is earned and, as of ``now``, expired
    (not spendable; the expiry job writes its entry like any other's). The earn entry is
    dated ``earned_at`` too, so tier windows count the points when they were earned.
    """
    require_aware(now, "now")
    account, entries = _catch_up(account, now)
    lot, earned = earned_lot(
        account.next_lot_id,
        ref=ref,
        points=points,
        now=now,
        hold=hold,
        expiry=expiry,
        earned_at=earned_at,
    )
    account = _settle_debt(_post(_with_lots(account, [lot]), [earned]), now)
    return Posting(account, (*entries, earned), lot)


def earned_lot(
    lot_id: int,
    *,
    ref: str,
    points: int,
    now: datetime,
    hold: Hold | None = None,
    expiry: ExpirySchedule | None = None,
    earned_at: datetime | None = None,
) -> tuple[Lot, Entry]:
    """The lot an earn creates and its earn entry, before either touches an account (the
    part of `post_earn` that depends on nothing else: what a set-based earn posts for an
    account owing nothing)."""
    require_aware(now, "now")
    dated = now if earned_at is None else min(earned_at, now)
    require_aware(dated, "earned_at")
    policy = (expiry or ExpirySchedule()).in_force(dated)
    lot = new_lot(
        lot_id,
        points,
        earned_at=dated,
        hold=hold or Hold.immediate(),
        policy=policy,
        ref=ref,
    )
    # Its return window already over (a late import): active from the start, one entry.
    lot = next(iter(due_activations([lot], now)), lot)
    bucket = Bucket.PENDING if lot.state is LotState.PENDING else Bucket.ACTIVE
    return lot, Entry(EntryKind.EARN, bucket, points, dated, ref, lot.id)


def post_activation(
    account: Account,
    *,
    ref: str,
    now: datetime,
    expiry: ExpirySchedule | None = None,
    event: str | None = None,
    unnamed: bool = True,
) -> Posting[tuple[Lot, ...]]:
    """Activate the lots of ``ref`` that activation event ``event`` releases (see
    ``released_by``; ``None``: every pending lot of ``ref``); their expiry clock starts now."""
    account, entries = _catch_up(account, now)
    schedule = expiry or ExpirySchedule()
    held = [
        lot
        for lot in account.lots
        if lot.ref == ref and released_by(lot, event, unnamed=unnamed, now=now)
    ]
    if not held:
        raise NothingPending(f"no pending points for '{ref}'")
    activated = tuple(activate(lot, now, schedule.in_force(lot.earned_at)) for lot in held)
    moved = [entry for lot in activated for entry in _activation_entries(lot, now)]
    account = _settle_debt(_post(_with_lots(account, activated), moved), now)
    return Posting(account, (*entries, *moved), activated)


def post_spend(
    account: Account, *, ref: str, points: int, now: datetime
) -> Posting[tuple[Allocation, ...]]:
    """Spend ``points`` (a redemption, a points payment) from spendable lots in spend order.

    All or nothing: ``InsufficientPoints`` leaves the account untouched.
    """
    require_positive(points)
    _refuse_taken(account, ref)
    account, entries = _catch_up(account, now)
    allocations = allocate(account.lots, points, now)
    spent = Entry(EntryKind.SPEND, Bucket.ACTIVE, -points, now, ref)
    account = _with_lots(account, take(account.lots, allocations))
    account = _with_debit(_post(account, [spent]), Debit(ref, EntryKind.SPEND, points, allocations))
    return Posting(account, (*entries, spent), allocations)


def _spend(account: Account, ref: str) -> Debit:
    debit = account.debit(ref)
    if debit is None or debit.kind is not EntryKind.SPEND:
        raise SpendNotFound(f"no spend '{ref}'")
    return debit


def _give_back(
    account: Account, debit: Debit, parts: Sequence[Allocation], kind: EntryKind, now: datetime
) -> tuple[Account, list[Entry], Restoration]:
    restoration = restore(account.lots, parts, now)
    entries = [Entry(kind, Bucket.ACTIVE, restoration.points, now, debit.ref)]
    # Restored into a lot that expired meanwhile: they arrive expired (see lots.restore).
    entries += [
        Entry(EntryKind.EXPIRE, Bucket.ACTIVE, -a.points, now, debit.ref, a.lot_id)
        for a in restoration.expired
    ]
    account = _with_lots(account, restoration.lots)
    account = _with_debit(account, replace(debit, allocations=_minus(debit.allocations, parts)))
    return _settle_debt(_post(account, entries), now), entries, restoration


def post_cancel(account: Account, *, ref: str, now: datetime) -> Posting[Restoration]:
    """Cancel spend ``ref``: every point it still holds goes back to its original lot."""
    if _spend(account, ref).outstanding == 0:
        raise NothingToRestore(f"spend '{ref}' has nothing left to give back")
    account, entries = _catch_up(account, now)
    debit = _spend(account, ref)
    account, given, restoration = _give_back(
        account, debit, debit.allocations, EntryKind.CANCEL, now
    )
    return Posting(account, (*entries, *given), restoration)


@dataclass(frozen=True)
class ReturnOutcome:
    given_back: Restoration | None
    clawback: ClawbackPlan


def post_return(
    account: Account,
    *,
    ref: str,
    order_ref: str,
    claw_back: int,
    now: datetime,
    policy: ReturnPolicy,
    give_back: int = 0,
    paid_with: str | None = None,
) -> Posting[ReturnOutcome]:
    """Book a return of order ``order_ref``: give back ``give_back`` points of the spend
    ``paid_with`` that paid for it, then claw back ``claw_back`` points it earned.

    The amounts come from ``points_to_give_back`` and ``points_to_claw_back``. The give-back
    is a credit to the spend's original lots, pro rata; the points paid are never clawed as if
    earned, so refunding an order paid with points cannot charge them twice. It is booked
    first so that, under ``within_balance``, a clawback can net against it rather than be
    forgiven while the same return credits the member.
    """
    if claw_back < 0 or give_back < 0:
        raise InvalidPoints("points clawed or given back must not be negative")
    _refuse_taken(account, ref)
    if give_back:
        if paid_with is None:
            raise SpendNotFound("points to give back need the spend that paid for the order")
        held = _spend(account, paid_with).outstanding
        if give_back > held:
            raise RestoreExceedsSpend(
                f"{give_back} points to give back, spend '{paid_with}' holds {held}"
            )
    account, entries = _catch_up(account, now)
    restoration = None
    if give_back and paid_with is not None:
        spend = _spend(account, paid_with)
        parts = plan_restore(spend.allocations, give_back)
        account, given, restoration = _give_back(account, spend, parts, EntryKind.GIVE_BACK, now)
        entries += given
    plan = plan_clawback(
        claw_back, order_ref=order_ref, lots=account.lots, now=now, policy=policy, debt=account.debt
    )
    by_id = {lot.id: lot for lot in account.lots}
    clawed = [
        Entry(EntryKind.CLAWBACK, bucket, -a.points, now, ref, a.lot_id)
        for bucket, allocations in ((Bucket.PENDING, plan.pending), (Bucket.ACTIVE, plan.active))
        for a in allocations
    ]
    if plan.owed:
        clawed.append(Entry(EntryKind.CLAWBACK, Bucket.ACTIVE, -plan.owed, now, ref))
    taken = (*plan.pending, *plan.active)
    if taken or plan.owed:
        account = _with_lots(account, take(by_id.values(), taken))
        debit = Debit(ref, EntryKind.CLAWBACK, plan.taken + plan.owed, taken, plan.owed)
        account = _with_debit(_post(account, clawed), debit)
    return Posting(account, (*entries, *clawed), ReturnOutcome(restoration, plan))


def post_activity(
    account: Account, activity: Activity, *, expiry: ExpirySchedule | None = None
) -> Posting[tuple[Lot, ...]]:
    """Record member activity: under an activity policy it pushes expiry; no entry moves."""
    policy = (expiry or ExpirySchedule()).in_force(activity.at)
    pushed = extend_on_activity(account.lots, policy, activity)
    return Posting(_with_lots(account, pushed), (), pushed)


def post_due_expiries(account: Account, *, now: datetime) -> Posting[tuple[ExpiryDue, ...]]:
    """The expiry job: write an expire entry for every lot past its expiry, at its deadline."""
    account, entries = _catch_up(account, now)
    due = due_expiries(account.lots, now)
    by_id = {lot.id: lot for lot in account.lots}
    expired = [
        Entry(
            EntryKind.EXPIRE,
            Bucket.ACTIVE,
            -item.points,
            item.expired_at,
            by_id[item.lot_id].ref,
            item.lot_id,
        )
        for item in due
    ]
    emptied = [replace(by_id[item.lot_id], remaining=0) for item in due]
    account = _post(_with_lots(account, emptied), expired)
    return Posting(account, (*entries, *expired), due)


def balance(account: Account, now: datetime, *, expiring_within_days: int = 30) -> Balance:
    """The account's balance as of ``now``, right whether or not any job has run."""
    require_aware(now, "now")
    return balance_as_of(
        account.lots, now, debt=account.debt, expiring_within_days=expiring_within_days
    )


# ----------------------------------------------------------------- operations, for replay


@dataclass(frozen=True)
class Earn:
    """An earn; ``age`` is how long before the instant it is applied the purchase happened
    (an order ingested late)."""

    ref: str
    points: int
    hold: Hold = field(default_factory=Hold.immediate)
    age: timedelta = timedelta(0)


@dataclass(frozen=True)
class Activate:
    ref: str
    event: str | None = None


@dataclass(frozen=True)
class Spend:
    ref: str
    points: int


@dataclass(frozen=True)
class Cancel:
    ref: str


@dataclass(frozen=True)
class Return:
    ref: str
    order_ref: str
    claw_back: int
    give_back: int = 0
    paid_with: str | None = None


@dataclass(frozen=True)
class RecordActivity:
    kind: str
    points: int = 0


@dataclass(frozen=True)
class ExpireDue:
    """A run of the expiry job."""


Operation: TypeAlias = Earn | Activate | Spend | Cancel | Return | RecordActivity | ExpireDue


def apply(
    account: Account,
    operation: Operation,
    now: datetime,
    *,
    returns: ReturnPolicy,
    expiry: ExpirySchedule | None = None,
) -> Posting[object]:
    """Apply one operation at ``now``; a refused operation raises and changes nothing."""
    match operation:
        case Earn():
            return post_earn(
                account,
                ref=operation.ref,
                points=operation.points,
                now=now,
                hold=operation.hold,
                expiry=expiry,
                earned_at=now - operation.age,
            )
        case Activate():
            return post_activation(
                account, ref=operation.ref, now=now, expiry=expiry, event=operation.event
            )
        case Spend():
            return post_spend(account, ref=operation.ref, points=operation.points, now=now)
        case Cancel():
            return post_cancel(account, ref=operation.ref, now=now)
        case Return():
            return post_return(
                account,
                ref=operation.ref,
                order_ref=operation.order_ref,
                claw_back=operation.claw_back,
                give_back=operation.give_back,
                paid_with=operation.paid_with,
                now=now,
                policy=returns,
            )
        case RecordActivity():
            activity = Activity(operation.kind, now, operation.points)
            return post_activity(account, activity, expiry=expiry)
        case ExpireDue():
            return post_due_expiries(account, now=now)


@dataclass(frozen=True)
class Replay:
    account: Account
    entries: tuple[Entry, ...]


def replay(
    timeline: Iterable[tuple[datetime, Operation]],
    *,
    returns: ReturnPolicy,
    expiry: ExpirySchedule | None = None,
    account: Account | None = None,
) -> Replay:
    """Run a history of operations, each at its instant; the first refusal raises."""
    current = account or Account()
    entries: list[Entry] = []
    for now, operation in timeline:
        posting = apply(current, operation, now, returns=returns, expiry=expiry)
        current = posting.account
        entries.extend(posting.entries)
    return Replay(current, tuple(entries))
