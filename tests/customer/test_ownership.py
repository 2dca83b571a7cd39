"""The walk that finds a person's rows (export, erasure, merge) reads through indexes only."""

from __future__ import annotations

from sqlalchemy import PrimaryKeyConstraint, Table, UniqueConstraint

import fidela.wiring  # noqa: F401 - every context's models, as the application loads them
from fidela.customer.ownership import ALREADY_FOUND, links_to
from fidela.platform.db import Base


def _leading_columns(table: Table) -> set[str]:
    """The first column of each index, unique constraint and primary key of ``table``."""
    leading = {next(iter(index.columns)).name for index in table.indexes}
    leading |= {
        next(iter(constraint.columns)).name
        for constraint in table.constraints
        if isinstance(constraint, UniqueConstraint | PrimaryKeyConstraint) and constraint.columns
    }
    return leading


def test_every_foreign_key_the_person_walk_follows_leads_an_index() -> None:
    metadata = Base.metadata
    reached, frontier, unindexed = {"customer"}, ["customer"], []
    while frontier:
        parent = frontier.pop()
        for link in links_to(metadata, parent):
            if (link.table.name, link.column.name) in ALREADY_FOUND:
                continue
            if link.column.name not in _leading_columns(link.table):
                unindexed.append(f"{link.table.name}.{link.column.name}")
            if link.table.name not in reached:
                reached.add(link.table.name)
                frontier.append(link.table.name)
    # Without an index, finding one person's rows reads the whole table: an export, an
    # erasure or a merge then costs as much as the database is large.
    assert unindexed == []
    assert len(reached) > 20  # the walk reaches every context's tables
