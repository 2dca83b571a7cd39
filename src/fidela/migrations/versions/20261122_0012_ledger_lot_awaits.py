"""ledger lots name the activation event they wait for

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: lots held before this column existed wait for their programme's event.
    with op.batch_alter_table("ledger_lot") as batch:
        batch.add_column(sa.Column("awaits", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ledger_lot") as batch:
        batch.drop_column("awaits")
