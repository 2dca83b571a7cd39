"""Foreign keys PostgreSQL stops checking, for the migrations that leave references to the
code (0021 to 0023; see ``fidela.platform.references``). SQLite keeps every key, so these
do nothing there.

The migrations that use it are history: a change here must keep doing what they did.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

# (table, column, referenced table, ON DELETE rule or None), named by the models' convention.
Reference = tuple[str, str, str, str | None]


def constraint_name(table: str, column: str, target: str) -> str:
    return f"fk_{table}_{column}_{target}"


def _on_postgresql() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def drop_checks(references: Sequence[Reference]) -> None:
    """Drop these references' foreign keys on PostgreSQL."""
    if not _on_postgresql():
        return
    for table, column, target, _ in references:
        op.drop_constraint(constraint_name(table, column, target), table, type_="foreignkey")


def restore_checks(references: Sequence[Reference]) -> None:
    """Create these references' foreign keys again on PostgreSQL, with their rules."""
    if not _on_postgresql():
        return
    for table, column, target, on_delete in references:
        op.create_foreign_key(
            constraint_name(table, column, target),
            table,
            target,
            [column],
            ["id"],
            ondelete=on_delete,
        )
