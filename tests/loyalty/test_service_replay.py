"""Replaying a stream of events with earning, returns and tiers active changes nothing the
second time, and the ledger stays consistent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from fidela.ledger import service as ledger
from fidela.ledger.models import LedgerEntry
from fidela.platform.db import Database
from tests.conftest import Clock
from tests.event.test_replay import fingerprint, send_all, ten_thousand_events
from tests.loyalty.setup import LADDER, create

RULES = {
    "rules": [
        {
            "id": "base",
            "kind": "spend",
            "rate": "1",
            "caps": [{"period": "day", "max_points": 150}],
        },
        {"id": "login", "kind": "event", "event": "login", "points": 5},
        {"id": "big", "kind": "threshold", "steps": [{"min_minor": 10000, "points": 50}]},
    ]
}


@pytest.mark.slow
def test_replaying_events_with_earning_active_leaves_identical_state(
    database: Database, clock: Clock
) -> None:
    create(database, clock(), rules=RULES, ladder=LADDER, hold={"kind": "days", "days": 14})
    batch = ten_thousand_events(clock)[:1500]
    first = send_all(database, batch, clock, "first")
    assert first.count("rejected") == 0
    with database.read() as session:
        before = fingerprint(session)
        earned = session.execute(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "earn")
        ).scalar_one()
        assert ledger.verify(session) == []
    assert earned > 500
    clock.now += timedelta(days=3)
    second = send_all(database, batch, clock, "second")
    assert set(second) == {"duplicate"}
    with database.read() as session:
        assert fingerprint(session) == before
