"""rewards, vouchers, redemptions, referral

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def _pk(table: str, column: str = "id") -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint(column, name=op.f(f"pk_{table}"))


def _uq(table: str, *columns: str) -> sa.UniqueConstraint:
    return sa.UniqueConstraint(*columns, name=op.f(f"uq_{table}_{'_'.join(columns)}"))


# (table, index name, columns) in creation order; dropped in reverse.
_INDEXES: tuple[tuple[str, str, list[str]], ...] = (
    ("reward", "ix_reward_programme_active", ["programme", "active"]),
    (
        "reward_redemption",
        "ix_reward_redemption_customer_id_reward_id_redeemed_at",
        ["customer_id", "reward_id", "redeemed_at"],
    ),
    ("reward_redemption", "ix_reward_redemption_reward_id", ["reward_id"]),
    ("reward_voucher", "ix_reward_voucher_customer_id_issued_at", ["customer_id", "issued_at"]),
    ("charity_donation", "ix_charity_donation_charity_id", ["charity_id"]),
    (
        "charity_donation",
        "ix_charity_donation_customer_id_donated_at",
        ["customer_id", "donated_at"],
    ),
    ("charity_pledge_record", "ix_charity_pledge_record_charity_id", ["charity_id"]),
    ("referral", "ix_referral_referrer_id_completed_at", ["referrer_id", "completed_at"]),
    ("referral", "ix_referral_source_completed_at", ["source", "completed_at"]),
    ("referral", "ix_referral_status", ["status"]),
)


def upgrade() -> None:
    op.create_table(
        "reward",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("programme", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("cost_points", sa.BigInteger(), nullable=False),
        sa.Column("stock", sa.BigInteger(), nullable=True),
        sa.Column("definition", _json(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _when("created_at"),
        _when("updated_at"),
        _pk("reward"),
        _uq("reward", "code"),
    )
    op.create_table(
        "reward_redemption",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("reward_id", _id(), nullable=False),
        sa.Column("customer_id", _id(), nullable=False),
        sa.Column("programme", sa.String(length=64), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("store_id", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("ledger_ref", sa.String(length=200), nullable=False),
        sa.Column("value_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=True),
        _when("redeemed_at"),
        _when("cancelled_at", nullable=True),
        _fk("reward_redemption", "customer_id", "customer"),
        _fk("reward_redemption", "reward_id", "reward"),
        _pk("reward_redemption"),
        _uq("reward_redemption", "ledger_ref"),
    )
    op.create_table(
        "reward_voucher",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("redemption_id", _id(), nullable=False),
        sa.Column("reward_id", _id(), nullable=False),
        sa.Column("customer_id", _id(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        _when("issued_at"),
        _when("expires_at", nullable=True),
        _when("used_at", nullable=True),
        sa.Column("used_channel", sa.String(length=16), nullable=True),
        sa.Column("used_store_id", sa.String(length=100), nullable=True),
        sa.Column("used_order_ref", sa.String(length=200), nullable=True),
        sa.Column("discount_minor", sa.BigInteger(), nullable=True),
        _when("cancelled_at", nullable=True),
        _fk("reward_voucher", "customer_id", "customer"),
        _fk("reward_voucher", "redemption_id", "reward_redemption"),
        _fk("reward_voucher", "reward_id", "reward"),
        _pk("reward_voucher"),
        _uq("reward_voucher", "key"),
        _uq("reward_voucher", "redemption_id"),
    )
    op.create_table(
        "charity",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("definition", _json(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _when("created_at"),
        _when("updated_at"),
        _pk("charity"),
        _uq("charity", "code"),
    )
    op.create_table(
        "charity_donation",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("charity_id", _id(), nullable=False),
        sa.Column("customer_id", _id(), nullable=False),
        sa.Column("programme", sa.String(length=64), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("value_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("ledger_ref", sa.String(length=200), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=True),
        _when("donated_at"),
        _fk("charity_donation", "charity_id", "charity"),
        _fk("charity_donation", "customer_id", "customer"),
        _pk("charity_donation"),
        _uq("charity_donation", "ledger_ref"),
    )
    op.create_table(
        "charity_pledge",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("charity_id", _id(), nullable=False),
        sa.Column("definition", _json(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _when("created_at"),
        _when("updated_at"),
        _fk("charity_pledge", "charity_id", "charity"),
        _pk("charity_pledge"),
        _uq("charity_pledge", "code"),
    )
    op.create_table(
        "charity_pledge_record",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("pledge_id", _id(), nullable=False),
        sa.Column("charity_id", _id(), nullable=False),
        sa.Column("event_id", _id(), nullable=False),
        sa.Column("customer_id", _id(), nullable=True),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("cost_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        _when("recorded_at"),
        _fk("charity_pledge_record", "charity_id", "charity"),
        _fk("charity_pledge_record", "customer_id", "customer"),
        _fk("charity_pledge_record", "event_id", "event"),
        _fk("charity_pledge_record", "pledge_id", "charity_pledge"),
        _pk("charity_pledge_record"),
        _uq("charity_pledge_record", "pledge_id", "event_id"),
    )
    op.create_table(
        "referral_programme",
        sa.Column("programme", sa.String(length=64), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("referrer_points", sa.BigInteger(), nullable=False),
        sa.Column("referee_points", sa.BigInteger(), nullable=False),
        sa.Column("max_rewards_per_referrer", sa.Integer(), nullable=True),
        sa.Column("burst_max", sa.Integer(), nullable=False),
        sa.Column("burst_window_hours", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _when("updated_at"),
        _pk("referral_programme", "programme"),
    )
    op.create_table(
        "referral_code",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("customer_id", _id(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        _when("created_at"),
        _fk("referral_code", "customer_id", "customer"),
        _pk("referral_code"),
        _uq("referral_code", "code"),
        _uq("referral_code", "customer_id"),
    )
    op.create_table(
        "referral",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("programme", sa.String(length=64), nullable=False),
        sa.Column("code_id", _id(), nullable=False),
        sa.Column("referrer_id", _id(), nullable=False),
        sa.Column("referee_id", _id(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reasons", _json(), nullable=False),
        _when("claimed_at"),
        _when("completed_at", nullable=True),
        sa.Column("completion_event_id", _id(), nullable=True),
        sa.Column("referrer_points", sa.BigInteger(), nullable=False),
        sa.Column("referee_points", sa.BigInteger(), nullable=False),
        _when("reviewed_at", nullable=True),
        sa.Column("reviewed_by", sa.String(length=200), nullable=True),
        _fk("referral", "code_id", "referral_code"),
        _fk("referral", "completion_event_id", "event"),
        _fk("referral", "referee_id", "customer"),
        _fk("referral", "referrer_id", "customer"),
        _pk("referral"),
        _uq("referral", "referee_id"),
    )
    for table, name, columns in _INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, columns)


def downgrade() -> None:
    for table, name, _columns in reversed(_INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
    for table in (
        "referral",
        "referral_code",
        "referral_programme",
        "charity_pledge_record",
        "charity_pledge",
        "charity_donation",
        "charity",
        "reward_voucher",
        "reward_redemption",
        "reward",
    ):
        op.drop_table(table)
