"""campaigns, journeys, experiments

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _at(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "engagement_campaign",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("audience", _json(), nullable=False),
        sa.Column("variants", _json(), nullable=False),
        sa.Column("holdout_bp", sa.Integer(), nullable=False),
        _at("send_at", nullable=True),
        sa.Column("local_date", sa.String(length=10), nullable=True),
        sa.Column("local_time", sa.String(length=5), nullable=True),
        sa.Column("expires_after_hours", sa.Integer(), nullable=True),
        sa.Column("transactional", sa.Boolean(), nullable=False),
        sa.Column("winner", sa.String(length=50), nullable=True),
        sa.Column("stats", _json(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _at("created_at"),
        _at("updated_at"),
        _at("planned_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engagement_campaign")),
        sa.UniqueConstraint("code", name=op.f("uq_engagement_campaign_code")),
    )

    op.create_table(
        "engagement_journey",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", _json(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _at("created_at"),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engagement_journey")),
        sa.UniqueConstraint("code", name=op.f("uq_engagement_journey_code")),
    )

    op.create_table(
        "engagement_journey_version",
        sa.Column("journey_id", _id(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", _json(), nullable=False),
        _at("created_at"),
        sa.ForeignKeyConstraint(
            ["journey_id"],
            ["engagement_journey.id"],
            name=op.f("fk_engagement_journey_version_journey_id_engagement_journey"),
        ),
        sa.PrimaryKeyConstraint(
            "journey_id", "version", name=op.f("pk_engagement_journey_version")
        ),
    )

    op.create_table(
        "engagement_journey_state",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("journey_id", _id(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("customer_id", _id(), nullable=False),
        sa.Column("entry_key", sa.String(length=200), nullable=False),
        sa.Column("guard", sa.String(length=300), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("step", sa.String(length=100), nullable=True),
        sa.Column("waiting_for", sa.String(length=100), nullable=True),
        _at("next_wake_at", nullable=True),
        sa.Column("context", _json(), nullable=False),
        sa.Column("history", _json(), nullable=False),
        _at("entered_at"),
        _at("updated_at"),
        _at("finished_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_engagement_journey_state_customer_id_customer"),
        ),
        sa.ForeignKeyConstraint(
            ["journey_id"],
            ["engagement_journey.id"],
            name=op.f("fk_engagement_journey_state_journey_id_engagement_journey"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engagement_journey_state")),
        sa.UniqueConstraint("guard", name=op.f("uq_engagement_journey_state_guard")),
    )
    with op.batch_alter_table("engagement_journey_state", schema=None) as batch_op:
        batch_op.create_index("ix_engagement_journey_state_next_wake_at", ["next_wake_at"])
        batch_op.create_index("ix_engagement_journey_state_customer_id", ["customer_id", "status"])
        batch_op.create_index("ix_engagement_journey_state_journey_id", ["journey_id", "status"])

    op.create_table(
        "engagement_advisor_task",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("customer_id", _id(), nullable=False),
        sa.Column("journey_id", _id(), nullable=True),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        _at("created_at"),
        _at("due_at", nullable=True),
        _at("done_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_engagement_advisor_task_customer_id_customer"),
        ),
        sa.ForeignKeyConstraint(
            ["journey_id"],
            ["engagement_journey.id"],
            name=op.f("fk_engagement_advisor_task_journey_id_engagement_journey"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engagement_advisor_task")),
        sa.UniqueConstraint("key", name=op.f("uq_engagement_advisor_task_key")),
    )
    with op.batch_alter_table("engagement_advisor_task", schema=None) as batch_op:
        batch_op.create_index("ix_engagement_advisor_task_status", ["status", "created_at"])


def downgrade() -> None:
    with op.batch_alter_table("engagement_advisor_task", schema=None) as batch_op:
        batch_op.drop_index("ix_engagement_advisor_task_status")
    op.drop_table("engagement_advisor_task")
    with op.batch_alter_table("engagement_journey_state", schema=None) as batch_op:
        batch_op.drop_index("ix_engagement_journey_state_journey_id")
        batch_op.drop_index("ix_engagement_journey_state_customer_id")
        batch_op.drop_index("ix_engagement_journey_state_next_wake_at")
    op.drop_table("engagement_journey_state")
    op.drop_table("engagement_journey_version")
    op.drop_table("engagement_journey")
    op.drop_table("engagement_campaign")
