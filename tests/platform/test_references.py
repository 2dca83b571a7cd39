"""References PostgreSQL leaves unchecked: which they are, and finding a row naming nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, func, inspect, select, update
from sqlalchemy.exc import IntegrityError

from fidela.commerce.models import SalesOrder
from fidela.ledger.models import LedgerEntry
from fidela.loyalty.models import LoyaltyEarning
from fidela.migrations.metadata import metadata
from fidela.platform.db import Base, Database
from fidela.platform.references import orphans, unchecked_references
from tests.conftest import Clock
from tests.customer.fixtures import ingest
from tests.event.builders import order
from tests.loyalty import setup as loyalty

UNCHECKED = {
    "charity_pledge_record.event_id -> event",
    "event_result.event_id -> event",
    "ledger_entry.event_id -> event",
    "ledger_entry.lot_id -> ledger_lot",
    "loyalty_earning.event_id -> event",
    "loyalty_earning.order_id -> sales_order",
    "referral.completion_event_id -> event",
    "sales_order.event_id -> event",
    "sales_order_line.order_id -> sales_order",
    "sales_return.event_id -> event",
}


def test_references_to_events_and_to_rows_written_alongside_them_are_unchecked() -> None:
    assert {reference.name for reference in unchecked_references(metadata)} == UNCHECKED


def test_postgresql_leaves_them_to_the_code_and_sqlite_enforces_them(
    connection: Connection,
) -> None:
    inspector = inspect(connection)
    enforced = {
        f"{table}.{key['constrained_columns'][0]} -> {key['referred_table']}"
        for table in inspector.get_table_names()
        for key in inspector.get_foreign_keys(table)
    }
    if connection.dialect.name == "postgresql":
        assert not enforced & UNCHECKED
    else:
        assert enforced >= UNCHECKED
    # Every other reference stays enforced on both (a customer's, a ledger lot's...).
    assert "event.customer_id -> customer" in enforced
    assert "ledger_entry.account_id -> ledger_account" in enforced


def test_ingested_orders_name_only_rows_that_exist(database: Database, clock: Clock) -> None:
    with database.write() as session:
        ingest(session, order("O-1", clock(), customer={"email": "o@example.com"}), clock())
    with database.read() as session:
        assert orphans(session, metadata) == {}


def test_an_order_earned_with_a_programme_names_only_rows_that_exist(
    database: Database, clock: Clock
) -> None:
    loyalty.create(database, clock())
    loyalty.ingest(database, clock(), order("O-1", clock(), customer={"email": "o@example.com"}))
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(LoyaltyEarning)) == 1
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 1
        assert orphans(session, metadata) == {}


@pytest.mark.parametrize(
    ("model", "column", "reference"),
    [
        (SalesOrder, "event_id", "sales_order.event_id -> event"),
        (LoyaltyEarning, "order_id", "loyalty_earning.order_id -> sales_order"),
        (LedgerEntry, "lot_id", "ledger_entry.lot_id -> ledger_lot"),
    ],
)
def test_a_row_naming_a_missing_row_is_found_on_postgresql_refused_on_sqlite(
    database: Database, clock: Clock, model: type[Base], column: str, reference: str
) -> None:
    # An order earned with a programme writes every one of these rows.
    loyalty.create(database, clock())
    loyalty.ingest(database, clock(), order("O-1", clock(), customer={"email": "o@example.com"}))
    missing = update(model).values({column: 10**12})
    if database.dialect == "sqlite":
        with pytest.raises(IntegrityError), database.write() as session:
            session.execute(missing)
        return
    with database.write() as session:
        session.execute(missing)
    with database.read() as session:
        assert orphans(session, metadata) == {reference: 1}
