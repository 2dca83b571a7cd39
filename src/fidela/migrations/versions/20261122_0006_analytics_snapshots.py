"""analytics snapshots

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "analytics_snapshot",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("params_key", sa.String(length=64), nullable=False),
        sa.Column("params", _json(), nullable=False),
        sa.Column("engine", sa.String(length=16), nullable=False),
        sa.Column("payload", _json(), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_snapshot")),
        sa.UniqueConstraint(
            "kind",
            "as_of",
            "params_key",
            name=op.f("uq_analytics_snapshot_kind_as_of_params_key"),
        ),
    )
    op.create_index(
        "ix_analytics_snapshot_kind_params_key_as_of",
        "analytics_snapshot",
        ["kind", "params_key", "as_of"],
    )
    op.create_table(
        "analytics_customer_rfm",
        sa.Column("snapshot_id", _id(), nullable=False),
        sa.Column("customer_id", _id(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("frequency", sa.Integer(), nullable=False),
        sa.Column("recency", sa.Integer(), nullable=False),
        sa.Column("age_days", sa.Integer(), nullable=False),
        sa.Column("days_since_last", sa.Integer(), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("repeat_value_minor", sa.BigInteger(), nullable=False),
        sa.Column("r", sa.Integer(), nullable=False),
        sa.Column("f", sa.Integer(), nullable=False),
        sa.Column("m", sa.Integer(), nullable=False),
        sa.Column("segment", sa.String(length=32), nullable=False),
        sa.Column("value_segment", sa.String(length=16), nullable=False),
        sa.Column("preferred_channel", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["analytics_snapshot.id"],
            name=op.f("fk_analytics_customer_rfm_snapshot_id_analytics_snapshot"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "snapshot_id", "customer_id", name=op.f("pk_analytics_customer_rfm")
        ),
    )
    op.create_index(
        "ix_analytics_customer_rfm_customer_id", "analytics_customer_rfm", ["customer_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_analytics_customer_rfm_customer_id", table_name="analytics_customer_rfm")
    op.drop_table("analytics_customer_rfm")
    op.drop_index("ix_analytics_snapshot_kind_params_key_as_of", table_name="analytics_snapshot")
    op.drop_table("analytics_snapshot")
