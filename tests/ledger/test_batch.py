"""Posting earns set-based: each key once, a caller's promise of fresh keys never posts a
key twice, and postings worked out before the lock are posted as they are."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fidela.ledger import service
from fidela.ledger.batch import EarnRequest, earn_many, fresh_posting
from fidela.ledger.models import LedgerAccount, LedgerLot
from fidela.ledger.rules import ExpirySchedule, FixedExpiry, Hold, RoundTo
from fidela.platform.db import Database
from tests.conftest import T0
from tests.ledger.builders import PROGRAMME, cached, new_customer

EXPIRY = ExpirySchedule((FixedExpiry(months=24, round_to=RoundTo.MONTH),))


def test_a_key_already_posted_posts_nothing_again(database: Database) -> None:
    with database.write() as session:
        ana, bob = new_customer(session, T0), new_customer(session, T0)
        first = earn_many(
            session,
            programme=PROGRAMME,
            requests=[EarnRequest(ana, 100, "order:1"), EarnRequest(bob, 40, "order:2")],
            now=T0,
        )
        again = earn_many(
            session,
            programme=PROGRAMME,
            requests=[EarnRequest(ana, 100, "order:1"), EarnRequest(bob, 5, "order:3")],
            now=T0,
        )

        assert (first, again) == ([True, True], [False, True])
        assert (cached(session, ana), cached(session, bob)) == ((100, 0), (45, 0))
        assert service.verify(session) == []


def test_fresh_keys_that_were_posted_after_all_fail_and_post_nothing(database: Database) -> None:
    with database.write() as session:
        ana = new_customer(session, T0)
        earn_many(session, programme=PROGRAMME, requests=[EarnRequest(ana, 100, "order:1")], now=T0)
        with pytest.raises(IntegrityError), session.begin_nested():
            earn_many(
                session,
                programme=PROGRAMME,
                requests=[EarnRequest(ana, 100, "order:1")],
                now=T0,
                fresh_keys=True,
            )

        assert cached(session, ana) == (100, 0)
        assert service.verify(session) == []


def _lots(session: Session, customer_id: int) -> list[tuple[Any, ...]]:
    return [
        tuple(row)
        for row in session.execute(
            select(
                LedgerLot.amount,
                LedgerLot.remaining,
                LedgerLot.earned_at,
                LedgerLot.expires_at,
                LedgerLot.state,
                LedgerLot.activates_at,
                LedgerLot.ref,
            )
            .join(LedgerAccount, LedgerAccount.id == LedgerLot.account_id)
            .where(LedgerAccount.customer_id == customer_id)
            .order_by(LedgerLot.id)
        )
    ]


def test_postings_made_before_the_lock_write_what_earn_many_would_have(
    database: Database,
) -> None:
    with database.write() as session:
        ana, bob = new_customer(session, T0), new_customer(session, T0)
        earned_at = T0 - timedelta(days=3)
        held, plain = Hold.for_days(14), None

        def requests(customer: int) -> list[EarnRequest]:
            return [
                EarnRequest(customer, 120, f"order:{customer}:a", hold=held, earned_at=earned_at),
                EarnRequest(customer, 30, f"order:{customer}:b", hold=plain, earned_at=earned_at),
            ]

        made = [fresh_posting(r, now=T0, expiry=EXPIRY) for r in requests(ana)]
        earn_many(
            session,
            programme=PROGRAMME,
            requests=requests(ana),
            now=T0,
            expiry=EXPIRY,
            postings=[made[0], None],
        )
        earn_many(session, programme=PROGRAMME, requests=requests(bob), now=T0, expiry=EXPIRY)

        def without_ref(lots: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
            return [lot[:-1] for lot in lots]

        assert without_ref(_lots(session, ana)) == without_ref(_lots(session, bob))
        assert [lot[4] for lot in _lots(session, ana)] == ["pending", "active"]
        assert cached(session, ana) == cached(session, bob) == (30, 120)
        assert service.verify(session) == []


def test_a_posting_made_for_another_request_is_refused_and_nothing_is_posted(
    database: Database,
) -> None:
    with database.write() as session:
        ana = new_customer(session, T0)
        other = fresh_posting(EarnRequest(ana, 99, "order:2"), now=T0)
        with pytest.raises(ValueError, match="order:1"), session.begin_nested():
            earn_many(
                session,
                programme=PROGRAMME,
                requests=[EarnRequest(ana, 100, "order:1")],
                now=T0,
                postings=[other],
            )
        with pytest.raises(ValueError, match="one posting or None per request"):
            earn_many(
                session,
                programme=PROGRAMME,
                requests=[EarnRequest(ana, 100, "order:1")],
                now=T0,
                postings=[],
            )

        assert _lots(session, ana) == []
        assert service.verify(session) == []
