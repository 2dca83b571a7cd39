"""the confirmation digest index holds pending double opt-ins only

Only a double opt-in request awaiting its confirmation carries a digest, yet the index on it
took an entry for every consent decision: six NULL entries per imported customer, written
and never read. A partial index answers the same look-up (a digest equals a value, so it is
not NULL) and is written only for the requests it finds.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_consent_record_confirmation_digest"
PENDING = sa.text("confirmation_digest IS NOT NULL")


def upgrade() -> None:
    op.drop_index(INDEX, table_name="consent_record")
    op.create_index(
        INDEX,
        "consent_record",
        ["confirmation_digest"],
        postgresql_where=PENDING,
        sqlite_where=PENDING,
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="consent_record")
    op.create_index(INDEX, "consent_record", ["confirmation_digest"])
