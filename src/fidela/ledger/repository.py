"""Ledger queries. Balance columns move only through SQL expressions (``available =
available + :n``), never read-modify-write in Python, so no update is ever lost."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, delete, func, literal, or_, select, update
from sqlalchemy.orm import Session

from fidela.ledger.models import LedgerAccount, LedgerAllocation, LedgerEntry, LedgerLot
from fidela.ledger.rules import Allocation, Bucket, EntryKind, Lot, LotState
from fidela.platform.bulk import select_matching
from fidela.platform.db import table_of
from fidela.platform.id_lists import one_of
from fidela.platform.upsert import insert_ignoring_conflicts


def insert_account_if_missing(
    session: Session, *, customer_id: int, programme: str, now: datetime
) -> None:
    statement = insert_ignoring_conflicts(session, LedgerAccount, "customer_id", "programme")
    session.execute(
        statement.values(
            customer_id=customer_id,
            programme=programme,
            available=0,
            pending=0,
            debt=0,
            version=1,
            created_at=now,
            updated_at=now,
        )
    )


def find_account(session: Session, *, customer_id: int, programme: str) -> LedgerAccount | None:
    return session.execute(
        select(LedgerAccount)
        .where(LedgerAccount.customer_id == customer_id, LedgerAccount.programme == programme)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def lock_account(session: Session, account_id: int) -> LedgerAccount | None:
    """The account row, locked (``FOR UPDATE``; on SQLite the unit of work already holds the
    database write lock) and freshly read."""
    return session.execute(
        select(LedgerAccount)
        .where(LedgerAccount.id == account_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def lock_accounts_of(session: Session, customer_ids: Iterable[int]) -> list[LedgerAccount]:
    """Every account of these customers, locked in primary-key order."""
    return list(
        session.execute(
            select(LedgerAccount)
            .where(LedgerAccount.customer_id.in_(sorted(set(customer_ids))))
            .order_by(LedgerAccount.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalars()
    )


def debit_if_covered(session: Session, *, account_id: int, points: int) -> bool:
    """The guarded first write of a debit: take ``points`` off the cached available balance
    only if it covers them. Row count 1 means done and the row is locked."""
    result = session.execute(
        update(LedgerAccount)
        .where(LedgerAccount.id == account_id, LedgerAccount.available >= points)
        .values(available=LedgerAccount.available - points)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount) == 1  # type: ignore[attr-defined]


def add_to_cache(
    session: Session, *, account_id: int, active: int, pending: int, now: datetime
) -> None:
    session.execute(
        update(LedgerAccount)
        .where(LedgerAccount.id == account_id)
        .values(
            available=LedgerAccount.available + active,
            pending=LedgerAccount.pending + pending,
            version=LedgerAccount.version + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )


def add_debt(session: Session, *, account_id: int, points: int) -> None:
    """Move the account's debt by ``points`` (owed by a clawback, or paid by an earn)."""
    if points:
        session.execute(
            update(LedgerAccount)
            .where(LedgerAccount.id == account_id)
            .values(debt=LedgerAccount.debt + points)
            .execution_options(synchronize_session=False)
        )


def undo_debit(session: Session, *, account_id: int, points: int) -> None:
    """Put back what ``debit_if_covered`` took, in the same transaction, under its lock."""
    session.execute(
        update(LedgerAccount)
        .where(LedgerAccount.id == account_id)
        .values(available=LedgerAccount.available + points)
        .execution_options(synchronize_session=False)
    )


def find_entry_by_key(session: Session, *, account_id: int, key: str) -> LedgerEntry | None:
    return session.execute(
        select(LedgerEntry).where(LedgerEntry.account_id == account_id, LedgerEntry.key == key)
    ).scalar_one_or_none()


def entries_by_keys(
    session: Session, keys: Sequence[tuple[int, str]]
) -> dict[tuple[int, str], tuple[int, int]]:
    """The (id, points) of the entries carrying these (account id, key) pairs, one statement
    through the (account_id, key) unique index."""
    rows = select_matching(
        session,
        table_of(LedgerEntry),
        ("account_id", "key"),
        keys,
        ("account_id", "key", "id", "points"),
    )
    return {(int(a), str(k)): (int(i), int(p)) for a, k, i, p in rows}


# ------------------------------------------------------------------------------------ lots


def to_lot(row: LedgerLot) -> Lot:
    return Lot(
        id=row.id,
        amount=row.amount,
        remaining=row.remaining,
        earned_at=row.earned_at,
        expires_at=row.expires_at,
        state=LotState(row.state),
        activates_at=row.activates_at,
        ref=row.ref,
        awaits=row.awaits,
    )


def _due_pending(now: datetime) -> Any:
    return and_(
        LedgerLot.state == LotState.PENDING.value,
        LedgerLot.activates_at.is_not(None),
        LedgerLot.activates_at <= now,
    )


def _lots(session: Session, *conditions: Any) -> list[Lot]:
    rows = session.execute(
        select(LedgerLot)
        .where(*conditions)
        .order_by(LedgerLot.id)
        .execution_options(populate_existing=True)
    ).scalars()
    return [to_lot(row) for row in rows]


def due_pending_lots(session: Session, *, account_id: int, now: datetime) -> list[Lot]:
    """Lots stored as pending whose hold ended by ``now`` (a step writes their activation)."""
    return _lots(session, LedgerLot.account_id == account_id, _due_pending(now))


def spendable_candidates(session: Session, *, account_id: int, now: datetime) -> list[Lot]:
    """Every lot a spend at ``now`` may draw from, plus the due pending ones; the rules pick."""
    return _lots(
        session,
        LedgerLot.account_id == account_id,
        or_(
            and_(
                LedgerLot.state == LotState.ACTIVE.value,
                LedgerLot.remaining > 0,
                or_(LedgerLot.expires_at.is_(None), LedgerLot.expires_at > now),
            ),
            _due_pending(now),
        ),
    )


def expiry_candidates(session: Session, *, account_id: int, now: datetime) -> list[Lot]:
    """Active lots past their expiry with points left, plus the due pending ones."""
    return _lots(
        session,
        LedgerLot.account_id == account_id,
        or_(
            and_(
                LedgerLot.state == LotState.ACTIVE.value,
                LedgerLot.remaining > 0,
                LedgerLot.expires_at <= now,
            ),
            _due_pending(now),
        ),
    )


def _live() -> Any:
    """Lots holding points or still pending."""
    return or_(LedgerLot.remaining > 0, LedgerLot.state == LotState.PENDING.value)


def live_lots(session: Session, *, account_id: int, ref: str | None = None) -> list[Lot]:
    """Lots holding points or still pending: everything a balance can depend on; with
    ``ref``, only those of that reference (read through the (account_id, ref) index rather
    than every lot of the account)."""
    conditions = [LedgerLot.account_id == account_id, _live()]
    if ref is not None:
        conditions.append(LedgerLot.ref == ref)
    return _lots(session, *conditions)


def live_lots_of(session: Session, account_ids: Sequence[int]) -> dict[int, list[Lot]]:
    """``live_lots`` of several accounts in one statement, each account's in id order."""
    found: dict[int, list[Lot]] = {account_id: [] for account_id in account_ids}
    if not account_ids:
        return found
    rows = session.execute(
        select(LedgerLot)
        .where(
            one_of(session, LedgerLot.account_id, account_ids),
            _live(),
        )
        .order_by(LedgerLot.id)
        .execution_options(populate_existing=True)
    ).scalars()
    for row in rows:
        found[row.account_id].append(to_lot(row))
    return found


def lots_with_ids(session: Session, ids: Iterable[int]) -> list[Lot]:
    """These lots, whatever their account, in id order."""
    wanted = sorted(set(ids))
    return _lots(session, one_of(session, LedgerLot.id, wanted)) if wanted else []


def lots_by_id(session: Session, *, account_id: int, ids: Iterable[int]) -> list[Lot]:
    wanted = sorted(set(ids))
    if not wanted:
        return []
    return _lots(session, LedgerLot.account_id == account_id, LedgerLot.id.in_(wanted))


def get_lot(session: Session, lot_id: int) -> Lot:
    return to_lot(session.execute(select(LedgerLot).where(LedgerLot.id == lot_id)).scalar_one())


def add_lot(session: Session, *, account_id: int, lot: Lot) -> int:
    return int(
        session.execute(
            table_of(LedgerLot)
            .insert()
            .values(
                account_id=account_id,
                amount=lot.amount,
                remaining=lot.remaining,
                earned_at=lot.earned_at,
                expires_at=lot.expires_at,
                state=lot.state.value,
                activates_at=lot.activates_at,
                ref=lot.ref,
                awaits=lot.awaits,
            )
            .returning(table_of(LedgerLot).c.id)
        ).scalar_one()
    )


def save_lots(session: Session, lots: Sequence[Lot]) -> None:
    """Write the mutable fields of existing lots (one executemany by primary key)."""
    if not lots:
        return
    table = table_of(LedgerLot)
    session.execute(
        table.update()
        .where(table.c.id == bindparam("lot_id"))
        .values(
            remaining=bindparam("remaining"),
            state=bindparam("state"),
            activates_at=bindparam("activates_at"),
            expires_at=bindparam("expires_at"),
        ),
        [
            {
                "lot_id": lot.id,
                "remaining": lot.remaining,
                "state": lot.state.value,
                "activates_at": lot.activates_at,
                "expires_at": lot.expires_at,
            }
            for lot in lots
        ],
    )


def accounts_with_due_expiry(session: Session, *, now: datetime, limit: int | None) -> list[int]:
    statement = (
        select(LedgerLot.account_id)
        .where(
            or_(
                and_(
                    LedgerLot.state == LotState.ACTIVE.value,
                    LedgerLot.remaining > 0,
                    LedgerLot.expires_at <= now,
                ),
                and_(_due_pending(now), LedgerLot.expires_at <= now),
            )
        )
        .distinct()
        .order_by(LedgerLot.account_id)
    )
    if limit is not None:
        statement = statement.limit(limit)
    return [int(account_id) for account_id in session.execute(statement).scalars()]


def accounts_with_due_activation(
    session: Session, *, now: datetime, limit: int | None
) -> list[int]:
    statement = (
        select(LedgerLot.account_id)
        .where(_due_pending(now))
        .distinct()
        .order_by(LedgerLot.account_id)
    )
    if limit is not None:
        statement = statement.limit(limit)
    return [int(account_id) for account_id in session.execute(statement).scalars()]


# --------------------------------------------------------------------- entries, allocations


def add_entries(session: Session, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert journal entries; their ids, in the order given."""
    if not rows:
        return []
    table = table_of(LedgerEntry)
    result = session.execute(
        table.insert().returning(table.c.id, sort_by_parameter_order=True), list(rows)
    )
    return [int(entry_id) for entry_id in result.scalars()]


def add_allocations(
    session: Session, *, debit_id: int, entry_id: int, allocations: Iterable[Allocation], sign: int
) -> None:
    add_allocation_rows(
        session,
        [
            {
                "debit_id": debit_id,
                "entry_id": entry_id,
                "lot_id": allocation.lot_id,
                "points": sign * allocation.points,
            }
            for allocation in allocations
        ],
    )


def add_allocation_rows(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert allocation rows (``debit_id``, ``entry_id``, ``lot_id``, signed ``points``)."""
    if rows:
        session.execute(table_of(LedgerAllocation).insert(), list(rows))


def held_by_debits(session: Session, debit_ids: Sequence[int]) -> dict[int, tuple[Allocation, ...]]:
    """What each debit still holds per lot (its allocations net of give-backs), in the
    order it took them; one statement for all."""
    held: dict[int, list[Allocation]] = {debit_id: [] for debit_id in debit_ids}
    if not debit_ids:
        return {}
    rows = session.execute(
        select(
            LedgerAllocation.debit_id, LedgerAllocation.lot_id, func.sum(LedgerAllocation.points)
        )
        .where(one_of(session, LedgerAllocation.debit_id, debit_ids))
        .group_by(LedgerAllocation.debit_id, LedgerAllocation.lot_id)
        .having(func.sum(LedgerAllocation.points) > 0)
        .order_by(LedgerAllocation.debit_id, func.min(LedgerAllocation.id))
    ).all()
    for debit_id, lot_id, points in rows:
        held[int(debit_id)].append(Allocation(int(lot_id), int(points)))
    return {debit_id: tuple(allocations) for debit_id, allocations in held.items()}


def held_by_debit(session: Session, debit_id: int) -> tuple[Allocation, ...]:
    """What a debit still holds per lot (its allocations net of give-backs), in the order it
    took them."""
    return held_by_debits(session, [debit_id])[debit_id]


def expired_on_cancel(session: Session, *, account_id: int, ref: str, cancel_id: int) -> int:
    """Points a cancellation gave back into lots that had expired: the keyless expire entries
    written with it (the expiry job's own entries always carry a key)."""
    total = session.execute(
        select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
            LedgerEntry.account_id == account_id,
            LedgerEntry.kind == EntryKind.EXPIRE.value,
            LedgerEntry.reference == ref,
            LedgerEntry.key.is_(None),
            LedgerEntry.id > cancel_id,
        )
    ).scalar_one()
    return -int(total)


def entries_page(
    session: Session, *, account_id: int, before: int | None, limit: int
) -> list[LedgerEntry]:
    statement = select(LedgerEntry).where(LedgerEntry.account_id == account_id)
    if before is not None:
        statement = statement.where(LedgerEntry.id < before)
    return list(session.execute(statement.order_by(LedgerEntry.id.desc()).limit(limit)).scalars())


# ------------------------------------------------------------------------------ verification


def _bucket_sum(bucket: Bucket) -> Any:
    return func.coalesce(
        func.sum(case((LedgerEntry.bucket == bucket.value, LedgerEntry.points), else_=0)), 0
    )


@dataclass(frozen=True)
class AccountSums:
    account_id: int
    customer_id: int
    programme: str
    cached_available: int
    cached_pending: int
    debt: int
    journal_available: int
    journal_pending: int
    lots_active: int
    lots_pending: int


def account_sums(session: Session, account_ids: Sequence[int] | None = None) -> list[AccountSums]:
    """Per account: the cache, the sum of its entries per bucket, and what its lots hold."""
    journal = (
        select(
            LedgerEntry.account_id.label("account_id"),
            _bucket_sum(Bucket.ACTIVE).label("active"),
            _bucket_sum(Bucket.PENDING).label("pending"),
        )
        .group_by(LedgerEntry.account_id)
        .subquery()
    )
    active_lot = LedgerLot.state == LotState.ACTIVE.value
    lots = (
        select(
            LedgerLot.account_id.label("account_id"),
            func.coalesce(func.sum(case((active_lot, LedgerLot.remaining), else_=0)), 0).label(
                "active"
            ),
            func.coalesce(func.sum(case((active_lot, 0), else_=LedgerLot.remaining)), 0).label(
                "pending"
            ),
        )
        .group_by(LedgerLot.account_id)
        .subquery()
    )
    statement = (
        select(
            LedgerAccount.id,
            LedgerAccount.customer_id,
            LedgerAccount.programme,
            LedgerAccount.available,
            LedgerAccount.pending,
            LedgerAccount.debt,
            func.coalesce(journal.c.active, 0),
            func.coalesce(journal.c.pending, 0),
            func.coalesce(lots.c.active, 0),
            func.coalesce(lots.c.pending, 0),
        )
        .outerjoin(journal, journal.c.account_id == LedgerAccount.id)
        .outerjoin(lots, lots.c.account_id == LedgerAccount.id)
        .order_by(LedgerAccount.id)
    )
    if account_ids is not None:
        statement = statement.where(LedgerAccount.id.in_(list(account_ids)))
    return [
        AccountSums(*(row[0], row[1], row[2]), *map(int, row[3:]))
        for row in session.execute(statement)
    ]


# ------------------------------------------------------------------------------------ merge


def move_lots_and_entries(session: Session, *, from_account: int, to_account: int) -> int:
    """Re-point one account's lots and entries to another; entry keys the target already uses
    are prefixed with the source account (a merged spend stays addressable, never twice)."""
    taken = select(LedgerEntry.key).where(
        LedgerEntry.account_id == to_account, LedgerEntry.key.is_not(None)
    )
    session.execute(
        update(LedgerEntry)
        .where(LedgerEntry.account_id == from_account, LedgerEntry.key.in_(taken.scalar_subquery()))
        .values(key=literal(f"merged:{from_account}:") + LedgerEntry.key)
        .execution_options(synchronize_session=False)
    )
    lots = session.execute(
        update(LedgerLot)
        .where(LedgerLot.account_id == from_account)
        .values(account_id=to_account)
        .execution_options(synchronize_session=False)
    )
    entries = session.execute(
        update(LedgerEntry)
        .where(LedgerEntry.account_id == from_account)
        .values(account_id=to_account)
        .execution_options(synchronize_session=False)
    )
    return int(lots.rowcount) + int(entries.rowcount)  # type: ignore[attr-defined]


def move_account(session: Session, *, account_id: int, customer_id: int, now: datetime) -> None:
    session.execute(
        update(LedgerAccount)
        .where(LedgerAccount.id == account_id)
        .values(customer_id=customer_id, version=LedgerAccount.version + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )


def set_cache(
    session: Session, *, account_id: int, available: int, pending: int, debt: int, now: datetime
) -> None:
    session.execute(
        update(LedgerAccount)
        .where(LedgerAccount.id == account_id)
        .values(
            available=available,
            pending=pending,
            debt=debt,
            version=LedgerAccount.version + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )


def delete_account(session: Session, account_id: int) -> None:
    session.execute(
        delete(LedgerAccount)
        .where(LedgerAccount.id == account_id)
        .execution_options(synchronize_session=False)
    )
