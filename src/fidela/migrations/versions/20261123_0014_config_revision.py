"""configuration revisions, moved by triggers on the configuration tables

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As fidela.platform.revisions.families at the time of this migration (a later change of
# families is a new migration).
FAMILIES: dict[str, tuple[str, ...]] = {
    "loyalty_programme": ("loyalty_programme",),
    "charity": ("charity", "charity_pledge"),
    "journey": ("engagement_journey",),
}
OPERATIONS = ("INSERT", "UPDATE", "DELETE")


def upgrade() -> None:
    revisions = op.create_table(
        "config_revision",
        sa.Column("family", sa.String(length=40), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("family", name=op.f("pk_config_revision")),
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        # A sequence, not revision + 1: a value is never handed out twice, even by a
        # transaction that rolls back, so a revision names one state of the tables.
        op.execute("CREATE SEQUENCE config_revision_seq")
        op.execute(
            "CREATE FUNCTION config_revision_bump() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN UPDATE config_revision SET revision = nextval('config_revision_seq') "
            "WHERE family = TG_ARGV[0]; RETURN NULL; END $$"
        )
    op.bulk_insert(revisions, [{"family": family, "revision": 0} for family in FAMILIES])
    # Identifiers and family names below are this module's constants.
    for family, tables in FAMILIES.items():
        for table in tables:
            if postgres:
                # Once per statement, whatever the number of rows it touched.
                op.execute(
                    f"CREATE TRIGGER {table}_config_revision "
                    f"AFTER INSERT OR UPDATE OR DELETE ON {table} "
                    f"FOR EACH STATEMENT EXECUTE FUNCTION config_revision_bump('{family}')"
                )
                continue
            for operation in OPERATIONS:
                # SQLite has no sequences: a random 64-bit value is as good as never reused.
                op.execute(
                    f"CREATE TRIGGER {table}_config_revision_{operation.lower()} "  # noqa: S608
                    f"AFTER {operation} ON {table} BEGIN "
                    f"UPDATE config_revision SET revision = random() WHERE family = '{family}'; "
                    "END"
                )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for tables in FAMILIES.values():
        for table in tables:
            if postgres:
                op.execute(f"DROP TRIGGER {table}_config_revision ON {table}")
                continue
            for operation in OPERATIONS:
                op.execute(f"DROP TRIGGER {table}_config_revision_{operation.lower()}")
    if postgres:
        op.execute("DROP FUNCTION config_revision_bump()")
        op.execute("DROP SEQUENCE config_revision_seq")
    op.drop_table("config_revision")
