"""indexes for tier windows: a member's lots by earn date, their clawbacks apart

The earning path sums each member's qualifying window at every earn. It read every entry
the member ever had and joined each one to its lot, so an earn cost more the longer the
member had been earning. The sum now reads the member's lots earned in the window
(``ix_ledger_lot_account_id_earned_at``) and their clawbacks, which a partial index keeps
apart from the rest of their entries (``ix_ledger_entry_clawback_account_id``).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CLAWBACKS = sa.text("kind = 'clawback'")


def upgrade() -> None:
    op.create_index("ix_ledger_lot_account_id_earned_at", "ledger_lot", ["account_id", "earned_at"])
    op.create_index(
        "ix_ledger_entry_clawback_account_id",
        "ledger_entry",
        ["account_id"],
        postgresql_where=CLAWBACKS,
        sqlite_where=CLAWBACKS,
    )


def downgrade() -> None:
    op.drop_index("ix_ledger_entry_clawback_account_id", table_name="ledger_entry")
    op.drop_index("ix_ledger_lot_account_id_earned_at", table_name="ledger_lot")
