"""referral programmes become a configuration family; revisions start at a random point

Every database started its revisions at 0 and counted up from 1, so two databases (the
test suite's, or a database dropped and made again under a running server) handed out the
same revisions for different contents, and a process that had cached one database's
configuration at revision n served it for the other's revision n. From here each database
counts from its own random point (a sequence on PostgreSQL, random values on SQLite).

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FAMILY = "referral_programme"
TABLE = "referral_programme"
OPERATIONS = ("INSERT", "UPDATE", "DELETE")


def upgrade() -> None:
    revisions = sa.table("config_revision", sa.column("family"), sa.column("revision"))
    op.bulk_insert(revisions, [{"family": FAMILY, "revision": 0}])
    # Identifiers below are this module's constants; the function is migration 0014's.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {TABLE}_config_revision "
            f"AFTER INSERT OR UPDATE OR DELETE ON {TABLE} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION config_revision_bump('{FAMILY}')"
        )
        # A random start below 2^62: counting up from there never meets another database's
        # revisions in practice, and never reaches the sequence's end.
        op.execute("SELECT setval('config_revision_seq', 1 + floor(random() * 4e18)::bigint)")
        op.execute("UPDATE config_revision SET revision = nextval('config_revision_seq')")
        return
    for operation in OPERATIONS:
        op.execute(
            f"CREATE TRIGGER {TABLE}_config_revision_{operation.lower()} "  # noqa: S608
            f"AFTER {operation} ON {TABLE} BEGIN "
            f"UPDATE config_revision SET revision = random() WHERE family = '{FAMILY}'; "
            "END"
        )
    op.execute("UPDATE config_revision SET revision = random()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER {TABLE}_config_revision ON {TABLE}")
    else:
        for operation in OPERATIONS:
            op.execute(f"DROP TRIGGER {TABLE}_config_revision_{operation.lower()}")
    op.execute(f"DELETE FROM config_revision WHERE family = '{FAMILY}'")  # noqa: S608
