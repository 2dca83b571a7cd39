"""loyalty programmes, memberships, tiers

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _at(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade() -> None:
    op.create_table(
        "loyalty_programme",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("cost_per_point_minor", sa.String(length=40), nullable=False),
        sa.Column("return_policy", sa.String(length=16), nullable=False),
        sa.Column("hold", _json(), nullable=False),
        sa.Column("expiry", _json(), nullable=False),
        sa.Column("warning_days", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("rule_set_version", sa.Integer(), nullable=False),
        sa.Column("ladder_version", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("revision", sa.String(length=32), nullable=False),
        _at("created_at"),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_programme")),
        sa.UniqueConstraint("code", name=op.f("uq_loyalty_programme_code")),
    )
    op.create_table(
        "loyalty_rule_set",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("programme_id", _id(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("rules", _json(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=True),
        _at("created_at"),
        _fk("loyalty_rule_set", "programme_id", "loyalty_programme"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_rule_set")),
        sa.UniqueConstraint(
            "programme_id", "version", name=op.f("uq_loyalty_rule_set_programme_id_version")
        ),
    )
    op.create_table(
        "loyalty_counter",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("programme_id", _id(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=100), nullable=False),
        sa.Column("bucket", sa.String(length=40), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        _fk("loyalty_counter", "programme_id", "loyalty_programme"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_counter")),
        sa.UniqueConstraint(
            "programme_id",
            "customer_id",
            "kind",
            "scope",
            "bucket",
            name=op.f("uq_loyalty_counter_programme_id_customer_id_kind_scope_bucket"),
        ),
    )
    op.create_table(
        "loyalty_earning",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("programme_id", _id(), nullable=False),
        sa.Column("customer_id", _id(), nullable=False),
        sa.Column("order_id", _id(), nullable=False),
        sa.Column("event_id", _id(), nullable=True),
        sa.Column("rule_set_version", sa.Integer(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("lines", _json(), nullable=False),
        sa.Column("points_paid", sa.BigInteger(), nullable=False),
        sa.Column("clawed_back", sa.BigInteger(), nullable=False),
        sa.Column("given_back", sa.BigInteger(), nullable=False),
        _at("created_at"),
        _fk("loyalty_earning", "programme_id", "loyalty_programme"),
        _fk("loyalty_earning", "customer_id", "customer"),
        _fk("loyalty_earning", "order_id", "sales_order"),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_loyalty_earning_event_id_event"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_earning")),
        sa.UniqueConstraint(
            "programme_id", "order_id", name=op.f("uq_loyalty_earning_programme_id_order_id")
        ),
    )
    with op.batch_alter_table("loyalty_earning", schema=None) as batch_op:
        batch_op.create_index("ix_loyalty_earning_customer_id", ["customer_id"])

    op.create_table(
        "tier_ladder",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("programme_id", _id(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("ladder", _json(), nullable=False),
        _at("created_at"),
        _fk("tier_ladder", "programme_id", "loyalty_programme"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tier_ladder")),
        sa.UniqueConstraint(
            "programme_id", "version", name=op.f("uq_tier_ladder_programme_id_version")
        ),
    )
    op.create_table(
        "tier_membership",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("programme_id", _id(), nullable=False),
        sa.Column("customer_id", _id(), nullable=False),
        sa.Column("ladder_version", sa.Integer(), nullable=False),
        sa.Column("tier_code", sa.String(length=64), nullable=False),
        _at("since"),
        _at("joined_at"),
        _at("period_start", nullable=True),
        _at("review_at", nullable=True),
        _at("grace_until", nullable=True),
        _at("upgraded_at", nullable=True),
        sa.Column("upgrade_order_ref", sa.String(length=200), nullable=True),
        sa.Column("before_upgrade", _json(), nullable=True),
        _at("updated_at"),
        _fk("tier_membership", "programme_id", "loyalty_programme"),
        _fk("tier_membership", "customer_id", "customer"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tier_membership")),
        sa.UniqueConstraint(
            "customer_id",
            "programme_id",
            name=op.f("uq_tier_membership_customer_id_programme_id"),
        ),
    )
    with op.batch_alter_table("tier_membership", schema=None) as batch_op:
        batch_op.create_index("ix_tier_membership_review_at", ["review_at"])
        batch_op.create_index("ix_tier_membership_grace_until", ["grace_until"])

    op.create_table(
        "tier_change",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("programme_id", _id(), nullable=False),
        sa.Column("customer_id", _id(), nullable=False),
        _at("at"),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("cause", sa.String(length=32), nullable=False),
        sa.Column("from_code", sa.String(length=64), nullable=False),
        sa.Column("to_code", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=False),
        _at("recorded_at"),
        _fk("tier_change", "programme_id", "loyalty_programme"),
        _fk("tier_change", "customer_id", "customer"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tier_change")),
    )
    with op.batch_alter_table("tier_change", schema=None) as batch_op:
        batch_op.create_index("ix_tier_change_customer_id_at", ["customer_id", "at"])


def downgrade() -> None:
    with op.batch_alter_table("tier_change", schema=None) as batch_op:
        batch_op.drop_index("ix_tier_change_customer_id_at")
    op.drop_table("tier_change")
    with op.batch_alter_table("tier_membership", schema=None) as batch_op:
        batch_op.drop_index("ix_tier_membership_grace_until")
        batch_op.drop_index("ix_tier_membership_review_at")
    op.drop_table("tier_membership")
    op.drop_table("tier_ladder")
    with op.batch_alter_table("loyalty_earning", schema=None) as batch_op:
        batch_op.drop_index("ix_loyalty_earning_customer_id")
    op.drop_table("loyalty_earning")
    op.drop_table("loyalty_counter")
    op.drop_table("loyalty_rule_set")
    op.drop_table("loyalty_programme")
