"""per-customer predicted CLV rows of a clv snapshot

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "analytics_customer_clv",
        sa.Column("snapshot_id", _id(), nullable=False),
        sa.Column("customer_id", _id(), nullable=False),
        sa.Column("frequency", sa.Integer(), nullable=False),
        sa.Column("recency_weeks", sa.Float(), nullable=False),
        sa.Column("age_weeks", sa.Float(), nullable=False),
        sa.Column("p_alive", sa.Float(), nullable=False),
        sa.Column("expected_purchases", sa.Float(), nullable=False),
        sa.Column("expected_spend_minor", sa.BigInteger(), nullable=False),
        sa.Column("clv_minor", sa.BigInteger(), nullable=False),
        sa.Column("historical_minor", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["analytics_snapshot.id"],
            name=op.f("fk_analytics_customer_clv_snapshot_id_analytics_snapshot"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "snapshot_id", "customer_id", name=op.f("pk_analytics_customer_clv")
        ),
    )
    with op.batch_alter_table("analytics_customer_clv", schema=None) as batch_op:
        batch_op.create_index("ix_analytics_customer_clv_customer_id", ["customer_id"])


def downgrade() -> None:
    op.drop_table("analytics_customer_clv")
