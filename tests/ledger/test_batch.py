"""Posting earns set-based: each key once, and a caller's promise of fresh keys never
posts a key twice."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from fidela.ledger import service
from fidela.ledger.batch import EarnRequest, earn_many
from fidela.platform.db import Database
from tests.conftest import T0
from tests.ledger.builders import PROGRAMME, cached, new_customer


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
