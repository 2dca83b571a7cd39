from __future__ import annotations

import hashlib
import random
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fidela.event import service as events
from fidela.platform.db import Base, Database
from tests.conftest import Clock
from tests.customer.fixtures import context
from tests.event.builders import order, returned, simple


def ten_thousand_events(clock: Clock) -> list[dict[str, Any]]:
    rng = random.Random(7)
    out: list[dict[str, Any]] = []
    orders: list[tuple[str, int]] = []
    n = 0
    while len(out) < 10_000:
        n += 1
        who = {"email": f"c{rng.randrange(400)}@example.com"}
        at = clock() - timedelta(minutes=rng.randrange(100_000))
        kind = rng.random()
        if kind < 0.35:
            lines = [
                (f"P{rng.randrange(50)}", rng.randint(1, 3), rng.randint(100, 9000))
                for _ in range(rng.randint(1, 4))
            ]
            out.append(order(f"T{n}", at, customer=who, lines=lines))
            orders.append((f"T{n}", len(lines)))
        elif kind < 0.40 and orders:
            order_id, _ = orders[rng.randrange(len(orders))]
            out.append(returned(f"R{n}", order_id, at, amount_minor=1))
        elif kind < 0.70:
            out.append(
                simple(
                    "page.viewed",
                    f"V{n}",
                    at,
                    who,
                    url=f"https://shop.example.com/p/{rng.randrange(50)}",
                )
            )
        elif kind < 0.85:
            out.append(simple("login", f"L{n}", at, who))
        else:
            out.append(
                simple("survey.answered", f"S{n}", at, who, survey="csat", score=rng.randint(1, 5))
            )
    return out


def fingerprint(session: Session) -> dict[str, str]:
    """A digest of every row of every table."""
    digests = {}
    for table in Base.metadata.sorted_tables:
        rows = session.execute(select(table).order_by(*table.primary_key.columns)).all()
        digests[table.name] = hashlib.sha256(
            repr([tuple(row) for row in rows]).encode()
        ).hexdigest()
    return digests


def send_all(database: Database, batch: list[dict[str, Any]], clock: Clock, run: str) -> list[str]:
    statuses: list[str] = []
    for start in range(0, len(batch), 1000):
        with database.write() as session:
            items = events.ingest_batch(
                session,
                events=batch[start : start + 1000],
                context=context(clock(), f"{run}-{start}"),
            )
        statuses.extend(item.status for item in items)
    return statuses


def test_sending_10k_events_twice_leaves_identical_state(database: Database, clock: Clock) -> None:
    batch = ten_thousand_events(clock)
    first = send_all(database, batch, clock, "first")
    assert first.count("rejected") == 0, [s for s in first if s == "rejected"][:3]
    with database.read() as session:
        before = fingerprint(session)
    clock.now += timedelta(days=3)  # a replay days later, with new request ids
    second = send_all(database, batch, clock, "second")
    assert set(second) == {"duplicate"}
    with database.read() as session:
        assert fingerprint(session) == before
