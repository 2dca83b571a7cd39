"""every foreign key the person walk follows is indexed

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07

Export, erasure and merge find a person's rows by following every foreign key from
``customer``, transitively (``customer.ownership``). Nine of those columns led no index, so
each export or erasure read the whole of those tables: with the demo's 20,000 customers,
what orders earned took 4 ms a person (the whole unique index, which leads with the
programme) and the consent states 14 ms (120,000 rows), growing with the data. A merge
re-pointed returns, charity records, suppressions and advisor tasks by whole-table scans
too. Eight are indexed here; the walk no longer follows the ninth (a consent state's record:
the state is found through its own customer), which an index would have made every customer
import pay for.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_charity_pledge_record_customer_id", "charity_pledge_record", "customer_id"),
    ("ix_customer_merge_survivor_id", "customer_merge", "survivor_id"),
    ("ix_engagement_advisor_task_customer_id", "engagement_advisor_task", "customer_id"),
    ("ix_engagement_suppression_customer_id", "engagement_suppression", "customer_id"),
    ("ix_ledger_allocation_entry_id", "ledger_allocation", "entry_id"),
    ("ix_loyalty_earning_order_id", "loyalty_earning", "order_id"),
    ("ix_referral_code_id", "referral", "code_id"),
    ("ix_sales_return_customer_id", "sales_return", "customer_id"),
)


def upgrade() -> None:
    for name, table, column in INDEXES:
        op.create_index(name, table, [column])


def downgrade() -> None:
    for name, table, _ in INDEXES:
        op.drop_index(name, table_name=table)
