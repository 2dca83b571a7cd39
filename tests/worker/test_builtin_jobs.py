from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from fidela.commerce.models import SalesOrder, SalesReturn
from fidela.event.models import Event
from fidela.ledger import service as ledger
from fidela.ledger.models import LedgerEntry
from fidela.loyalty.models import LoyaltyEarning
from fidela.migrations.metadata import metadata
from fidela.platform.db import Database
from fidela.platform.references import orphans
from fidela.platform.settings import Settings
from fidela.worker.registry import build_registry
from fidela.worker.runner import Worker
from tests.conftest import Clock
from tests.customer.fixtures import ingest
from tests.event.builders import order, returned, simple
from tests.loyalty.setup import create


def test_event_retention_deletes_old_raw_events_but_keeps_orders(
    database: Database, clock: Clock
) -> None:
    with database.write() as session:
        ingest(session, order("OLD-1", clock(), customer={"email": "r@example.com"}), clock())
        ingest(session, simple("login", "OLD-2", clock(), {"email": "r@example.com"}), clock())
    clock.now += timedelta(days=31)
    with database.write() as session:
        ingest(session, simple("login", "NEW-1", clock(), {"email": "r@example.com"}), clock())
    registry = build_registry(Settings(event_retention_days=30))
    Worker(database=database, registry=registry, clock=clock).run_until_idle()
    with database.read() as session:
        kept = session.execute(select(Event.external_id)).scalars().all()
        assert kept == ["NEW-1"]
        orders = session.execute(select(SalesOrder)).scalars().all()
        assert [o.external_id for o in orders] == ["OLD-1"]
        assert orders[0].event_id is None  # the raw event is gone, the order stays


def test_every_periodic_job_has_a_handler_and_runs_cleanly(
    database: Database, clock: Clock
) -> None:
    registry = build_registry(Settings())
    stats = Worker(database=database, registry=registry, clock=clock).run_until_idle()
    # Every context's periodic jobs run on an empty database without a dead letter.
    assert len(registry.periodic) >= 3
    assert stats.claimed == len(registry.periodic)
    assert stats.dead == 0
    assert stats.done == len(registry.periodic)
    with database.read() as session:
        assert session.execute(select(func.count()).select_from(Event)).scalar_one() == 0


def test_event_retention_deletes_events_that_earned_points_and_keeps_the_ledger(
    database: Database, clock: Clock
) -> None:
    """Raw events that earned points (ledger entries and an earning name them) go when
    their retention ends like any other; the points, the entries and the order stay, and
    nothing names the events any more (PostgreSQL leaves that to the code)."""
    create(database, clock())
    with database.write() as session:
        ingest(session, order("OLD-1", clock(), customer={"email": "r@example.com"}), clock())
        ingest(session, returned("OLD-R", "OLD-1", clock(), amount_minor=1000), clock())
    clock.now += timedelta(days=31)
    registry = build_registry(Settings(event_retention_days=30))
    stats = Worker(database=database, registry=registry, clock=clock).run_until_idle()
    assert stats.dead == 0
    with database.read() as session:
        assert session.execute(select(func.count()).select_from(Event)).scalar_one() == 0
        entries = session.execute(select(LedgerEntry.points)).scalars().all()
        assert sorted(entries) == [-10, 50]  # the return took back its share
        assert ledger.verify(session) == []
        earned = session.execute(select(LoyaltyEarning.points)).scalars().all()
        assert earned == [50]
        for column in (
            SalesOrder.event_id,
            SalesReturn.event_id,
            LoyaltyEarning.event_id,
            LedgerEntry.event_id,
        ):
            assert set(session.execute(select(column)).scalars()) == {None}, column
        assert orphans(session, metadata) == {}
