"""raw events can be purged once they earned: references to them become NULL, and are indexed

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07

The retention job deletes raw events past their retention. Three references to events had
no ``ON DELETE`` rule, so an event that had earned points (a ledger entry names it), counted
for a charity pledge or completed a referral could not be deleted, and the job failed on
every batch holding one: with a programme in force, retention never ran. They now become
NULL, as the orders', returns' and earnings' already did (the row and its amounts stay;
only the link to the raw event goes).

Every deleted event makes PostgreSQL look for the rows that reference it, and five of
those columns had no index: each look-up read the whole table (one scan of every order per
deleted event). They are indexed now.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, constraint): the references to events with no ON DELETE rule.
REFERENCES = (
    ("ledger_entry", "event_id", "fk_ledger_entry_event_id_event"),
    ("charity_pledge_record", "event_id", "fk_charity_pledge_record_event_id_event"),
    ("referral", "completion_event_id", "fk_referral_completion_event_id_event"),
)
# (index, table, column): references to events that no index led with.
INDEXES = (
    ("ix_sales_order_event_id", "sales_order", "event_id"),
    ("ix_sales_return_event_id", "sales_return", "event_id"),
    ("ix_loyalty_earning_event_id", "loyalty_earning", "event_id"),
    ("ix_charity_pledge_record_event_id", "charity_pledge_record", "event_id"),
    ("ix_referral_completion_event_id", "referral", "completion_event_id"),
)


def _reference(on_delete: str | None, nullable: bool) -> None:
    for table, column, name in REFERENCES:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(name, type_="foreignkey")
            if table == "charity_pledge_record":
                batch.alter_column(column, existing_type=sa.BigInteger(), nullable=nullable)
            batch.create_foreign_key(name, "event", [column], ["id"], ondelete=on_delete)


def upgrade() -> None:
    _reference("SET NULL", nullable=True)
    for name, table, column in INDEXES:
        op.create_index(name, table, [column])


def downgrade() -> None:
    for name, table, _ in INDEXES:
        op.drop_index(name, table_name=table)
    _reference(None, nullable=False)
