"""Ledger use cases driven by what members do and by the calendar: activation of held points
by an event, activity that keeps points alive, and the expiry warnings due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.orm import Session

from fidela.ledger import repository
from fidela.ledger.models import LedgerAccount, LedgerLot
from fidela.ledger.rules import (
    Account,
    Activity,
    ActivityExpiry,
    EntryKind,
    ExpirySchedule,
    NothingPending,
    counts_as_activity,
    expiry_for,
    post_activation,
    released_by,
)
from fidela.ledger.rules.lots import LotState
from fidela.ledger.service import Reason, _lock, _persist, debt_debits
from fidela.platform.db import table_of


def activate_ref(
    session: Session,
    *,
    customer_id: int,
    programme: str,
    ref: str,
    now: datetime,
    expiry: ExpirySchedule | None = None,
    reason: Reason | None = None,
    event: str | None = None,
    unnamed: bool = True,
) -> int:
    """Activate the points of ``ref`` (an order) that activation event ``event`` releases:
    lots held until that event, and with ``unnamed`` lots held until an unnamed event (see
    ``rules.released_by``; ``event=None`` releases every pending lot of ``ref``). Their
    expiry clock starts now. Returns the points activated (0 when nothing was released, so a
    repeated activation event changes nothing)."""
    account = repository.find_account(session, customer_id=customer_id, programme=programme)
    if account is None:
        return 0
    locked = _lock(session, account.id)
    held = [
        lot
        for lot in repository.live_lots(session, account_id=account.id, ref=ref)
        if released_by(lot, event, unnamed=unnamed, now=now)
    ]
    if not held:
        return 0
    try:
        posting = post_activation(
            Account(lots=tuple(held), debits=debt_debits(locked.debt)),
            ref=ref,
            now=now,
            expiry=expiry,
            event=event,
            unnamed=unnamed,
        )
    except NothingPending:  # pragma: no cover - filtered above
        return 0
    _persist(
        session,
        account_id=account.id,
        loaded=held,
        posting=posting,
        now=now,
        main_kind=EntryKind.ACTIVATE,
        main_key=None,
        reason=reason,
    )
    repository.add_debt(session, account_id=account.id, points=posting.account.debt - locked.debt)
    return sum(lot.remaining for lot in held)


def record_activity(
    session: Session,
    *,
    customer_ids: list[int],
    programme: str,
    kind: str,
    at: datetime,
    expiry: ExpirySchedule,
    points: int = 0,
) -> int:
    """Member activity under an activity-based expiry policy pushes the expiry of every lot
    earned under that policy: one set-based update per activity instant, no entry (nothing
    moves). Returns the lots pushed."""
    policy = expiry.in_force(at)
    if not isinstance(policy, ActivityExpiry) or not counts_as_activity(
        policy, Activity(kind, at, points)
    ):
        return 0
    # The same test as the pure ``extend_on_activity``, applied by one UPDATE: lots earned
    # under this policy, not expired by now, never shortened.
    pushed_to = expiry_for(policy, at)
    since = policy.effective_from or datetime(1970, 1, 1, tzinfo=UTC)
    accounts = select(LedgerAccount.id).where(
        LedgerAccount.customer_id.in_(sorted(set(customer_ids))),
        LedgerAccount.programme == programme,
    )
    result = session.execute(
        update(LedgerLot)
        .where(
            LedgerLot.account_id.in_(accounts.scalar_subquery()),
            LedgerLot.earned_at >= since,
            LedgerLot.expires_at.is_not(None),
            LedgerLot.expires_at < pushed_to,
            LedgerLot.expires_at > at,
        )
        .values(expires_at=pushed_to)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def record_activities(
    session: Session,
    *,
    programme: str,
    activities: list[tuple[int, Activity]],
    expiry: ExpirySchedule,
) -> None:
    """``record_activity`` for many (customer, activity) pairs in one executemany."""
    rows = []
    for customer_id, activity in activities:
        policy = expiry.in_force(activity.at)
        if isinstance(policy, ActivityExpiry) and counts_as_activity(policy, activity):
            rows.append(
                {
                    "customer": customer_id,
                    "pushed_to": expiry_for(policy, activity.at),
                    "since": policy.effective_from or datetime(1970, 1, 1, tzinfo=UTC),
                    "at": activity.at,
                }
            )
    if not rows:
        return
    lots, accounts = table_of(LedgerLot), table_of(LedgerAccount)
    mine = select(accounts.c.id).where(
        accounts.c.customer_id == bindparam("customer"), accounts.c.programme == programme
    )
    session.execute(
        lots.update()
        .where(
            lots.c.account_id.in_(mine.scalar_subquery()),
            lots.c.earned_at >= bindparam("since"),
            lots.c.expires_at.is_not(None),
            lots.c.expires_at < bindparam("pushed_to"),
            lots.c.expires_at > bindparam("at"),
        )
        .values(expires_at=bindparam("pushed_to")),
        rows,
    )


@dataclass(frozen=True)
class Expiring:
    """Points of one lot that expire at ``expires_at`` unless spent."""

    customer_id: int
    programme: str
    lot_id: int
    points: int
    expires_at: datetime


def expiring_within(
    session: Session, *, programme: str, now: datetime, days: int, limit: int = 10_000
) -> list[Expiring]:
    """Spendable lots of ``programme`` that expire within ``days`` of ``now``, soonest first
    (what the expiry warnings announce)."""
    rows = session.execute(
        select(
            LedgerAccount.customer_id,
            LedgerLot.id,
            LedgerLot.remaining,
            LedgerLot.expires_at,
        )
        .join(LedgerAccount, LedgerAccount.id == LedgerLot.account_id)
        .where(
            and_(
                LedgerAccount.programme == programme,
                LedgerLot.state == LotState.ACTIVE.value,
                LedgerLot.remaining > 0,
                LedgerLot.expires_at > now,
                LedgerLot.expires_at <= now + timedelta(days=days),
            )
        )
        .order_by(LedgerLot.expires_at, LedgerLot.id)
        .limit(limit)
    ).all()
    return [
        Expiring(int(customer), programme, int(lot_id), int(points), expires_at)
        for customer, lot_id, points, expires_at in rows
        if expires_at is not None
    ]
