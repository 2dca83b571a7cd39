"""segments, membership history, personas

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "segment",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=False),
        sa.Column("definition", _json(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("member_count", sa.Integer(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment")),
        sa.UniqueConstraint("key", name=op.f("uq_segment_key")),
    )
    op.create_table(
        "segment_membership",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("segment_id", _id(), nullable=False),
        sa.Column("customer_id", _id(), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("exited_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_segment_membership_customer_id_customer"),
        ),
        sa.ForeignKeyConstraint(
            ["segment_id"], ["segment.id"], name=op.f("fk_segment_membership_segment_id_segment")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment_membership")),
    )
    with op.batch_alter_table("segment_membership", schema=None) as batch_op:
        batch_op.create_index(
            "ix_segment_membership_segment_id_exited_at_customer_id",
            ["segment_id", "exited_at", "customer_id"],
        )
        batch_op.create_index("ix_segment_membership_customer_id", ["customer_id"])

    op.create_table(
        "analytics_customer_churn",
        sa.Column("snapshot_id", _id(), nullable=False),
        sa.Column("customer_id", _id(), nullable=False),
        sa.Column("risk", sa.Float(), nullable=False),
        sa.Column("warning_score", sa.Float(), nullable=False),
        sa.Column("reasons", _json(), nullable=False),
        sa.Column("warnings", _json(), nullable=False),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["analytics_snapshot.id"],
            name=op.f("fk_analytics_customer_churn_snapshot_id_analytics_snapshot"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "snapshot_id", "customer_id", name=op.f("pk_analytics_customer_churn")
        ),
    )
    with op.batch_alter_table("analytics_customer_churn", schema=None) as batch_op:
        batch_op.create_index("ix_analytics_customer_churn_customer_id", ["customer_id"])

    op.create_table(
        "analytics_customer_recommendation",
        sa.Column("snapshot_id", _id(), nullable=False),
        sa.Column("customer_id", _id(), nullable=False),
        sa.Column("products", _json(), nullable=False),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["analytics_snapshot.id"],
            name=op.f("fk_analytics_customer_recommendation_snapshot_id_analytics_snapshot"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "snapshot_id", "customer_id", name=op.f("pk_analytics_customer_recommendation")
        ),
    )
    with op.batch_alter_table("analytics_customer_recommendation", schema=None) as batch_op:
        batch_op.create_index("ix_analytics_customer_recommendation_customer_id", ["customer_id"])


def downgrade() -> None:
    op.drop_table("analytics_customer_recommendation")
    op.drop_table("analytics_customer_churn")
    op.drop_table("segment_membership")
    op.drop_table("segment")
