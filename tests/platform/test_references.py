"""References PostgreSQL leaves unchecked: which they are, and finding a row naming nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, func, inspect, select, update
from sqlalchemy.exc import IntegrityError

from fidela.commerce.models import SalesOrder
from fidela.customer.models import CustomerIdentity
from fidela.event.models import Event
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
    "customer_identity.customer_id -> customer",
    "event.customer_id -> customer",
    "event_result.event_id -> event",
    "ledger_entry.event_id -> event",
    "ledger_entry.lot_id -> ledger_lot",
    "loyalty_earning.customer_id -> customer",
    "loyalty_earning.event_id -> event",
    "loyalty_earning.order_id -> sales_order",
    "loyalty_earning.programme_id -> loyalty_programme",
    "referral.completion_event_id -> event",
    "sales_order.customer_id -> customer",
    "sales_order.event_id -> event",
    "sales_order_line.order_id -> sales_order",
    "sales_return.event_id -> event",
}


def test_references_to_events_and_to_rows_ingestion_writes_or_resolves_are_unchecked() -> None:
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
    # Every other reference stays enforced on both (an account's, a reward's customer...).
    assert "ledger_entry.account_id -> ledger_account" in enforced
    assert "ledger_account.customer_id -> customer" in enforced
    assert "reward_redemption.customer_id -> customer" in enforced


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
        (Event, "customer_id", "event.customer_id -> customer"),
        (SalesOrder, "customer_id", "sales_order.customer_id -> customer"),
        (CustomerIdentity, "customer_id", "customer_identity.customer_id -> customer"),
        (LoyaltyEarning, "customer_id", "loyalty_earning.customer_id -> customer"),
        (LoyaltyEarning, "programme_id", "loyalty_earning.programme_id -> loyalty_programme"),
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
        naming = select(func.count()).select_from(model).where(getattr(model, column) == 10**12)
        written = session.scalar(naming)
        assert written
        assert orphans(session, metadata) == {reference: written}
