"""event results move to their own table, written once

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "event_result",
        sa.Column("event_id", BIG_ID, nullable=False),
        sa.Column("result", JSON_DOCUMENT, nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["event.id"], name=op.f("fk_event_result_event_id_event")
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_event_result")),
    )
    op.execute(
        "INSERT INTO event_result (event_id, result) "
        "SELECT id, result FROM event WHERE result IS NOT NULL"
    )
    with op.batch_alter_table("event") as batch:
        batch.drop_column("result")


def downgrade() -> None:
    with op.batch_alter_table("event") as batch:
        batch.add_column(sa.Column("result", JSON_DOCUMENT, nullable=True))
    op.execute(
        "UPDATE event SET result = "
        "(SELECT r.result FROM event_result AS r WHERE r.event_id = event.id)"
    )
    op.drop_table("event_result")
