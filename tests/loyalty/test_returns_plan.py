"""Returns find what their orders earned through the order's index on PostgreSQL, so a
return costs the same however many orders earned before it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text

from fidela.loyalty.returns import earnings_of_orders
from fidela.platform import driver
from fidela.platform.db import Database
from tests.conftest import T0
from tests.loyalty.setup import create


def _scans(plan: dict[str, Any]) -> list[tuple[str, str]]:
    """(node type, index condition) of every scan of ``loyalty_earning`` in ``plan``."""
    found = (
        [(str(plan["Node Type"]), str(plan.get("Index Cond", "")))]
        if plan.get("Relation Name") == "loyalty_earning"
        else []
    )
    for child in plan.get("Plans", []):
        found += _scans(child)
    return found


def test_orders_earnings_are_read_through_an_index_on_the_order(database: Database) -> None:
    create(database, T0)
    with database.write() as session:
        if session.get_bind().dialect.name != "postgresql":
            pytest.skip("query plans are PostgreSQL's (SQLite has no such planner choice)")
        # A programme with a history: 5,000 orders that earned, and statistics about them.
        session.execute(
            text(
                "INSERT INTO customer (status, tags, attributes, profiling_restricted,"
                " created_at, updated_at, version) VALUES ('active', '[]', '{}', false, now(),"
                " now(), 1)"
            )
        )
        session.execute(
            text(
                "INSERT INTO sales_order (source, external_id, channel, currency, subtotal_minor,"
                " shipping_minor, discount_minor, total_minor, points_redeemed,"
                " paid_with_points_minor, returned_minor, status, payments, ordered_at,"
                " created_at, customer_id)"
                " SELECT 'pos', 'T-' || n, 'store', 'EUR', 1000, 0, 0, 1000, 0, 0, 0,"
                " 'completed', '[]', now(), now(), (SELECT max(id) FROM customer)"
                " FROM generate_series(1, 5000) AS n"
            )
        )
        session.execute(
            text(
                "INSERT INTO loyalty_earning (programme_id, customer_id, order_id,"
                " rule_set_version, amount_minor, points, lines, points_paid, clawed_back,"
                " given_back, created_at)"
                " SELECT p.id, o.customer_id, o.id, 1, 1000, 10, '[]', 0, 0, 0, now()"
                " FROM sales_order AS o, loyalty_programme AS p"
            )
        )
        session.execute(text("ANALYZE loyalty_programme, sales_order, loyalty_earning"))
        (order_id,) = session.execute(text("SELECT max(id) FROM sales_order")).one()
        compiled = earnings_of_orders(session, [order_id - 7, order_id]).compile(
            dialect=session.get_bind().dialect
        )
        ((plan,),) = driver.run(session, f"EXPLAIN (FORMAT JSON) {compiled}", dict(compiled.params))
        scans = _scans((plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"])
    assert scans, plan
    for node, condition in scans:
        assert node in ("Index Scan", "Index Only Scan", "Bitmap Index Scan"), scans
        assert "order_id" in condition, scans
