"""The ledger's use cases against a real database: earn, spend, cancel, activate, expire,
replays, history, merge; the cache equals the sum of the entries after every step."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from fidela.customer.merge import merge_customers
from fidela.ledger import service
from fidela.ledger.models import LedgerAccount, LedgerAllocation, LedgerEntry
from fidela.ledger.rules import (
    DuplicateReference,
    ExpirySchedule,
    FixedExpiry,
    Hold,
    InsufficientPoints,
    InvalidPoints,
    SpendNotFound,
)
from fidela.platform.db import Database
from tests.conftest import T0
from tests.ledger.builders import PROGRAMME, cached, new_customer, remaining_by_lot

# Points expire at the end of the day 30 days after they are earned.
THIRTY_DAYS = ExpirySchedule((FixedExpiry(days=30),))


@pytest.fixture
def session(database: Database) -> Iterator[Session]:
    with database.write() as session:
        yield session


def consistent(session: Session) -> bool:
    return service.verify(session) == []


def earn(
    session: Session,
    customer_id: int,
    points: int,
    key: str,
    now: datetime = T0,
    **options: object,
) -> service.EarnResult:
    return service.earn_points(
        session,
        customer_id=customer_id,
        programme=PROGRAMME,
        points=points,
        now=now,
        key=key,
        **options,  # type: ignore[arg-type]
    )


def spend(
    session: Session, customer_id: int, points: int, ref: str, now: datetime = T0
) -> service.SpendResult:
    return service.spend_points(
        session, customer_id=customer_id, programme=PROGRAMME, points=points, now=now, ref=ref
    )


def test_spend_draws_soonest_expiring_lots_first_and_never_expiring_last(session: Session) -> None:
    member = new_customer(session, T0)
    forever = earn(session, member, 100, "forever").lot
    soon = earn(session, member, 40, "soon", expiry=THIRTY_DAYS).lot
    later = earn(session, member, 50, "later", now=T0 + timedelta(days=1), expiry=THIRTY_DAYS).lot
    assert consistent(session)

    result = spend(session, member, 70, "redeem-1", now=T0 + timedelta(days=2))

    assert [(a.lot_id, a.points) for a in result.allocations] == [(soon.id, 40), (later.id, 30)]
    assert remaining_by_lot(session, member) == {forever.id: 100, soon.id: 0, later.id: 20}
    assert cached(session, member) == (120, 0)
    assert consistent(session)


def test_spend_over_the_balance_is_refused_and_writes_nothing(session: Session) -> None:
    member = new_customer(session, T0)
    earn(session, member, 30, "order-1")
    entries_before = session.scalar(select(func.count()).select_from(LedgerEntry))

    with pytest.raises(InsufficientPoints) as refused:
        spend(session, member, 31, "too-much")

    assert refused.value.available == 30
    assert cached(session, member) == (30, 0)
    assert session.scalar(select(func.count()).select_from(LedgerEntry)) == entries_before
    assert session.scalar(select(func.count()).select_from(LedgerAllocation)) == 0
    with pytest.raises(InvalidPoints):
        spend(session, member, 0, "nothing")


def test_points_past_expiry_are_not_spendable_before_the_job_runs(session: Session) -> None:
    member = new_customer(session, T0)
    earn(session, member, 50, "order-1", expiry=THIRTY_DAYS)
    later = T0 + timedelta(days=40)

    assert (
        service.balance(session, customer_id=member, programme=PROGRAMME, now=later).available == 0
    )
    # The cache still holds them (the job has not run): the guarded debit passes, the lots
    # refuse, and the debit is put back.
    with pytest.raises(InsufficientPoints):
        spend(session, member, 10, "redeem", now=later)
    assert cached(session, member) == (50, 0)
    assert consistent(session)


def test_expire_due_writes_one_expire_entry_per_lot_at_its_deadline(session: Session) -> None:
    member = new_customer(session, T0)
    lot = earn(session, member, 50, "order-1", expiry=THIRTY_DAYS).lot
    earn(session, member, 20, "order-2")
    spend(session, member, 10, "redeem-1")
    assert lot.expires_at is not None
    later = lot.expires_at + timedelta(hours=1)
    before = service.balance(session, customer_id=member, programme=PROGRAMME, now=later)

    run = service.expire_due(session, now=later)
    again = service.expire_due(session, now=later + timedelta(days=1))

    assert (run.accounts, run.lots, run.points) == (1, 1, 40)
    assert (again.accounts, again.lots, again.points) == (0, 0, 0)
    after = service.balance(session, customer_id=member, programme=PROGRAMME, now=later)
    assert (before.available, before.expiring, before.pending) == (20, 0, 0)
    assert (after.available, after.expiring, after.pending) == (20, 0, 0)
    assert (before.unrecorded_expiry, after.unrecorded_expiry) == (40, 0)
    assert cached(session, member) == (20, 0)
    expire = session.execute(select(LedgerEntry).where(LedgerEntry.kind == "expire")).scalar_one()
    assert (expire.points, expire.at, expire.lot_id) == (-40, lot.expires_at, lot.id)
    assert consistent(session)


def test_balance_reports_points_expiring_within_thirty_days(session: Session) -> None:
    member = new_customer(session, T0)
    earn(session, member, 40, "soon", expiry=ExpirySchedule((FixedExpiry(days=20),)))
    earn(session, member, 30, "later", expiry=THIRTY_DAYS)  # the day after the horizon
    earn(session, member, 30, "never")
    earn(session, member, 25, "held", hold=Hold.for_days(14))

    balance = service.balance(session, customer_id=member, programme=PROGRAMME, now=T0)

    assert (balance.available, balance.pending, balance.expiring) == (100, 25, 40)
    nobody = service.balance(session, customer_id=member, programme="other", now=T0)
    assert (nobody.available, nobody.pending) == (0, 0)


def test_cancel_restores_points_to_their_original_lots(session: Session) -> None:
    member = new_customer(session, T0)
    first = earn(session, member, 30, "order-1", expiry=THIRTY_DAYS).lot
    second = earn(session, member, 50, "order-2").lot
    spend(session, member, 60, "redeem-1")
    assert remaining_by_lot(session, member) == {first.id: 0, second.id: 20}

    cancelled = service.cancel_spend(
        session, customer_id=member, programme=PROGRAMME, ref="redeem-1", now=T0
    )
    replayed = service.cancel_spend(
        session, customer_id=member, programme=PROGRAMME, ref="redeem-1", now=T0
    )

    assert (cancelled.restored, cancelled.expired, cancelled.replayed) == (60, 0, False)
    assert replayed == service.CancelResult(
        cancelled.account_id, cancelled.entry_id, 60, 0, replayed=True
    )
    assert remaining_by_lot(session, member) == {first.id: 30, second.id: 50}
    assert cached(session, member) == (80, 0)
    held = session.scalar(select(func.sum(LedgerAllocation.points)))
    assert held == 0
    assert consistent(session)
    with pytest.raises(SpendNotFound):
        service.cancel_spend(session, customer_id=member, programme=PROGRAMME, ref="x", now=T0)


def test_cancel_after_the_lot_expired_gives_the_points_back_expired(session: Session) -> None:
    member = new_customer(session, T0)
    lot = earn(session, member, 30, "order-1", expiry=THIRTY_DAYS).lot
    earn(session, member, 10, "order-2")
    spend(session, member, 25, "redeem-1")
    assert lot.expires_at is not None
    later = lot.expires_at + timedelta(days=1)

    cancelled = service.cancel_spend(
        session, customer_id=member, programme=PROGRAMME, ref="redeem-1", now=later
    )
    replayed = service.cancel_spend(
        session, customer_id=member, programme=PROGRAMME, ref="redeem-1", now=later
    )

    assert (cancelled.restored, cancelled.expired) == (0, 25)
    assert (replayed.restored, replayed.expired) == (0, 25)
    assert (
        service.balance(session, customer_id=member, programme=PROGRAMME, now=later).available == 10
    )
    assert consistent(session)
    service.expire_due(session, now=later)
    assert cached(session, member) == (10, 0)
    assert consistent(session)


def test_pending_points_become_spendable_when_their_hold_ends(session: Session) -> None:
    member = new_customer(session, T0)
    held = earn(session, member, 40, "order-1", hold=Hold.for_days(14)).lot
    assert cached(session, member) == (0, 40)
    with pytest.raises(InsufficientPoints):
        spend(session, member, 10, "early")
    assert cached(session, member) == (0, 40)

    # No job ran: the spend writes the activation it needs first.
    result = spend(session, member, 10, "after-window", now=T0 + timedelta(days=15))

    assert [(a.lot_id, a.points) for a in result.allocations] == [(held.id, 10)]
    assert cached(session, member) == (30, 0)
    assert consistent(session)


def test_activate_due_moves_ended_holds_to_the_active_bucket(session: Session) -> None:
    member = new_customer(session, T0)
    earn(session, member, 40, "order-1", hold=Hold.for_days(14))
    earn(session, member, 15, "order-2", hold=Hold.until_event())

    run = service.activate_due(session, now=T0 + timedelta(days=14))
    again = service.activate_due(session, now=T0 + timedelta(days=20))

    assert (run.accounts, run.lots, run.points) == (1, 1, 40)
    assert again.lots == 0
    assert cached(session, member) == (40, 15)
    assert consistent(session)


def test_the_same_earn_under_the_same_key_posts_once(session: Session) -> None:
    member = new_customer(session, T0)
    first = earn(session, member, 25, "order:42")
    replay = earn(session, member, 25, "order:42")

    assert replay.replayed
    assert not first.replayed
    assert (replay.entry_id, replay.lot.id) == (first.entry_id, first.lot.id)
    assert cached(session, member) == (25, 0)
    with pytest.raises(DuplicateReference):
        earn(session, member, 26, "order:42")


def test_the_same_spend_again_returns_the_first_result(session: Session) -> None:
    member = new_customer(session, T0)
    earn(session, member, 25, "order-1")
    first = spend(session, member, 25, "redeem-1")
    # The balance is empty now: a replay must still answer with the first result.
    replay = spend(session, member, 25, "redeem-1")
    assert replay.replayed
    assert (replay.entry_id, replay.allocations) == (first.entry_id, first.allocations)
    earn(session, member, 25, "order-2")
    assert spend(session, member, 25, "redeem-1").replayed
    assert cached(session, member) == (25, 0)
    with pytest.raises(DuplicateReference):
        spend(session, member, 5, "redeem-1")
    assert cached(session, member) == (25, 0)
    assert consistent(session)


def test_history_pages_newest_first_with_reasons(session: Session) -> None:
    member = new_customer(session, T0)
    for n in range(5):
        earn(
            session,
            member,
            10 + n,
            f"order-{n}",
            reason=service.Reason(rule="base-rate", actor="pos:12"),
        )
    spend(session, member, 5, "redeem-1")

    first = service.history(session, customer_id=member, programme=PROGRAMME, limit=4)
    rest = service.history(
        session, customer_id=member, programme=PROGRAMME, limit=4, before=first.next_before
    )

    assert [e.kind for e in first.entries] == ["spend", "earn", "earn", "earn"]
    assert first.entries[1].rule == "base-rate"
    assert first.entries[1].actor == "pos:12"
    assert first.entries[1].reference == "order-4"
    assert [e.points for e in rest.entries] == [11, 10]
    assert rest.next_before is None


def test_verify_finds_an_account_whose_cache_was_corrupted(session: Session) -> None:
    member = new_customer(session, T0)
    earn(session, member, 25, "order-1")
    session.execute(update(LedgerAccount).values(available=LedgerAccount.available + 1))

    (bad,) = service.verify(session)

    assert (bad.customer_id, bad.cached_available, bad.journal_available) == (member, 26, 25)


def _merge(session: Session, survivor: int, merged: int) -> None:
    merge_customers(
        session,
        survivor_id=survivor,
        merged_id=merged,
        actor="test",
        reason="duplicate",
        now=T0,
        handlers={
            "ledger_account": service.merge_accounts,
        },
    )


def test_merge_moves_an_account_to_the_survivor(session: Session) -> None:
    survivor = new_customer(session, T0)
    merged = new_customer(session, T0)
    earn(session, merged, 40, "order-1")

    _merge(session, survivor, merged)

    assert cached(session, survivor) == (40, 0)
    assert spend(session, survivor, 40, "redeem-1").allocations
    assert consistent(session)


def test_merge_combines_two_accounts_of_one_programme(session: Session) -> None:
    survivor = new_customer(session, T0)
    merged = new_customer(session, T0)
    earn(session, survivor, 30, "order-1")
    earn(session, survivor, 20, "held", hold=Hold.for_days(10))
    spend(session, survivor, 10, "redeem-1")
    earn(session, merged, 40, "order-2", expiry=THIRTY_DAYS)
    spend(session, merged, 5, "redeem-1")  # the same spend reference on both accounts

    _merge(session, survivor, merged)

    assert cached(session, survivor) == (55, 20)
    assert session.scalar(select(func.count()).select_from(LedgerAccount)) == 1
    assert consistent(session)
    # Both spends stay cancellable: the survivor's under its reference, the merged one's
    # under the prefixed key.
    assert (
        service.cancel_spend(
            session, customer_id=survivor, programme=PROGRAMME, ref="redeem-1", now=T0
        ).restored
        == 10
    )
    assert service.spend_points(
        session, customer_id=survivor, programme=PROGRAMME, points=65, now=T0, ref="redeem-2"
    ).allocations
    assert consistent(session)
