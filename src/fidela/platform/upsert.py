"""``INSERT ... ON CONFLICT DO NOTHING`` for both dialects: the building block of idempotency
by unique constraint (never check-then-insert)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from fidela.platform.db import Base


def insert_ignoring_conflicts(
    session: Session, model: type[Base] | Table, *index_columns: str
) -> Any:
    """An INSERT into a model's (or a table's) rows that skips rows conflicting on
    ``index_columns``.

    Returns the dialect's insert construct (call ``.values(...)`` / ``.returning(...)``).
    """
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(model).on_conflict_do_nothing(index_elements=list(index_columns))
    if name == "sqlite":
        return sqlite.insert(model).on_conflict_do_nothing(index_elements=list(index_columns))
    raise NotImplementedError(f"unsupported database dialect {name!r}")
