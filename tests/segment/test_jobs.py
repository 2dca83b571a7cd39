from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from fidela.platform.db import Database
from fidela.platform.outbox.registry import JobContext
from fidela.platform.settings import Settings
from fidela.segment import service
from fidela.segment.jobs import REFRESH_TOPIC
from fidela.worker.registry import build_registry
from tests.api.keys import issue
from tests.conftest import Clock
from tests.segment.builders import customer, purchase


def test_the_worker_refreshes_every_segment_hourly(
    database: Database, client: TestClient, clock: Clock
) -> None:
    registry = build_registry(Settings())
    assert any(
        t.topic == REFRESH_TOPIC and t.every == timedelta(hours=1) for t in registry.periodic
    )
    headers = issue(database, clock, "customers:write", "events:write")
    buyer = customer(client, headers, "buyer@example.com")
    customer(client, headers, "browser@example.com")
    purchase(client, headers, "buyer@example.com", "O-1", clock() - timedelta(days=2))
    with database.write() as session:
        buyers = service.create_segment(
            session,
            key="buyers",
            name="Buyers",
            description="",
            definition={"fact": "orders.count", "op": "gte", "value": 1},
            now=clock(),
        )
        everyone = service.create_segment(
            session,
            key="everyone",
            name="Everyone",
            description="",
            definition={"fact": "orders.count", "op": "gte", "value": 0},
            now=clock(),
        )
    context = JobContext(
        message_id=1, topic=REFRESH_TOPIC, key="k", attempt=1, now=clock(), database=database
    )
    registry.spec(REFRESH_TOPIC).handler(context, {})
    with database.read() as session:
        assert [m.customer_id for m in service.list_members(session, segment_id=buyers.id)] == [
            buyer
        ]
        assert service.get_segment(session, segment_id=everyone.id).member_count == 2
