"""A small table of per-row parameters to join in one statement, on both databases.

Some batch reads need a different parameter per row: the start of each member's tier window,
for instance. A thousand ``OR`` branches would make a new statement for every batch; instead
the rows travel as a table the statement joins: on PostgreSQL one array parameter per column,
read back with ``unnest``, so the statement is the same whatever the rows (the caller may
compile it once, and the driver prepares it; see ``fidela.platform.bulk``); on SQLite a
``VALUES`` common table expression with the rows inline (SQLite has no arrays, and its
in-process driver binds placeholders cheaply).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, column, func, values
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import FromClause
from sqlalchemy.types import TypeEngine

from fidela.platform.packed_arrays import kind_of, pack


@dataclass(frozen=True)
class RowTable:
    """The table to select from, and the parameters to execute the statement with."""

    table: FromClause
    params: dict[str, list[Any]] = field(default_factory=dict)


def row_table(
    dialect: str,
    name: str,
    columns: Sequence[tuple[str, TypeEngine[Any]]],
    rows: Sequence[tuple[Any, ...]] | None,
) -> RowTable:
    """``rows`` as a table called ``name`` with these typed ``columns``.

    On PostgreSQL the table is the same for any rows (``None``: build the statement only):
    the arrays are in ``params``, named ``<name>_<column>``. On SQLite the rows are part of
    the table, so it needs them (at least one)."""
    names = [column_name for column_name, _ in columns]
    if dialect == "postgresql":
        keys = [f"{name}_{column_name}" for column_name in names]
        arrays = [
            bindparam(key, None, type_=ARRAY(kind))
            for key, (_, kind) in zip(keys, columns, strict=True)
        ]
        params = row_params(name, names, rows) if rows is not None else {}
        return RowTable(func.unnest(*arrays).table_valued(*names).render_derived(name=name), params)
    if not rows:
        raise ValueError("a SQLite row table needs its rows")
    typed = [column(column_name, kind) for column_name, kind in columns]
    return RowTable(values(*typed, name=name).data(list(rows)).cte(name))


def row_params(
    name: str,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    kinds: Sequence[str | None] | None = None,
) -> dict[str, Any]:
    """On PostgreSQL, the parameters of ``rows`` for a statement built once with
    ``row_table(..., rows=None)``: without building the table again, which cost more CPU
    than running the statement for a handful of members.

    With ``kinds`` (each column's packing kind, see ``array_kinds``), each array is packed
    here rather than adapted by psycopg (see ``platform.packed_arrays``)."""
    # ``pack`` leaves a kind of None as a plain list.
    kinds = kinds if kinds is not None else [None] * len(columns)
    return {
        f"{name}_{column}": pack(kind, [row[index] for row in rows])
        for index, (column, kind) in enumerate(zip(columns, kinds, strict=True))
    }


def array_kinds(
    columns: Sequence[tuple[str, TypeEngine[Any]]], dialect: Dialect
) -> list[str | None]:
    """The packing kind of each column's array on PostgreSQL (None: left to psycopg)."""
    return [kind_of(str(kind.compile(dialect=dialect))) for _, kind in columns]
