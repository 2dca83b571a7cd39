"""engagement channels, messages, delivery, tracking

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
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
        "engagement_brand_kit",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("logo_url", sa.String(length=1000), nullable=True),
        sa.Column("colours", _json(), nullable=False),
        sa.Column("fonts", _json(), nullable=False),
        sa.Column("tone", sa.String(length=500), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("legal_footer", sa.Text(), nullable=False),
        sa.Column("sender_name", sa.String(length=200), nullable=False),
        sa.Column("sender_email", sa.String(length=320), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engagement_brand_kit")),
        sa.UniqueConstraint("code", name=op.f("uq_engagement_brand_kit_code")),
    )
    op.create_table(
        "engagement_template",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("brand_kit", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _at("created_at"),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engagement_template")),
        sa.UniqueConstraint(
            "code", "channel", "language", name=op.f("uq_engagement_template_code_channel_language")
        ),
    )
    op.create_table(
        "engagement_message",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("customer_id", _id(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("template", sa.String(length=100), nullable=True),
        sa.Column("content", _json(), nullable=True),
        sa.Column("context", _json(), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("transactional", sa.Boolean(), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=True),
        sa.Column("journey_id", sa.BigInteger(), nullable=True),
        sa.Column("step", sa.String(length=100), nullable=True),
        sa.Column("variant", sa.String(length=50), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.String(length=300), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _at("created_at"),
        _at("deliver_at"),
        _at("expires_at", nullable=True),
        _at("sent_at", nullable=True),
        _at("finished_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_engagement_message_customer_id_customer"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engagement_message")),
        sa.UniqueConstraint("key", name=op.f("uq_engagement_message_key")),
    )
    with op.batch_alter_table("engagement_message", schema=None) as batch_op:
        batch_op.create_index("ix_engagement_message_customer_id", ["customer_id", "created_at"])
        batch_op.create_index("ix_engagement_message_campaign_id", ["campaign_id"])
        batch_op.create_index("ix_engagement_message_journey_id", ["journey_id"])
        batch_op.create_index("ix_engagement_message_state", ["state"])

    op.create_table(
        "engagement_message_event",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("message_id", _id(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        _at("occurred_at"),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("details", _json(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["engagement_message.id"],
            name=op.f("fk_engagement_message_event_message_id_engagement_message"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engagement_message_event")),
    )
    with op.batch_alter_table("engagement_message_event", schema=None) as batch_op:
        batch_op.create_index("ix_engagement_message_event_message_id", ["message_id", "kind"])

    op.create_table(
        "engagement_suppression",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("customer_id", _id(), nullable=True),
        sa.Column("source", sa.String(length=200), nullable=False),
        _at("created_at"),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_engagement_suppression_customer_id_customer"),
        ),
        sa.PrimaryKeyConstraint("channel", "address", name=op.f("pk_engagement_suppression")),
    )
    op.create_table(
        "engagement_inbox_item",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("message_id", _id(), nullable=False),
        sa.Column("customer_id", _id(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        _at("created_at"),
        _at("read_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["engagement_message.id"],
            name=op.f("fk_engagement_inbox_item_message_id_engagement_message"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_engagement_inbox_item_customer_id_customer"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engagement_inbox_item")),
        sa.UniqueConstraint("message_id", name=op.f("uq_engagement_inbox_item_message_id")),
    )
    with op.batch_alter_table("engagement_inbox_item", schema=None) as batch_op:
        batch_op.create_index("ix_engagement_inbox_item_customer_id", ["customer_id", "id"])


def downgrade() -> None:
    op.drop_table("engagement_inbox_item")
    op.drop_table("engagement_suppression")
    op.drop_table("engagement_message_event")
    op.drop_table("engagement_message")
    op.drop_table("engagement_template")
    op.drop_table("engagement_brand_kit")
