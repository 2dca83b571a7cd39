"""Per-rule holds and purchase-dated lots through the real event path."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from fidela.event import service as events
from fidela.ledger import service as ledger
from fidela.ledger.models import LedgerAccount, LedgerEntry, LedgerLot
from fidela.ledger.rules import FixedExpiry, expiry_for
from fidela.platform.db import Database
from fidela.tier.models import TierMembership
from tests.conftest import Clock
from tests.event.builders import order, returned, simple
from tests.loyalty.setup import LADDER, balance, create, customer_of, ingest

ANA = {"email": "ana@example.com"}
BOB = {"email": "bob@example.com"}

# The base points wait for the programme's 14-day return window; the basket bonus is
# credited at once; the delivery bonus waits for the parcel.
HELD_RULES: dict[str, Any] = {
    "timezone": "Europe/Paris",
    "rules": [
        {"id": "base", "kind": "spend", "rate": "1"},
        {
            "id": "bonus",
            "kind": "threshold",
            "steps": [{"min_minor": 5000, "points": 20}],
            "hold": {"kind": "none"},
        },
        {
            "id": "delivery",
            "kind": "threshold",
            "steps": [{"min_minor": 1000, "points": 7}],
            "hold": {"kind": "event", "event": "custom.delivered"},
        },
    ],
}


def register(database: Database, now: datetime, *types: str) -> None:
    with database.write() as session:
        for event_type in types:
            events.register_schema(
                session,
                event_type=event_type,
                json_schema={"type": "object"},
                description=event_type,
                expected_version=None,
                now=now,
            )


def lots_of(database: Database, customer_id: int) -> list[LedgerLot]:
    with database.read() as session:
        return list(
            session.execute(
                select(LedgerLot)
                .join(LedgerAccount, LedgerAccount.id == LedgerLot.account_id)
                .where(LedgerAccount.customer_id == customer_id)
                .order_by(LedgerLot.id)
            ).scalars()
        )


def earn_entries(database: Database, customer_id: int) -> list[tuple[int, str | None, str]]:
    with database.read() as session:
        rows = session.execute(
            select(LedgerEntry.points, LedgerEntry.rule, LedgerEntry.key)
            .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
            .where(LedgerAccount.customer_id == customer_id, LedgerEntry.kind == "earn")
            .order_by(LedgerEntry.id)
        ).all()
    return [(int(points), rule, str(key)) for points, rule, key in rows]


def verified(database: Database) -> None:
    with database.read() as session:
        assert ledger.verify(session) == []


def test_an_order_earns_one_lot_per_hold_each_saying_which_rules_earned_it(
    database: Database, clock: Clock
) -> None:
    create(database, clock(), rules=HELD_RULES, hold={"kind": "days", "days": 14})
    register(database, clock(), "custom.delivered")
    ingest(database, clock(), order("T-1", clock(), customer=ANA, lines=[("P1", 1, 6000)]))
    ana = customer_of(database, "ana@example.com")
    entries = earn_entries(database, ana)
    order_key = entries[0][2].removeprefix("earn:")
    assert sorted(entries) == sorted(
        [
            (60, "v1:base", f"earn:{order_key}"),
            (20, "v1:bonus", f"earn:{order_key}~none"),
            (7, "v1:delivery", f"earn:{order_key}~event:custom.delivered"),
        ]
    )
    lots = lots_of(database, ana)
    assert {lot.ref for lot in lots} == {order_key}
    assert {(lot.amount, lot.state, lot.awaits) for lot in lots} == {
        (60, "pending", None),
        (20, "active", None),
        (7, "pending", "custom.delivered"),
    }
    figures = balance(database, ana, clock())
    assert (figures.available, figures.pending) == (20, 67)
    verified(database)


def test_the_activation_event_releases_only_the_lots_waiting_for_it(
    database: Database, clock: Clock
) -> None:
    create(database, clock(), rules=HELD_RULES, hold={"kind": "days", "days": 14})
    register(database, clock(), "custom.delivered")
    ingest(database, clock(), order("T-1", clock(), customer=ANA, lines=[("P1", 1, 6000)]))
    ana = customer_of(database, "ana@example.com")
    clock.now += timedelta(days=2)
    items = ingest(
        database,
        clock(),
        simple("custom.delivered", "D-1", clock(), ANA, source="pos", order_id="T-1"),
    )
    assert items[0].result.effects["loyalty"]["club"] == {"activated": 7}
    figures = balance(database, ana, clock())
    # The return window of the base points is not cut short by the delivery.
    assert (figures.available, figures.pending) == (27, 60)
    after_window = balance(database, ana, clock() + timedelta(days=13))
    assert (after_window.available, after_window.pending) == (87, 0)
    verified(database)


def test_a_return_claws_back_from_every_lot_of_the_order(database: Database, clock: Clock) -> None:
    create(
        database,
        clock(),
        rules=HELD_RULES,
        hold={"kind": "days", "days": 14},
        return_policy="within_balance",
    )
    register(database, clock(), "custom.delivered")
    ingest(database, clock(), order("T-1", clock(), customer=ANA, lines=[("P1", 1, 6000)]))
    ana = customer_of(database, "ana@example.com")
    ingest(database, clock(), returned("R-1", "T-1", clock(), amount_minor=6000))
    figures = balance(database, ana, clock())
    assert (figures.available, figures.pending) == (0, 0)
    verified(database)


def test_pending_lots_do_not_count_for_the_tier_until_they_activate(
    database: Database, clock: Clock
) -> None:
    rules: dict[str, Any] = {
        "timezone": "Europe/Paris",
        "rules": [
            {"id": "base", "kind": "spend", "rate": "1", "hold": {"kind": "days", "days": 14}},
            {
                "id": "welcome",
                "kind": "threshold",
                "steps": [{"min_minor": 1000, "points": 100}],
            },
        ],
    }
    create(database, clock(), rules=rules, ladder=LADDER)
    ingest(database, clock(), order("T-1", clock(), customer=ANA, lines=[("P1", 1, 45000)]))
    ana = customer_of(database, "ana@example.com")
    with database.read() as session:
        tier = session.execute(
            select(TierMembership.tier_code).where(TierMembership.customer_id == ana)
        ).scalar_one()
    # 450 held points and 100 active ones: 100 qualify, short of Gold's 500.
    assert tier == "member"
    assert balance(database, ana, clock()).pending == 450


def test_a_batch_of_orders_posts_each_members_lots_per_hold(
    database: Database, clock: Clock
) -> None:
    create(database, clock(), rules=HELD_RULES, hold={"kind": "days", "days": 14})
    register(database, clock(), "custom.delivered")
    items = ingest(
        database,
        clock(),
        order("T-1", clock(), customer=ANA, lines=[("P1", 1, 6000)]),
        order("T-2", clock(), customer=BOB, lines=[("P1", 1, 2000)]),
        order("T-3", clock(), customer=ANA, lines=[("P1", 1, 1000)]),
    )
    assert [item.status for item in items] == ["accepted"] * 3
    ana, bob = customer_of(database, "ana@example.com"), customer_of(database, "bob@example.com")
    assert sorted(lot.amount for lot in lots_of(database, ana)) == [7, 7, 10, 20, 60]
    assert sorted(lot.amount for lot in lots_of(database, bob)) == [7, 20]
    verified(database)


# ------------------------------------------------------------------ lots dated at the purchase


def test_an_order_imported_late_is_dated_and_expires_from_its_purchase(
    database: Database, clock: Clock
) -> None:
    expiry = {"policies": [{"kind": "fixed", "months": 24}]}
    create(database, clock(), hold={"kind": "days", "days": 14}, expiry=expiry)
    bought = clock() - timedelta(days=300)
    ingest(database, clock(), order("T-OLD", bought, customer=ANA, lines=[("P1", 1, 5000)]))
    ana = customer_of(database, "ana@example.com")
    (lot,) = lots_of(database, ana)
    assert lot.earned_at == bought
    assert lot.activates_at == bought + timedelta(days=14)
    # 24 months from the end of its return window, not from the day it was imported.
    assert lot.expires_at == expiry_for(FixedExpiry(months=24), bought + timedelta(days=14))
    # Its return window ended long ago: spendable at once, nothing pending.
    assert lot.state == "active"
    figures = balance(database, ana, clock())
    assert (figures.available, figures.pending) == (50, 0)
    verified(database)


def test_an_order_older_than_the_validity_earns_points_that_are_already_expired(
    database: Database, clock: Clock
) -> None:
    expiry = {"policies": [{"kind": "fixed", "months": 24}]}
    create(database, clock(), expiry=expiry)
    ana_order = order("T-OLD", clock() - timedelta(days=900), customer=ANA)
    ingest(database, clock(), ana_order)
    ana = customer_of(database, "ana@example.com")
    figures = balance(database, ana, clock())
    assert (figures.available, figures.unrecorded_expiry) == (0, 50)
    verified(database)
    with database.write() as session:
        run = ledger.expire_due(session, now=clock())
    assert run.points == 50
    assert balance(database, ana, clock()).available == 0
    verified(database)


def test_an_order_dated_in_the_future_is_earned_now(database: Database, clock: Clock) -> None:
    create(database, clock(), hold={"kind": "days", "days": 14})
    ingest(
        database,
        clock(),
        order("T-NEXT", clock() + timedelta(days=3), customer=ANA),
    )
    (lot,) = lots_of(database, customer_of(database, "ana@example.com"))
    assert lot.earned_at == clock()
    assert lot.activates_at == clock() + timedelta(days=14)


def test_switching_expiry_on_does_not_reach_orders_imported_from_before(
    database: Database, clock: Clock
) -> None:
    switch_on = clock() - timedelta(days=30)
    expiry = {
        "policies": [{"kind": "fixed", "months": 12, "effective_from": switch_on.isoformat()}]
    }
    create(database, clock(), expiry=expiry)
    ingest(database, clock(), order("T-OLD", clock() - timedelta(days=400), customer=ANA))
    ingest(database, clock(), order("T-NEW", clock() - timedelta(days=10), customer=ANA))
    lots = lots_of(database, customer_of(database, "ana@example.com"))
    assert [lot.expires_at is None for lot in lots] == [True, False]


def test_last_years_imported_orders_do_not_count_in_this_years_tier_window(
    database: Database, clock: Clock
) -> None:
    create(database, clock(), ladder=LADDER)  # calendar-year window, Gold at 500 points
    last_year = clock().replace(month=3, year=clock().year - 1)
    ingest(database, clock(), order("T-OLD", last_year, customer=ANA, lines=[("P1", 1, 60000)]))
    ingest(database, clock(), order("T-NEW", clock(), customer=ANA, lines=[("P1", 1, 10000)]))
    ana = customer_of(database, "ana@example.com")
    with database.read() as session:
        tier = session.execute(
            select(TierMembership.tier_code).where(TierMembership.customer_id == ana)
        ).scalar_one()
    assert tier == "member"
    assert balance(database, ana, clock()).available == 700
