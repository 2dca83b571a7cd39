"""Returns recorded a batch at a time answer as if recorded one by one, in order: a later
return of an order refunds what the earlier ones (of the same batch too) left."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from fidela.commerce.models import SalesOrder, SalesOrderLine, SalesReturn
from fidela.event import service as events
from fidela.platform.db import Database
from tests.conftest import Clock
from tests.customer.fixtures import context
from tests.event.builders import order, returned

ANA = {"email": "ana@example.com"}
BOB = {"email": "bob@example.com"}


def batch(database: Database, clock: Clock, *bodies: dict[str, Any]) -> list[Any]:
    with database.write() as session:
        return events.ingest_batch(session, events=list(bodies), context=context(clock()))


def order_state(database: Database, external_id: str) -> tuple[int, str, list[tuple[int, int]]]:
    """(returned_minor, status, [(returned_quantity, returned_minor) per line])."""
    with database.read() as session:
        found = session.execute(
            select(SalesOrder).where(SalesOrder.external_id == external_id)
        ).scalar_one()
        lines = session.execute(
            select(SalesOrderLine.returned_quantity, SalesOrderLine.returned_minor)
            .where(SalesOrderLine.order_id == found.id)
            .order_by(SalesOrderLine.line_no)
        ).all()
        return found.returned_minor, found.status, [(int(q), int(m)) for q, m in lines]


def test_returns_of_one_order_in_one_batch_each_refund_what_the_earlier_ones_left(
    database: Database, clock: Clock
) -> None:
    batch(
        database,
        clock,
        order("T-1", clock(), customer=ANA, lines=[("P1", 2, 1000), ("P2", 1, 3000)]),
    )
    items = batch(
        database,
        clock,
        returned("R-1", "T-1", clock(), lines=[(1, 1)]),
        returned("R-2", "T-1", clock(), lines=[(1, 2)]),  # one of the two is left
        returned("R-3", "T-1", clock(), amount_minor=3500),
        returned("R-4", "T-1", clock(), amount_minor=600),  # 500 are left
        returned("R-5", "T-1", clock(), lines=[(1, 1)]),
    )
    assert [item.status for item in items] == [
        "accepted",
        "rejected",
        "accepted",
        "rejected",
        "accepted",
    ]
    answered = [item.result.effects["return"] for item in items if item.status == "accepted"]
    assert [(r["amount_minor"], r["order_returned_minor"]) for r in answered] == [
        (1000, 1000),
        (3500, 4500),
        (1000, 5500),
    ]
    assert items[1].problem.errors[0]["pointer"] == "/events/1/data/lines/0/quantity"
    assert items[3].problem.errors[0]["pointer"] == "/events/3/data/amount_minor"
    assert order_state(database, "T-1") == (5500, "returned", [(2, 2000), (0, 0)])
    with database.read() as session:
        stored = session.execute(
            select(SalesReturn.id, SalesReturn.external_id, SalesReturn.amount_minor).order_by(
                SalesReturn.id
            )
        ).all()
    # Each answer names the return row it wrote; the rejected ones wrote none.
    assert [(r.external_id, r.amount_minor) for r in stored] == [
        ("R-1", 1000),
        ("R-3", 3500),
        ("R-5", 1000),
    ]
    assert [r["return_id"] for r in answered] == [r.id for r in stored]


def test_a_later_batch_refunds_what_the_earlier_batch_left(
    database: Database, clock: Clock
) -> None:
    batch(database, clock, order("T-1", clock(), customer=ANA, lines=[("P1", 3, 1001)]))
    batch(database, clock, returned("R-1", "T-1", clock(), lines=[(1, 2)]))
    items = batch(
        database,
        clock,
        returned("R-2", "T-1", clock(), lines=[(1, 2)]),
        returned("R-3", "T-1", clock(), lines=[(1, 1)]),
    )
    assert [item.status for item in items] == ["rejected", "accepted"]
    # The line's 3,003 refunded 2,002 for two units, the rest for the last one.
    assert items[1].result.effects["return"]["amount_minor"] == 1001
    assert order_state(database, "T-1") == (3003, "returned", [(3, 3003)])


def test_returns_of_several_orders_mixed_with_their_faults_touch_only_their_own_order(
    database: Database, clock: Clock
) -> None:
    batch(
        database,
        clock,
        order("T-1", clock(), customer=ANA, lines=[("P1", 1, 2000)]),
        order("T-2", clock(), customer=BOB, lines=[("P1", 1, 4000), ("P2", 2, 500)]),
    )
    wrong_currency = returned("R-3", "T-2", clock(), amount_minor=100)
    wrong_currency["data"]["currency"] = "USD"
    items = batch(
        database,
        clock,
        returned("R-1", "T-2", clock(), lines=[(2, 1)]),
        returned("R-2", "NO-SUCH-ORDER", clock(), amount_minor=100),
        wrong_currency,
        returned("R-4", "T-1", clock(), amount_minor=700),
        returned("R-5", "T-2", clock(), lines=[(1, 1)]),
    )
    assert [item.status for item in items] == [
        "accepted",
        "rejected",
        "rejected",
        "accepted",
        "accepted",
    ]
    assert [item.problem.code for item in items if item.problem] == [
        "order_unknown",
        "return_currency_differs",
    ]
    ana, bob = (item.result.customer_id for item in (items[3], items[0]))
    assert ana != bob
    assert items[4].result.customer_id == bob
    assert order_state(database, "T-1") == (700, "partially_returned", [(0, 0)])
    assert order_state(database, "T-2") == (4500, "partially_returned", [(1, 4000), (1, 500)])
