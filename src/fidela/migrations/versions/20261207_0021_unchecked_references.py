"""PostgreSQL no longer checks references to events, nor order lines' references to orders

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07

Each of these rows is written in the transaction (for order lines, the statement) that
inserted the row it names, from the id that insert returned; PostgreSQL's check then locked
that new row again and logged it, once per row. Without them PostgreSQL's time for a batch
of 1,000 orders fell by about a third (docs/benchmarks.md, session 21). Retention, the only
code that deletes events, applies their ``ON DELETE`` rules itself (``fidela.platform.references``).

PostgreSQL only: SQLite keeps enforcing them, so the test suite still fails on a row that
names nothing. The models keep declaring them.
"""

from __future__ import annotations

from collections.abc import Sequence

from fidela.migrations.foreign_keys import Reference, drop_checks, restore_checks

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REFERENCES: tuple[Reference, ...] = (
    ("sales_order", "event_id", "event", "SET NULL"),
    ("sales_return", "event_id", "event", "SET NULL"),
    ("loyalty_earning", "event_id", "event", "SET NULL"),
    ("ledger_entry", "event_id", "event", "SET NULL"),
    ("charity_pledge_record", "event_id", "event", "SET NULL"),
    ("referral", "completion_event_id", "event", "SET NULL"),
    ("event_result", "event_id", "event", None),
    ("sales_order_line", "order_id", "sales_order", None),
)


def upgrade() -> None:
    drop_checks(REFERENCES)


def downgrade() -> None:
    restore_checks(REFERENCES)
