"""Returns through the real event path: clawback in proportion, give-back of points paid,
return policies, and re-qualification of a tier."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from fidela.ledger import service as ledger
from fidela.loyalty.models import LoyaltyEarning
from fidela.platform.db import Database
from fidela.tier.models import TierChange, TierMembership
from tests.conftest import Clock
from tests.event.builders import order, returned, simple
from tests.loyalty.setup import LADDER, balance, create, customer_of, ingest

ANA = {"email": "ana@example.com"}


def verified(database: Database) -> None:
    with database.read() as session:
        assert ledger.verify(session) == []


def test_buy_earn_refund_does_not_keep_the_points(database: Database, clock: Clock) -> None:
    create(database, clock())
    ingest(database, clock(), order("T-1", clock(), customer=ANA, lines=[("P1", 1, 8000)]))
    ana = customer_of(database, "ana@example.com")
    assert balance(database, ana, clock()).available == 80
    ingest(database, clock(), returned("R-1", "T-1", clock(), amount_minor=8000))
    assert balance(database, ana, clock()).available == 0
    verified(database)


def test_an_order_and_its_return_in_one_batch_keep_no_points(
    database: Database, clock: Clock
) -> None:
    create(database, clock())
    items = ingest(
        database,
        clock(),
        order("T-1", clock(), customer=ANA, lines=[("P1", 2, 4000)]),
        returned("R-1", "T-1", clock(), lines=[(1, 1)]),
        returned("R-2", "T-1", clock(), lines=[(1, 1)]),
    )
    assert [item.status for item in items] == ["accepted"] * 3
    assert [item.result.effects["loyalty_return"]["club"]["clawed_back"] for item in items[1:]] == [
        40,
        40,
    ]
    ana = customer_of(database, "ana@example.com")
    assert balance(database, ana, clock()).available == 0
    verified(database)


def test_partial_returns_claw_back_in_proportion_and_end_exactly(
    database: Database, clock: Clock
) -> None:
    create(database, clock())
    ingest(database, clock(), order("T-1", clock(), customer=ANA, lines=[("P1", 3, 1001)]))
    ana = customer_of(database, "ana@example.com")
    assert balance(database, ana, clock()).available == 30
    ingest(database, clock(), returned("R-1", "T-1", clock(), lines=[(1, 1)]))
    assert balance(database, ana, clock()).available == 20
    ingest(database, clock(), returned("R-2", "T-1", clock(), lines=[(1, 2)]))
    assert balance(database, ana, clock()).available == 0
    with database.read() as session:
        earning = session.execute(select(LoyaltyEarning)).scalar_one()
    assert earning.clawed_back == 30
    verified(database)


def test_partial_returns_in_one_batch_each_claw_back_their_own_share(
    database: Database, clock: Clock
) -> None:
    create(database, clock())
    ingest(
        database,
        clock(),
        order("T-1", clock(), customer=ANA, lines=[("P1", 3, 1001)]),
        order("T-2", clock(), customer=ANA, lines=[("P1", 1, 2000)]),
    )
    ana = customer_of(database, "ana@example.com")
    assert balance(database, ana, clock()).available == 50
    items = ingest(
        database,
        clock(),
        returned("R-1", "T-1", clock(), lines=[(1, 1)]),
        returned("R-2", "T-2", clock(), amount_minor=500),
        returned("R-3", "T-1", clock(), lines=[(1, 2)]),
        returned("R-4", "T-2", clock(), amount_minor=1500),
    )
    clawed = [item.result.effects["loyalty_return"]["club"]["clawed_back"] for item in items]
    # As if sent one by one: a third of T-1, a quarter of T-2, then the rest of each.
    assert clawed == [10, 5, 20, 15]
    assert balance(database, ana, clock()).available == 0
    with database.read() as session:
        earnings = session.execute(select(LoyaltyEarning).order_by(LoyaltyEarning.id)).scalars()
        assert [earning.clawed_back for earning in earnings] == [30, 20]
    verified(database)


def test_returning_one_line_claws_back_that_lines_points(database: Database, clock: Clock) -> None:
    rules: dict[str, Any] = {
        "rules": [
            {"id": "base", "kind": "spend", "rate": "1"},
            {
                "id": "shoes",
                "kind": "multiplier",
                "factor": "3",
                "lines": {"categories": ["boots"]},
            },
        ]
    }
    create(database, clock(), rules=rules)
    body = order("T-1", clock(), customer=ANA, lines=[("P1", 1, 5000), ("P2", 1, 5000)])
    body["data"]["lines"][0]["category"] = "boots"
    ingest(database, clock(), body)
    ana = customer_of(database, "ana@example.com")
    assert balance(database, ana, clock()).available == 200
    # The boots earned 150 of the 200 points: returning them takes those back, not half.
    ingest(database, clock(), returned("R-1", "T-1", clock(), lines=[(1, 1)]))
    assert balance(database, ana, clock()).available == 50


def test_refund_of_an_order_paid_with_points_gives_them_back_not_charges_twice(
    database: Database, clock: Clock
) -> None:
    create(database, clock())
    ingest(database, clock(), simple("customer.signed_up", "S-1", clock(), ANA))
    ana = customer_of(database, "ana@example.com")
    assert balance(database, ana, clock()).available == 100
    paid = order(
        "T-1",
        clock(),
        customer=ANA,
        lines=[("P1", 1, 3000)],
        payments=[
            {"method": "points", "amount_minor": 1000, "points": 100},
            {"method": "card", "amount_minor": 2000},
        ],
    )
    ingest(database, clock(), paid)
    # 100 points spent; 20 earned on the 20 EUR not paid with points.
    assert balance(database, ana, clock()).available == 20
    ingest(database, clock(), returned("R-1", "T-1", clock(), amount_minor=3000))
    # Everything returned: the 100 points paid come back, the 20 earned go.
    assert balance(database, ana, clock()).available == 100
    verified(database)


def test_points_payment_beyond_the_balance_rejects_the_order_and_writes_nothing(
    database: Database, clock: Clock
) -> None:
    create(database, clock())
    paid = order(
        "T-1",
        clock(),
        customer=ANA,
        payments=[{"method": "points", "amount_minor": 1000, "points": 100}],
    )
    items = ingest(database, clock(), paid, order("T-2", clock(), customer=ANA))
    assert [item.status for item in items] == ["rejected", "accepted"]
    assert items[0].problem.code == "points_insufficient"
    with database.read() as session:
        (earning,) = session.execute(select(LoyaltyEarning)).scalars().all()
    assert (earning.points, earning.points_paid) == (50, 0)  # T-2's, nothing of T-1
    verified(database)


def test_only_pending_policy_keeps_points_already_active(database: Database, clock: Clock) -> None:
    create(database, clock(), return_policy="only_pending", hold={"kind": "days", "days": 7})
    ingest(database, clock(), order("T-1", clock(), customer=ANA, lines=[("P1", 1, 4000)]))
    ingest(database, clock(), order("T-2", clock(), customer=ANA, lines=[("P1", 1, 4000)]))
    ana = customer_of(database, "ana@example.com")
    ingest(database, clock(), returned("R-1", "T-1", clock(), amount_minor=4000))
    assert balance(database, ana, clock()).pending == 40  # T-1's held points went
    clock.now += timedelta(days=8)
    ingest(database, clock(), returned("R-2", "T-2", clock(), amount_minor=4000))
    assert balance(database, ana, clock()).available == 40  # active: out of reach
    verified(database)


def test_within_balance_never_goes_negative_and_unlimited_records_debt(
    database: Database, clock: Clock
) -> None:
    create(database, clock(), code="club", return_policy="within_balance")
    create(database, clock(), code="debt", return_policy="unlimited", currency="USD")
    ingest(database, clock(), order("T-1", clock(), customer=ANA, lines=[("P1", 1, 5000)]))
    usd = order("U-1", clock(), customer=ANA, lines=[("P1", 1, 5000)])
    usd["data"]["currency"] = "USD"
    ingest(database, clock(), usd)
    ana = customer_of(database, "ana@example.com")
    with database.write() as session:
        ledger.spend_points(
            session, customer_id=ana, programme="club", points=40, now=clock(), ref="x1"
        )
        ledger.spend_points(
            session, customer_id=ana, programme="debt", points=40, now=clock(), ref="x2"
        )
    ingest(
        database,
        clock(),
        returned("R-1", "T-1", clock(), amount_minor=5000),
        returned("R-2", "U-1", clock(), amount_minor=5000),
    )
    assert balance(database, ana, clock(), "club").available == 0
    unlimited = balance(database, ana, clock(), "debt")
    assert (unlimited.available, unlimited.debt) == (-40, 40)
    # The next points pay the debt first.
    usd2 = order("U-2", clock(), customer=ANA, lines=[("P1", 1, 6000)])
    usd2["data"]["currency"] = "USD"
    ingest(database, clock(), usd2)
    assert balance(database, ana, clock(), "debt").available == 20
    verified(database)


def test_return_that_undoes_an_upgrade_requalifies_the_member(
    database: Database, clock: Clock
) -> None:
    create(database, clock(), ladder=LADDER)
    ingest(database, clock(), order("T-1", clock(), customer=ANA, lines=[("P1", 1, 30000)]))
    ana = customer_of(database, "ana@example.com")
    ingest(database, clock(), order("T-2", clock(), customer=ANA, lines=[("P1", 1, 30000)]))
    with database.read() as session:
        tier = session.execute(select(TierMembership.tier_code)).scalar_one()
    assert tier == "gold"
    # Gold doubles earning from the order after the upgrade on.
    ingest(database, clock(), order("T-3", clock(), customer=ANA, lines=[("P1", 1, 1000)]))
    assert balance(database, ana, clock()).available == 300 + 300 + 20
    ingest(database, clock(), returned("R-1", "T-2", clock(), amount_minor=30000))
    with database.read() as session:
        tier = session.execute(select(TierMembership.tier_code)).scalar_one()
        causes = session.execute(select(TierChange.cause).order_by(TierChange.id)).scalars().all()
    assert tier == "member"
    assert causes == ["threshold_reached", "return_undid_upgrade"]
    verified(database)
