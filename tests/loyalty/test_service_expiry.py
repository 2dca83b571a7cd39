"""Expiry through the engine: fixed expiry on earned lots, warnings as outbox messages (once
per lot and horizon), activity keeping points alive, the expiry job and tier reviews."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from fidela.ledger import service as ledger
from fidela.loyalty import jobs
from fidela.platform.db import Database
from fidela.platform.outbox.models import OutboxMessage
from fidela.tier.models import TierMembership
from tests.conftest import Clock
from tests.event.builders import order, simple
from tests.loyalty.setup import LADDER, balance, create, customer_of, ingest

ANA = {"email": "ana@example.com"}
FIXED = {"policies": [{"kind": "fixed", "days": 60}]}
ACTIVITY = {"policies": [{"kind": "activity", "months": 1, "activity_kinds": ["login"]}]}


def messages(database: Database, topic: str) -> list[dict[str, Any]]:
    with database.read() as session:
        return list(
            session.execute(select(OutboxMessage.payload).where(OutboxMessage.topic == topic))
            .scalars()
            .all()
        )


def test_expiry_warnings_are_written_once_per_lot_and_horizon(
    database: Database, clock: Clock
) -> None:
    create(database, clock(), expiry=FIXED, warning_days=14)
    ingest(database, clock(), order("T-1", clock(), customer=ANA, lines=[("P1", 1, 5000)]))
    ana = customer_of(database, "ana@example.com")
    with database.write() as session:
        assert jobs.warn_expiring(session, now=clock()).lots == 0  # 60 days away
    clock.now += timedelta(days=50)
    for _ in range(2):
        with database.write() as session:
            jobs.warn_expiring(session, now=clock())
    (warning,) = messages(database, jobs.POINTS_EXPIRING)
    assert warning["customer_id"] == ana
    assert warning["points"] == 50
    assert warning["programme"] == "club"
    assert balance(database, ana, clock()).expiring == 50


def test_points_past_expiry_are_gone_before_and_after_the_job(
    database: Database, clock: Clock
) -> None:
    create(database, clock(), expiry=FIXED)
    ingest(database, clock(), order("T-1", clock(), customer=ANA, lines=[("P1", 1, 5000)]))
    ana = customer_of(database, "ana@example.com")
    clock.now += timedelta(days=62)
    assert balance(database, ana, clock()).available == 0
    with database.write() as session:
        run = ledger.expire_due(session, now=clock())
        assert ledger.verify(session) == []
    assert run.points == 50
    assert balance(database, ana, clock()).available == 0


def test_activity_keeps_points_alive_under_an_activity_policy(
    database: Database, clock: Clock
) -> None:
    create(database, clock(), expiry=ACTIVITY)
    ingest(database, clock(), order("T-1", clock(), customer=ANA, lines=[("P1", 1, 5000)]))
    ana = customer_of(database, "ana@example.com")
    clock.now += timedelta(days=25)
    ingest(database, clock(), simple("login", "L-1", clock(), ANA))
    clock.now += timedelta(days=25)  # 50 days after the earn, 25 after the login
    assert balance(database, ana, clock()).available == 50
    clock.now += timedelta(days=10)  # 35 days after the login: gone
    assert balance(database, ana, clock()).available == 0


def test_tier_is_lowered_by_the_review_job_at_the_windows_end_not_before(
    database: Database, clock: Clock
) -> None:
    create(database, clock(), ladder=LADDER)
    ingest(database, clock(), order("T-1", clock(), customer=ANA, lines=[("P1", 1, 60000)]))
    with database.read() as session:
        row = session.execute(select(TierMembership)).scalar_one()
        review_at = row.review_at
    assert row.tier_code == "gold"
    assert review_at is not None
    clock.now = review_at - timedelta(days=1)
    with database.write() as session:
        assert jobs.review_tiers(session, now=clock()) == 0
    clock.now = review_at + timedelta(hours=1)
    with database.write() as session:
        assert jobs.review_tiers(session, now=clock()) == 1
    with database.read() as session:
        tier = session.execute(select(TierMembership.tier_code)).scalar_one()
    assert tier == "member"
    changed = messages(database, "tier.changed")
    assert [(m["from"], m["to"]) for m in changed] == [("member", "gold"), ("gold", "member")]
