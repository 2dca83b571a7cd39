"""``return_many`` books a batch of returns exactly as booking them one by one does
(``return_points``: a batch of one, reading the account again each time). For random
histories of earns (some expiring, some on hold) and spends, then returns that claw back,
give back, run into debt or forgiveness under each policy, across the expiry of lots, two
twin members end with the same lots, entries, allocations, balances and answers."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from fidela.kernel.errors import DomainError
from fidela.ledger import service
from fidela.ledger.models import LedgerAccount, LedgerAllocation, LedgerEntry, LedgerLot
from fidela.ledger.returns import ReturnRequest, ReturnResult, return_many, return_points
from fidela.ledger.rules import ExpirySchedule, FixedExpiry, Hold, HoldKind, RestoreExceedsSpend
from fidela.ledger.rules.returns import ReturnPolicy
from fidela.platform.db import Database
from tests.conftest import T0
from tests.ledger.builders import PROGRAMME, cached, new_customer

SOON = ExpirySchedule((FixedExpiry(days=20),))

earns = st.lists(
    st.tuples(
        st.integers(1, 200),  # points
        st.booleans(),  # expires in 20 days
        st.sampled_from([None, None, 5, 60]),  # days on hold
    ),
    min_size=1,
    max_size=5,
)
spends = st.lists(st.integers(1, 150), max_size=2)
returns = st.lists(
    st.tuples(
        st.integers(0, 6),  # which earn's order (beyond the earns: an order that earned nothing)
        st.integers(0, 250),  # points to claw back
        st.integers(0, 2),  # which spend paid (beyond the spends: none)
        st.sampled_from([0, 30, 50, 100]),  # percent of what that spend still holds to give back
    ),
    min_size=1,
    max_size=6,
)


def _history(
    session: Session, member: int, plan_earns: list[Any], plan_spends: list[int]
) -> list[int]:
    """Earn, then spend what the balance allows; the points each spend took."""
    for n, (points, expiring, hold_days) in enumerate(plan_earns):
        service.earn_points(
            session,
            customer_id=member,
            programme=PROGRAMME,
            points=points,
            now=T0 + timedelta(hours=n),
            key=f"order:{n}",
            ref=f"order:{n}",
            expiry=SOON if expiring else None,
            hold=None if hold_days is None else Hold(HoldKind.DAYS, days=hold_days),
        )
    spent: list[int] = []
    for n, points in enumerate(plan_spends):
        try:
            with session.begin_nested():
                service.spend_points(
                    session,
                    customer_id=member,
                    programme=PROGRAMME,
                    points=points,
                    now=T0 + timedelta(days=1),
                    ref=f"pay:{n}",
                )
            spent.append(points)
        except DomainError:
            spent.append(0)
    return spent


def _requests(member: int, plan: list[Any], spent: list[int]) -> list[ReturnRequest]:
    """Returns whose give-backs never exceed what their spend holds, however they follow."""
    left = list(spent)
    requests = []
    for n, (order, claw, paying, percent) in enumerate(plan):
        give = 0
        paid_with = None
        if paying < len(left) and left[paying]:
            give = left[paying] * percent // 100
            left[paying] -= give
            paid_with = f"pay:{paying}"
        requests.append(
            ReturnRequest(
                customer_id=member,
                ref=f"r{n}",
                order_ref=f"order:{order}",
                claw_back=claw,
                give_back=give,
                paid_with=paid_with,
                reason=service.Reason(actor="test"),
            )
        )
    return requests


def _key(key: str | None, lot_at: dict[int, int]) -> str | None:
    """A key with the lot id it names (activations, expiries) replaced by its position."""
    if key is None or not key.startswith(("activate:", "expire:")):
        return key
    kind, lot_id, *rest = key.split(":")
    return ":".join([kind, f"#{lot_at[int(lot_id)]}", *rest])


def _snapshot(session: Session, member: int) -> dict[str, Any]:
    """The member's ledger with its own ids replaced by positions."""
    account = session.execute(
        select(LedgerAccount)
        .where(LedgerAccount.customer_id == member)
        .execution_options(populate_existing=True)
    ).scalar_one()
    lots = list(
        session.execute(
            select(LedgerLot)
            .where(LedgerLot.account_id == account.id)
            .order_by(LedgerLot.id)
            .execution_options(populate_existing=True)
        ).scalars()
    )
    lot_at = {lot.id: n for n, lot in enumerate(lots)}
    entries = list(
        session.execute(
            select(LedgerEntry).where(LedgerEntry.account_id == account.id).order_by(LedgerEntry.id)
        ).scalars()
    )
    entry_at = {entry.id: n for n, entry in enumerate(entries)}
    allocations = session.execute(
        select(LedgerAllocation)
        .where(LedgerAllocation.entry_id.in_(list(entry_at)))
        .order_by(LedgerAllocation.id)
    ).scalars()
    return {
        "balances": (account.available, account.pending, account.debt),
        "lots": [
            (lot.amount, lot.remaining, lot.state, lot.expires_at, lot.activates_at, lot.ref)
            for lot in lots
        ],
        "entries": [
            (
                e.kind,
                e.bucket,
                e.points,
                e.at,
                e.reference,
                _key(e.key, lot_at),
                None if e.lot_id is None else lot_at[e.lot_id],
                e.actor,
            )
            for e in entries
        ],
        "allocations": [
            (entry_at[a.debit_id], entry_at[a.entry_id], lot_at[a.lot_id], a.points)
            for a in allocations
        ],
    }


def _booked(results: list[ReturnResult | DomainError]) -> list[ReturnResult]:
    """The results, none of them refused."""
    assert not [r for r in results if isinstance(r, DomainError)]
    return [r for r in results if isinstance(r, ReturnResult)]


def _label(requests: list[ReturnRequest], results: list[ReturnResult]) -> None:
    """What the example exercised (``--hypothesis-show-statistics`` counts them)."""
    paying = [r.paid_with for r in requests if r.give_back]
    if len(paying) != len(set(paying)):
        event("a spend given back to twice")
    for label, hit in (
        ("debt", any(r.owed for r in results)),
        ("forgiven", any(r.forgiven for r in results)),
        ("given back into expired lots", any(r.given_back_expired for r in results)),
        ("clawed back and given back at once", any(r.taken and r.given_back for r in results)),
    ):
        if hit:
            event(label)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    plan_earns=earns,
    plan_spends=spends,
    plan_returns=returns,
    policy=st.sampled_from(list(ReturnPolicy)),
    days_later=st.sampled_from([2, 30, 90]),
)
def test_a_batch_of_returns_books_what_booking_them_one_by_one_books(
    database: Database,
    plan_earns: list[Any],
    plan_spends: list[int],
    plan_returns: list[Any],
    policy: ReturnPolicy,
    days_later: int,
) -> None:
    now = T0 + timedelta(days=days_later)
    with database.write() as session:
        one, many = new_customer(session, T0), new_customer(session, T0)
        spent = _history(session, one, plan_earns, plan_spends)
        assert _history(session, many, plan_earns, plan_spends) == spent
        singly = [
            return_points(
                session,
                customer_id=r.customer_id,
                programme=PROGRAMME,
                ref=r.ref,
                order_ref=r.order_ref,
                claw_back=r.claw_back,
                give_back=r.give_back,
                paid_with=r.paid_with,
                policy=policy,
                now=now,
                reason=r.reason,
            )
            for r in _requests(one, plan_returns, spent)
        ]
        batched = _booked(
            return_many(
                session,
                programme=PROGRAMME,
                requests=_requests(many, plan_returns, spent),
                policy=policy,
                now=now,
            )
        )
        _label(_requests(many, plan_returns, spent), batched)
        assert _snapshot(session, many) == _snapshot(session, one)
        assert [{**asdict(r), "account_id": None} for r in batched] == [
            {**asdict(r), "account_id": None} for r in singly
        ]
        assert service.verify(session) == []


def test_a_batch_sent_again_books_nothing_more(database: Database) -> None:
    with database.write() as session:
        member = new_customer(session, T0)
        spent = _history(session, member, [(100, False, None), (50, True, None)], [60])
        requests = _requests(member, [(0, 30, 0, 50), (1, 80, 3, 0), (0, 10, 0, 100)], spent)

        def book() -> list[ReturnResult]:
            return _booked(
                return_many(
                    session,
                    programme=PROGRAMME,
                    requests=requests,
                    policy=ReturnPolicy.UNLIMITED,
                    now=T0,
                )
            )

        first = book()
        before = _snapshot(session, member)
        again = book()
        assert _snapshot(session, member) == before
        assert service.verify(session) == []
    assert [(r.taken, r.given_back, r.owed) for r in first] == [
        (30, 30, 0),
        (80, 0, 0),
        (10, 30, 0),
    ]
    assert all(r.replayed for r in again)


def test_a_give_back_beyond_what_its_spend_holds_is_refused_alone(database: Database) -> None:
    with database.write() as session:
        ana, bob = new_customer(session, T0), new_customer(session, T0)
        for member in (ana, bob):
            _history(session, member, [(100, False, None)], [60])
        # Ana's spend was cancelled meanwhile: it holds nothing to give back.
        service.cancel_spend(session, customer_id=ana, programme=PROGRAMME, ref="pay:0", now=T0)
        refused, booked = return_many(
            session,
            programme=PROGRAMME,
            requests=[
                ReturnRequest(ana, "r1", "order:0", claw_back=10, give_back=30, paid_with="pay:0"),
                ReturnRequest(bob, "r1", "order:0", claw_back=10, give_back=30, paid_with="pay:0"),
            ],
            policy=ReturnPolicy.WITHIN_BALANCE,
            now=T0,
        )
        assert isinstance(refused, RestoreExceedsSpend)
        assert isinstance(booked, ReturnResult)
        assert (booked.taken, booked.given_back) == (10, 30)
        assert cached(session, ana) == (100, 0)
        assert cached(session, bob) == (60, 0)
        assert service.verify(session) == []


def test_members_without_an_account_have_nothing_to_claw_back(database: Database) -> None:
    with database.write() as session:
        stranger = new_customer(session, T0)
        (result,) = _booked(
            return_many(
                session,
                programme=PROGRAMME,
                requests=[ReturnRequest(stranger, "r1", "order:1", claw_back=40)],
                policy=ReturnPolicy.UNLIMITED,
                now=T0,
            )
        )
    assert (result.account_id, result.forgiven, result.taken) == (None, 40, 0)
