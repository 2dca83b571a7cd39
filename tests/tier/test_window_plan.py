"""A member's tier window is read by its dates on PostgreSQL: the index on (account,
earned_at) is bounded on both sides of the window, so an earn costs the same whatever the
years of history before the window (a lifetime window has no start, and reads it all)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from fidela.platform import driver
from fidela.platform.db import Database
from fidela.platform.row_tables import row_params, row_table
from fidela.tier import window_counts as counts


def _index_conditions(plan: dict[str, Any]) -> list[str]:
    """The conditions of every scan of an index of ``ledger_lot`` in ``plan``."""
    lots = str(plan.get("Index Name", "")).startswith("ix_ledger_lot_")
    found = [str(plan["Index Cond"])] if lots and "Index Cond" in plan else []
    for child in plan.get("Plans", []):
        found += _index_conditions(child)
    return found


def test_the_lots_of_a_window_are_read_by_both_of_its_bounds(database: Database) -> None:
    with database.write() as session:
        if session.get_bind().dialect.name != "postgresql":
            pytest.skip("query plans are PostgreSQL's (SQLite has no such planner choice)")
        dialect = session.get_bind().dialect
        # Members with years of lots, and statistics about them, so that the planner weighs
        # the window's bounds as it would on a real ledger.
        session.execute(
            text(
                "INSERT INTO customer (status, tags, attributes, profiling_restricted,"
                " created_at, updated_at, version)"
                " SELECT 'active', '[]', '{}', false, now(), now(), 1 FROM generate_series(1, 50)"
            )
        )
        session.execute(
            text(
                "INSERT INTO ledger_account (customer_id, programme, available, pending, debt,"
                " version, created_at, updated_at)"
                " SELECT id, 'club', 0, 0, 0, 1, now(), now() FROM customer"
            )
        )
        session.execute(
            text(
                "INSERT INTO ledger_lot (account_id, amount, remaining, earned_at, state)"
                " SELECT a.id, 10, 10, timestamptz '2021-01-01' + n * interval '1 day', 'active'"
                " FROM ledger_account AS a, generate_series(1, 2000) AS n"
            )
        )
        session.execute(text("ANALYZE customer, ledger_account, ledger_lot"))
        (member,) = session.execute(text("SELECT min(customer_id) FROM ledger_account")).one()
        statement = counts._statement(
            row_table("postgresql", "w", counts._columns(True), None), (True, False)
        )
        compiled = statement.compile(dialect=dialect)
        start = datetime(2026, 1, 1, tzinfo=UTC)
        params = (
            dict(compiled.params)
            | {"programme": "club", "now": datetime(2026, 6, 1, tzinfo=UTC)}
            | row_params("w", ["customer_id", "start", "upgrade"], [(member, start, None)])
        )
        ((plan,),) = driver.run(session, f"EXPLAIN (FORMAT JSON) {compiled}", params)
        conditions = _index_conditions(
            (plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"]
        )
        window = [c for c in conditions if "earned_at <=" in c]
        assert window, conditions
        assert all("earned_at >" in c for c in window), window
