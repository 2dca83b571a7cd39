"""ledger: accounts, lots, entries, allocations

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ledger_account",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("customer_id", _id(), nullable=False),
        sa.Column("programme", sa.String(length=64), nullable=False),
        sa.Column("available", sa.BigInteger(), nullable=False),
        sa.Column("pending", sa.BigInteger(), nullable=False),
        sa.Column("debt", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_ledger_account_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_account")),
        sa.UniqueConstraint(
            "customer_id", "programme", name=op.f("uq_ledger_account_customer_id_programme")
        ),
    )

    op.create_table(
        "ledger_lot",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("account_id", _id(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("earned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("activates_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ref", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ledger_account.id"],
            name=op.f("fk_ledger_lot_account_id_ledger_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_lot")),
    )
    with op.batch_alter_table("ledger_lot", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_lot_account_id_state", ["account_id", "state"])
        batch_op.create_index("ix_ledger_lot_account_id_ref", ["account_id", "ref"])
        batch_op.create_index("ix_ledger_lot_expires_at", ["expires_at"])
        batch_op.create_index("ix_ledger_lot_activates_at", ["activates_at"])

    op.create_table(
        "ledger_entry",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("account_id", _id(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("bucket", sa.String(length=16), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lot_id", _id(), nullable=True),
        sa.Column("rule", sa.String(length=100), nullable=True),
        sa.Column("event_id", _id(), nullable=True),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.Column("key", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ledger_account.id"],
            name=op.f("fk_ledger_entry_account_id_ledger_account"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["event.id"], name=op.f("fk_ledger_entry_event_id_event")
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["ledger_lot.id"], name=op.f("fk_ledger_entry_lot_id_ledger_lot")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entry")),
        sa.UniqueConstraint("account_id", "key", name=op.f("uq_ledger_entry_account_id_key")),
    )
    with op.batch_alter_table("ledger_entry", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_entry_account_id_id", ["account_id", "id"])
        batch_op.create_index("ix_ledger_entry_lot_id", ["lot_id"])
        batch_op.create_index("ix_ledger_entry_event_id", ["event_id"])

    op.create_table(
        "ledger_allocation",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("debit_id", _id(), nullable=False),
        sa.Column("entry_id", _id(), nullable=False),
        sa.Column("lot_id", _id(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["debit_id"],
            ["ledger_entry.id"],
            name=op.f("fk_ledger_allocation_debit_id_ledger_entry"),
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["ledger_entry.id"],
            name=op.f("fk_ledger_allocation_entry_id_ledger_entry"),
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["ledger_lot.id"], name=op.f("fk_ledger_allocation_lot_id_ledger_lot")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_allocation")),
    )
    with op.batch_alter_table("ledger_allocation", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_allocation_debit_id", ["debit_id"])
        batch_op.create_index("ix_ledger_allocation_lot_id", ["lot_id"])


def downgrade() -> None:
    with op.batch_alter_table("ledger_allocation", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_allocation_lot_id")
        batch_op.drop_index("ix_ledger_allocation_debit_id")
    op.drop_table("ledger_allocation")

    with op.batch_alter_table("ledger_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_entry_event_id")
        batch_op.drop_index("ix_ledger_entry_lot_id")
        batch_op.drop_index("ix_ledger_entry_account_id_id")
    op.drop_table("ledger_entry")

    with op.batch_alter_table("ledger_lot", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_lot_activates_at")
        batch_op.drop_index("ix_ledger_lot_expires_at")
        batch_op.drop_index("ix_ledger_lot_account_id_ref")
        batch_op.drop_index("ix_ledger_lot_account_id_state")
    op.drop_table("ledger_lot")

    op.drop_table("ledger_account")
