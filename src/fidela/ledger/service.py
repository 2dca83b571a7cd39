"""Ledger use cases: open accounts, earn, spend, cancel, activate and expire points, read
balances and history, verify the cache, merge accounts.

Every step loads the rows it needs into the pure ``rules.journal.Account``, lets the same
``post_*`` step the property tests exercise decide, and persists what it decided: new and
changed lots, the entries (append-only), allocations, and the cached balance by the sum of
the new entries, all in the caller's transaction.

Locking: every writer of an account's lots, entries or cache first holds the account row
(a debit by its guarded ``UPDATE``, every other step by ``SELECT … FOR UPDATE``; on SQLite
the write unit of work holds the database lock from ``BEGIN IMMEDIATE``). Several accounts
are always locked in primary-key order. The lots and entries are read after the lock is
held, so under PostgreSQL's READ COMMITTED they reflect every committed earlier writer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from fidela.kernel.errors import FieldProblem, InvalidInput
from fidela.ledger import repository
from fidela.ledger.models import LedgerAccount, LedgerEntry
from fidela.ledger.rules import (
    Account,
    Allocation,
    Balance,
    Bucket,
    Debit,
    DuplicateReference,
    Entry,
    EntryKind,
    ExpiryDue,
    ExpirySchedule,
    Hold,
    InsufficientPoints,
    InvalidPoints,
    Lot,
    Posting,
    Restoration,
    SpendNotFound,
    balance_as_of,
    cache_of,
    due_activations,
    post_cancel,
    post_due_expiries,
    post_earn,
    post_spend,
)

# Actor of the entries a step writes by itself (activations whose hold ended, expiries).
SYSTEM_ACTOR = "fidela:ledger"
MAX_KEY_LENGTH = 200

R = TypeVar("R")


@dataclass(frozen=True)
class Reason:
    """Why a movement happened: the earning rule, the event, and who asked."""

    rule: str | None = None
    event_id: int | None = None
    actor: str | None = None


@dataclass(frozen=True)
class EarnResult:
    account_id: int
    entry_id: int
    lot: Lot
    replayed: bool


@dataclass(frozen=True)
class SpendResult:
    account_id: int
    entry_id: int
    points: int
    allocations: tuple[Allocation, ...]
    replayed: bool


@dataclass(frozen=True)
class CancelResult:
    account_id: int
    entry_id: int
    restored: int
    expired: int
    replayed: bool


@dataclass(frozen=True)
class JobRun:
    """A run of a ledger job: accounts touched, lots changed, points moved."""

    accounts: int
    lots: int
    points: int


@dataclass(frozen=True)
class HistoryEntry:
    id: int
    kind: str
    bucket: str
    points: int
    at: datetime
    recorded_at: datetime
    lot_id: int | None
    rule: str | None
    event_id: int | None
    reference: str | None
    actor: str | None


@dataclass(frozen=True)
class HistoryPage:
    entries: tuple[HistoryEntry, ...]
    next_before: int | None  # pass as ``before`` for the next (older) page; None: no more


@dataclass(frozen=True)
class Discrepancy:
    """An account whose cache disagrees with its journal or its lots."""

    account_id: int
    customer_id: int
    programme: str
    cached_available: int
    cached_pending: int
    journal_available: int
    journal_pending: int
    lots_available: int
    lots_pending: int


# ------------------------------------------------------------------------------ validation


def debt_debits(debt: int) -> tuple[Debit, ...]:
    """The account's debt as one owed debit for the pure steps, which pay it from the next
    spendable points (the store keeps the total on ``ledger_account.debt``)."""
    return (Debit("debt", EntryKind.CLAWBACK, debt, (), debt),) if debt > 0 else ()


def _check_points(points: int) -> None:
    if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
        raise InvalidPoints(f"points must be a positive whole number, not {points!r}")


def _check_text(value: str, pointer: str, limit: int) -> None:
    if not value.strip() or len(value) > limit:
        message = f"must be 1 to {limit} characters"
        raise InvalidInput(f"{pointer}: {message}", [FieldProblem(pointer, message)])


# ------------------------------------------------------------------------------- persisting


def _entry_key(entry: Entry, main_kind: EntryKind | None, main_key: str | None) -> str | None:
    """The idempotency key of an entry: the caller's for the step's own movement; derived
    from the lot for movements that happen once per lot, so two jobs (or a job and a step
    catching up) can never write them twice."""
    if entry.kind is EntryKind.ACTIVATE:
        return f"activate:{entry.lot_id}:{entry.bucket.value}"
    if entry.kind is main_kind:
        return main_key
    if entry.kind is EntryKind.EXPIRE and main_kind is None:
        return f"expire:{entry.lot_id}"
    return None


def entry_rows(
    account_id: int,
    entries: Sequence[Entry],
    *,
    now: datetime,
    main_kind: EntryKind | None,
    main_key: str | None,
    reason: Reason | None,
) -> list[dict[str, Any]]:
    """The journal rows of a step's entries (their lots' stored ids): the step's own
    movement carries the caller's key, reason and actor; the rest is the system's."""
    why = reason or Reason()
    rows: list[dict[str, Any]] = []
    keyed = False
    for entry in entries:
        own = entry.kind is main_kind
        # A step's own movement may span several lots (a clawback): the first entry carries
        # the idempotency key, the others none (the key is unique per account).
        key = _entry_key(entry, main_kind, None if own and keyed else main_key)
        keyed = keyed or (own and key is not None)
        rows.append(
            {
                "account_id": account_id,
                "kind": entry.kind.value,
                "bucket": entry.bucket.value,
                "points": entry.points,
                "at": entry.at,
                "recorded_at": now,
                "lot_id": entry.lot_id,
                "rule": why.rule if own else None,
                "event_id": why.event_id if own else None,
                "reference": entry.ref,
                "actor": why.actor if own else SYSTEM_ACTOR,
                "key": key,
            }
        )
    return rows


def _persist(
    session: Session,
    *,
    account_id: int,
    loaded: Sequence[Lot],
    posting: Posting[R],
    now: datetime,
    main_kind: EntryKind | None = None,
    main_key: str | None = None,
    reason: Reason | None = None,
    already_applied: int = 0,
) -> tuple[list[int], dict[int, int]]:
    """Write what a pure step decided: new lots, changed lots, entries, the cache.

    Returns the entry ids (in the posting's order) and the map of the step's provisional
    lot ids to the stored ones. ``already_applied`` is what a guarded debit already took off
    the active bucket.
    """
    before = {lot.id: lot for lot in loaded}
    ids: dict[int, int] = {}
    changed: list[Lot] = []
    for lot in posting.account.lots:
        if lot.id not in before:
            ids[lot.id] = repository.add_lot(session, account_id=account_id, lot=lot)
        elif lot != before[lot.id]:
            changed.append(lot)
    repository.save_lots(session, changed)
    rows = entry_rows(
        account_id,
        [
            entry if entry.lot_id not in ids else replace(entry, lot_id=ids[entry.lot_id])
            for entry in posting.entries
        ],
        now=now,
        main_kind=main_kind,
        main_key=main_key,
        reason=reason,
    )
    entry_ids = repository.add_entries(session, rows)
    delta = cache_of(posting.entries)
    repository.add_to_cache(
        session,
        account_id=account_id,
        active=delta.active + already_applied,
        pending=delta.pending,
        now=now,
    )
    return entry_ids, ids


def _main_entry_id(posting: Posting[R], entry_ids: Sequence[int], kind: EntryKind) -> int:
    return next(
        entry_id
        for entry, entry_id in zip(posting.entries, entry_ids, strict=True)
        if entry.kind is kind
    )


# ---------------------------------------------------------------------------------- verbs


def open_account(
    session: Session, *, customer_id: int, programme: str, now: datetime
) -> LedgerAccount:
    """The customer's account in ``programme``, created empty if missing (idempotent: an
    ``INSERT … ON CONFLICT DO NOTHING`` on (customer, programme), never check-then-insert)."""
    _check_text(programme, "/programme", 64)
    repository.insert_account_if_missing(
        session, customer_id=customer_id, programme=programme, now=now
    )
    account = repository.find_account(session, customer_id=customer_id, programme=programme)
    if account is None:  # pragma: no cover - the row was just inserted or already there
        raise RuntimeError(f"ledger account of customer {customer_id} in {programme} vanished")
    return account


def _lock(session: Session, account_id: int) -> LedgerAccount:
    account = repository.lock_account(session, account_id)
    if account is None:  # pragma: no cover - accounts are only deleted by a merge
        raise RuntimeError(f"ledger account {account_id} vanished")
    return account


def earn_points(
    session: Session,
    *,
    customer_id: int,
    programme: str,
    points: int,
    now: datetime,
    key: str,
    ref: str | None = None,
    hold: Hold | None = None,
    expiry: ExpirySchedule | None = None,
    reason: Reason | None = None,
    earned_at: datetime | None = None,
) -> EarnResult:
    """Credit ``points`` (a positive int) to the customer's account as a new lot dated
    ``earned_at`` (the purchase; ``now`` when not given, clamped to ``now``): pending under
    ``hold`` from that date, expiring under the policy of ``expiry`` in force at that date.

    ``key`` identifies the posting (say ``order:<id>``): the same key again, under whatever
    request id, returns the first result and writes nothing; with other points it is a
    ``DuplicateReference``. ``ref`` is what the lot was earned for (the order a return will
    name). The cache moves by exactly the entries written.
    """
    _check_points(points)
    _check_text(key, "/key", MAX_KEY_LENGTH)
    account = open_account(session, customer_id=customer_id, programme=programme, now=now)
    account_id = account.id
    locked = _lock(session, account_id)
    owed = locked.debt
    entry_key = f"earn:{key}"
    # Looked up under the account lock: a concurrent twin waits for our commit, then sees the
    # entry; the unique (account_id, key) constraint backs this up.
    first = repository.find_entry_by_key(session, account_id=account_id, key=entry_key)
    if first is not None:
        if first.points != points or first.lot_id is None:
            raise DuplicateReference(f"earn '{key}' was posted with {first.points} points")
        lot = repository.get_lot(session, first.lot_id)
        return EarnResult(account_id, first.id, lot, replayed=True)
    loaded = repository.due_pending_lots(session, account_id=account_id, now=now)
    posting = post_earn(
        Account(lots=tuple(loaded), debits=debt_debits(owed)),
        ref=ref or key,
        points=points,
        now=now,
        hold=hold,
        expiry=expiry,
        earned_at=earned_at,
    )
    entry_ids, ids = _persist(
        session,
        account_id=account_id,
        loaded=loaded,
        posting=posting,
        now=now,
        main_kind=EntryKind.EARN,
        main_key=entry_key,
        reason=reason,
    )
    # New active points pay the debt a clawback left (no entry: lots and debt shrink alike).
    repository.add_debt(session, account_id=account_id, points=posting.account.debt - owed)
    lot = next(lot for lot in posting.account.lots if lot.id == posting.result.id)
    stored = replace(lot, id=ids[lot.id])
    return EarnResult(account_id, _main_entry_id(posting, entry_ids, EntryKind.EARN), stored, False)


def _spend_replay(
    session: Session, account_id: int, first: LedgerEntry, points: int, ref: str
) -> SpendResult:
    if -first.points != points:
        raise DuplicateReference(f"spend '{ref}' was posted with {-first.points} points")
    held = repository.held_by_debit(session, first.id)
    return SpendResult(account_id, first.id, points, held, replayed=True)


def _activate_account(
    session: Session, account_id: int, loaded: Sequence[Lot], now: datetime
) -> tuple[int, int]:
    """Write the activations of ``loaded``, the account's lots whose hold ended (the account
    must be locked); the number of lots and of points activated."""
    flipped = due_activations(loaded, now)
    if not flipped:
        return 0, 0
    # The same pair of entries the pure steps write when they catch up (rules.journal).
    entries = tuple(
        entry
        for lot in flipped
        if lot.remaining > 0 and lot.activates_at is not None
        for entry in (
            Entry(
                EntryKind.ACTIVATE,
                Bucket.PENDING,
                -lot.remaining,
                lot.activates_at,
                lot.ref,
                lot.id,
            ),
            Entry(
                EntryKind.ACTIVATE, Bucket.ACTIVE, lot.remaining, lot.activates_at, lot.ref, lot.id
            ),
        )
    )
    posting: Posting[None] = Posting(Account(lots=flipped), entries, None)
    _persist(session, account_id=account_id, loaded=loaded, posting=posting, now=now)
    return len(flipped), sum(lot.remaining for lot in flipped)


def spend_points(
    session: Session,
    *,
    customer_id: int,
    programme: str,
    points: int,
    now: datetime,
    ref: str,
    reason: Reason | None = None,
) -> SpendResult:
    """Debit ``points`` (a positive int) for ``ref`` (a redemption, a points payment) from the
    spendable lots as of ``now``, soonest-expiring first; all or nothing.

    The first write is the guarded ``UPDATE … SET available = available - n WHERE available
    >= n``: concurrent spends queue on that row and none can overdraw. Then the rules allocate
    over the lots read under that lock. ``InsufficientPoints`` leaves nothing written (the
    guarded debit is put back in the same transaction). ``ref`` is the idempotency key: the
    same spend again returns the first result.
    """
    _check_points(points)
    _check_text(ref, "/ref", MAX_KEY_LENGTH)
    account = repository.find_account(session, customer_id=customer_id, programme=programme)
    if account is None:
        raise InsufficientPoints(
            f"{points} points requested, 0 spendable", requested=points, available=0
        )
    account_id = account.id
    key = f"spend:{ref}"
    if not repository.debit_if_covered(session, account_id=account_id, points=points):
        # Slow path, only when the cache does not cover the spend: it may be a replay of a
        # spend that emptied the balance, or pending points whose hold ended may make up the
        # difference once their activation is written.
        locked = _lock(session, account_id)
        first = repository.find_entry_by_key(session, account_id=account_id, key=key)
        if first is not None:
            return _spend_replay(session, account_id, first, points, ref)
        due = repository.due_pending_lots(session, account_id=account_id, now=now)
        # Activate only when that makes the debit go through: a refused spend writes nothing.
        covered = locked.available + sum(lot.remaining for lot in due) >= points
        if covered:
            _activate_account(session, account_id, due, now)
        if not covered or not repository.debit_if_covered(
            session, account_id=account_id, points=points
        ):
            available = balance_as_of(
                repository.live_lots(session, account_id=account_id), now, debt=locked.debt
            ).available
            raise InsufficientPoints(
                f"{points} points requested, {max(0, available)} spendable",
                requested=points,
                available=max(0, available),
            )
    first = repository.find_entry_by_key(session, account_id=account_id, key=key)
    if first is not None:
        repository.undo_debit(session, account_id=account_id, points=points)
        return _spend_replay(session, account_id, first, points, ref)
    loaded = repository.spendable_candidates(session, account_id=account_id, now=now)
    try:
        posting = post_spend(Account(lots=tuple(loaded)), ref=ref, points=points, now=now)
    except InsufficientPoints:
        # The cache covered the spend but the lots do not: points past their expiry that the
        # expiry job has not written yet. Put the guarded debit back: nothing is written.
        repository.undo_debit(session, account_id=account_id, points=points)
        raise
    entry_ids, _ = _persist(
        session,
        account_id=account_id,
        loaded=loaded,
        posting=posting,
        now=now,
        main_kind=EntryKind.SPEND,
        main_key=key,
        reason=reason,
        already_applied=points,
    )
    entry_id = _main_entry_id(posting, entry_ids, EntryKind.SPEND)
    repository.add_allocations(
        session, debit_id=entry_id, entry_id=entry_id, allocations=posting.result, sign=1
    )
    return SpendResult(account_id, entry_id, points, posting.result, replayed=False)


def cancel_spend(
    session: Session,
    *,
    customer_id: int,
    programme: str,
    ref: str,
    now: datetime,
    reason: Reason | None = None,
) -> CancelResult:
    """Cancel spend ``ref``: every point it still holds goes back to the lot it came from,
    with that lot's expiry; points whose lot expired meanwhile come back expired (a cancel
    entry and an expire entry). Idempotent: cancelling again returns the first result."""
    _check_text(ref, "/ref", MAX_KEY_LENGTH)
    account = repository.find_account(session, customer_id=customer_id, programme=programme)
    if account is None:
        raise SpendNotFound(f"no spend '{ref}'")
    account_id = account.id
    _lock(session, account_id)
    key = f"cancel:{ref}"
    first = repository.find_entry_by_key(session, account_id=account_id, key=key)
    if first is not None:
        expired = repository.expired_on_cancel(
            session, account_id=account_id, ref=ref, cancel_id=first.id
        )
        return CancelResult(account_id, first.id, first.points - expired, expired, replayed=True)
    spend = repository.find_entry_by_key(session, account_id=account_id, key=f"spend:{ref}")
    if spend is None:
        raise SpendNotFound(f"no spend '{ref}'")
    held = repository.held_by_debit(session, spend.id)
    loaded = repository.lots_by_id(session, account_id=account_id, ids=[a.lot_id for a in held])
    due = repository.due_pending_lots(session, account_id=account_id, now=now)
    loaded += [lot for lot in due if lot.id not in {a.lot_id for a in held}]
    debit = Debit(ref, EntryKind.SPEND, -spend.points, held)
    posting = post_cancel(Account(lots=tuple(loaded), debits=(debit,)), ref=ref, now=now)
    entry_ids, _ = _persist(
        session,
        account_id=account_id,
        loaded=loaded,
        posting=posting,
        now=now,
        main_kind=EntryKind.CANCEL,
        main_key=key,
        reason=reason,
    )
    entry_id = _main_entry_id(posting, entry_ids, EntryKind.CANCEL)
    restoration: Restoration = posting.result
    repository.add_allocations(
        session,
        debit_id=spend.id,
        entry_id=entry_id,
        allocations=(*restoration.restored, *restoration.expired),
        sign=-1,
    )
    return CancelResult(
        account_id,
        entry_id,
        restoration.restored_points,
        restoration.expired_points,
        replayed=False,
    )


def activate_due(session: Session, *, now: datetime, limit: int | None = None) -> JobRun:
    """Job: activate every pending lot whose hold ended by ``now`` (up to ``limit`` accounts,
    in id order, each locked in turn). Balances read as of now are right without it; it moves
    the points from the pending to the active bucket of the cache and the journal."""
    accounts = repository.accounts_with_due_activation(session, now=now, limit=limit)
    lots = 0
    points = 0
    for account_id in accounts:
        _lock(session, account_id)
        due = repository.due_pending_lots(session, account_id=account_id, now=now)
        activated, moved = _activate_account(session, account_id, due, now)
        lots += activated
        points += moved
    return JobRun(len(accounts), lots, points)


def expire_due(session: Session, *, now: datetime, limit: int | None = None) -> JobRun:
    """Job: write an ``expire`` entry (at the lot's deadline) for every lot past its expiry
    with points left, up to ``limit`` accounts in id order, each locked in turn. Each lot
    expires once (its entry key is per lot), so overlapping runs cannot expire twice."""
    accounts = repository.accounts_with_due_expiry(session, now=now, limit=limit)
    lots = 0
    points = 0
    for account_id in accounts:
        _lock(session, account_id)
        loaded = repository.expiry_candidates(session, account_id=account_id, now=now)
        posting = post_due_expiries(Account(lots=tuple(loaded)), now=now)
        _persist(session, account_id=account_id, loaded=loaded, posting=posting, now=now)
        due: tuple[ExpiryDue, ...] = posting.result
        lots += len(due)
        points += sum(item.points for item in due)
    return JobRun(len(accounts), lots, points)


def balance(
    session: Session,
    *,
    customer_id: int,
    programme: str,
    now: datetime,
    expiring_within_days: int = 30,
) -> Balance:
    """The balance as of ``now`` in points (available, pending, expiring within
    ``expiring_within_days``), from the lots: right before the jobs have run. A customer with
    no account has a zero balance."""
    account = repository.find_account(session, customer_id=customer_id, programme=programme)
    lots = [] if account is None else repository.live_lots(session, account_id=account.id)
    return balance_as_of(
        lots,
        now,
        debt=0 if account is None else account.debt,
        expiring_within_days=expiring_within_days,
    )


def history(
    session: Session,
    *,
    customer_id: int,
    programme: str,
    limit: int = 50,
    before: int | None = None,
) -> HistoryPage:
    """The account's entries, newest first, with their reasons; ``limit`` (1 to 500) per
    page, ``before`` the cursor a previous page returned."""
    if not 1 <= limit <= 500:
        raise InvalidInput("/limit: must be 1 to 500", [FieldProblem("/limit", "1 to 500")])
    account = repository.find_account(session, customer_id=customer_id, programme=programme)
    if account is None:
        return HistoryPage((), None)
    rows = repository.entries_page(session, account_id=account.id, before=before, limit=limit + 1)
    page = tuple(
        HistoryEntry(
            id=row.id,
            kind=row.kind,
            bucket=row.bucket,
            points=row.points,
            at=row.at,
            recorded_at=row.recorded_at,
            lot_id=row.lot_id,
            rule=row.rule,
            event_id=row.event_id,
            reference=row.reference,
            actor=row.actor,
        )
        for row in rows[:limit]
    )
    return HistoryPage(page, page[-1].id if len(rows) > limit else None)


def verify(session: Session) -> list[Discrepancy]:
    """Accounts whose cached balance is not the sum of their entries per bucket, or not what
    their lots hold (``available = active lots - debt``, ``pending = pending lots``). Empty
    when the ledger is consistent."""
    return [
        Discrepancy(
            account_id=s.account_id,
            customer_id=s.customer_id,
            programme=s.programme,
            cached_available=s.cached_available,
            cached_pending=s.cached_pending,
            journal_available=s.journal_available,
            journal_pending=s.journal_pending,
            lots_available=s.lots_active - s.debt,
            lots_pending=s.lots_pending,
        )
        for s in repository.account_sums(session)
        if (s.cached_available, s.cached_pending) != (s.journal_available, s.journal_pending)
        or (s.cached_available, s.cached_pending) != (s.lots_active - s.debt, s.lots_pending)
    ]


def merge_accounts(session: Session, survivor_id: int, merged_id: int, now: datetime) -> int:
    """Customer-merge handler for ``ledger_account``: the merged customer's accounts move to
    the survivor; where both hold an account in one programme, the merged one's lots and
    entries move into the survivor's, its cache is recomputed from the journal and the empty
    account is deleted. Sums are conserved. Returns the rows moved (accounts, lots, entries).

    Entry keys the survivor's account already uses are prefixed ``merged:<account id>:`` so
    the unique (account, key) constraint holds and no posting is lost.
    """
    accounts = repository.lock_accounts_of(session, [survivor_id, merged_id])
    kept = {a.programme: a.id for a in accounts if a.customer_id == survivor_id}
    moved = 0
    for account in accounts:
        if account.customer_id != merged_id:
            continue
        target = kept.get(account.programme)
        if target is None:
            repository.move_account(
                session, account_id=account.id, customer_id=survivor_id, now=now
            )
            moved += 1
            continue
        moved += repository.move_lots_and_entries(
            session, from_account=account.id, to_account=target
        )
        debt = account.debt + next(a.debt for a in accounts if a.id == target)
        repository.delete_account(session, account.id)
        (sums,) = repository.account_sums(session, [target])
        repository.set_cache(
            session,
            account_id=target,
            available=sums.journal_available,
            pending=sums.journal_pending,
            debt=debt,
            now=now,
        )
        moved += 1
    return moved
