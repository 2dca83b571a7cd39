"""A small table of per-row parameters to join in one statement, on both databases.

Some batch reads need a different parameter per row: the start of each member's tier window,
for instance. A thousand ``OR`` branches would make a new statement for every batch; instead
the rows travel as a table the statement joins: on PostgreSQL one array per column read back
with ``unnest`` (the statement text does not grow with the rows, so the driver prepares it
once, see ``fidela.platform.bulk``); on SQLite a ``VALUES`` common table expression (SQLite
has no arrays, and its in-process driver binds placeholders cheaply).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, column, func, values
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import FromClause
from sqlalchemy.types import TypeEngine


def row_table(
    session: Session,
    name: str,
    columns: Sequence[tuple[str, TypeEngine[Any]]],
    rows: Sequence[tuple[Any, ...]],
) -> FromClause:
    """``rows`` as a table called ``name`` with these typed ``columns`` (at least one row)."""
    if not rows:
        raise ValueError("row_table needs at least one row")
    names = [column_name for column_name, _ in columns]
    if session.get_bind().dialect.name == "postgresql":
        arrays = [
            bindparam(None, [row[index] for row in rows], type_=ARRAY(kind))
            for index, (_, kind) in enumerate(columns)
        ]
        return func.unnest(*arrays).table_valued(*names).render_derived(name=name)
    typed = [column(column_name, kind) for column_name, kind in columns]
    return values(*typed, name=name).data(list(rows)).cte(name)
