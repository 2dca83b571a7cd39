"""``ledger.returns.return_points``: a refund gives the points paid back to their original
lots, a clawback follows the return policy, and a return is booked once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from fidela.ledger import service
from fidela.ledger.repository import live_lots
from fidela.ledger.returns import return_points
from fidela.ledger.rules import ExpirySchedule, FixedExpiry
from fidela.ledger.rules.returns import ReturnPolicy
from fidela.platform.db import Database
from tests.conftest import T0
from tests.ledger.builders import PROGRAMME, new_customer


def remaining_by_lot(session: Session, account_id: int) -> dict[int, int]:
    return {lot.id: lot.remaining for lot in live_lots(session, account_id=account_id)}


def test_give_back_returns_points_to_the_lots_they_were_spent_from(database: Database) -> None:
    soon = ExpirySchedule((FixedExpiry(days=10),))
    with database.write() as session:
        member = new_customer(session, T0)
        first = service.earn_points(
            session,
            customer_id=member,
            programme=PROGRAMME,
            points=30,
            now=T0,
            key="a",
            expiry=soon,
        )
        service.earn_points(
            session, customer_id=member, programme=PROGRAMME, points=50, now=T0, key="b"
        )
        service.spend_points(
            session, customer_id=member, programme=PROGRAMME, points=60, now=T0, ref="pay"
        )
        result = return_points(
            session,
            customer_id=member,
            programme=PROGRAMME,
            ref="r1",
            order_ref="order:9",
            claw_back=0,
            give_back=60,
            paid_with="pay",
            policy=ReturnPolicy.WITHIN_BALANCE,
            now=T0 + timedelta(days=1),
        )
        again = return_points(
            session,
            customer_id=member,
            programme=PROGRAMME,
            ref="r1",
            order_ref="order:9",
            claw_back=0,
            give_back=60,
            paid_with="pay",
            policy=ReturnPolicy.WITHIN_BALANCE,
            now=T0 + timedelta(days=1),
        )
        lots = remaining_by_lot(session, first.account_id)
        figures = service.balance(
            session, customer_id=member, programme=PROGRAMME, now=T0 + timedelta(days=1)
        )
        assert service.verify(session) == []
    assert result.given_back == 60
    assert again.replayed
    # The expiring lot was drawn first and gets its 30 back, with its own expiry.
    assert lots[first.lot.id] == 30
    assert figures.available == 80
    assert figures.expiring == 30


def test_within_balance_forgives_what_the_balance_cannot_cover(database: Database) -> None:
    with database.write() as session:
        member = new_customer(session, T0)
        service.earn_points(
            session,
            customer_id=member,
            programme=PROGRAMME,
            points=40,
            now=T0,
            key="order:1",
            ref="order:1",
        )
        service.spend_points(
            session, customer_id=member, programme=PROGRAMME, points=30, now=T0, ref="gift"
        )
        result = return_points(
            session,
            customer_id=member,
            programme=PROGRAMME,
            ref="r1",
            order_ref="order:1",
            claw_back=40,
            policy=ReturnPolicy.WITHIN_BALANCE,
            now=T0,
        )
        figures = service.balance(session, customer_id=member, programme=PROGRAMME, now=T0)
        assert service.verify(session) == []
    assert (result.taken, result.forgiven, result.owed) == (10, 30, 0)
    assert figures.available == 0
