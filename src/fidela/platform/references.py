"""References that PostgreSQL does not check row by row, and the code that keeps them true.

Every foreign key makes PostgreSQL look up and lock the row referenced, once per row
inserted: for a row its own transaction has just written, the lock rewrites that row and
logs the rewrite. Ingesting an order made four such checks (its event, its stored result,
its two lines' order), more with a programme (its earning and ledger entry name the event).
Without them PostgreSQL's time for a batch of 1,000 orders fell by about a third (in
process, 127-158 -> 80-104 ms) and its CPU an event served from 0.11 to 0.08-0.10 ms
(docs/benchmarks.md, session 21).

So these references are declared in the models, as before, but not checked by
PostgreSQL (migrations 0021 to 0023):

- **every reference to an event** (``event``): each is written while that event is
  ingested, in its transaction, from the id its insert returned. Events are only ever
  deleted by retention, which clears what refers to them first (``clear_references``:
  each ``ON DELETE`` rule applied in code);
- **an order's lines** (``sales_order_line.order_id``): written by the statement that
  inserts their order, from the ids it returns; orders are never deleted;
- **what an order earned and a ledger entry's lot** (``loyalty_earning.order_id``,
  ``ledger_entry.lot_id``; migration 0022): the earning is written in the transaction that
  recorded its order, an earn entry by the statement that inserts its lot, any other entry
  from a lot read under its account's lock; orders and lots are never deleted. A batch of
  1,000 orders with the demo programme waited a sixth less for PostgreSQL without them
  (session 23);
- **the customer and programme every ingested order names** (``event.customer_id``,
  ``sales_order.customer_id``, ``customer_identity.customer_id``,
  ``loyalty_earning.customer_id`` and ``.programme_id``; migration 0023): each names the
  customer the ingestion resolved in its transaction (created by it or found through an
  identity; an explicit id is looked up and refused when missing) or the programme it read
  in force. Customers and programmes are never deleted (a merge marks the merged profile,
  an erasure pseudonymises it). For an existing customer the check locked and rewrote that
  customer's row at every order; PostgreSQL's time for a batch of 1,000 orders fell by about
  an eighth without the order path's two (session 24). The references written by requests
  about one customer (rewards, referrals, consents, engagement, tiers, accounts) stay
  checked.

SQLite keeps every foreign key, enforced, so the whole test suite still fails on a row that
names nothing; ``orphans`` (``fidela db verify``) finds any such row on PostgreSQL. The
models keep the keys: the walks over a person's rows (``customer.ownership``) and the
drift check read them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    MetaData,
    Table,
    delete,
    exists,
    func,
    select,
    update,
)
from sqlalchemy.orm import Session

# Referenced tables whose every incoming reference is unchecked.
UNCHECKED_TARGETS = frozenset({"event"})
# Single references, (table, column), that are unchecked.
UNCHECKED_COLUMNS = frozenset(
    {
        ("sales_order_line", "order_id"),
        ("loyalty_earning", "order_id"),
        ("ledger_entry", "lot_id"),
        ("event", "customer_id"),
        ("sales_order", "customer_id"),
        ("customer_identity", "customer_id"),
        ("loyalty_earning", "customer_id"),
        ("loyalty_earning", "programme_id"),
    }
)


@dataclass(frozen=True)
class Reference:
    table: Table
    column: Column[int]
    target: Column[int]
    on_delete: str | None  # "SET NULL", "CASCADE" or None, as declared

    @property
    def name(self) -> str:
        return f"{self.table.name}.{self.column.name} -> {self.target.table.name}"


def _reference(table: Table, key: ForeignKey) -> Reference:
    on_delete = key.ondelete.upper() if key.ondelete else None
    return Reference(table, key.parent, key.column, on_delete)


def is_unchecked(key: ForeignKey) -> bool:
    """Whether PostgreSQL leaves ``key`` unchecked (the models declare it all the same)."""
    return (
        key.column.table.name in UNCHECKED_TARGETS
        or (key.parent.table.name, key.parent.name) in UNCHECKED_COLUMNS
    )


def unchecked_references(metadata: MetaData) -> Iterator[Reference]:
    for table in metadata.sorted_tables:
        for key in sorted(table.foreign_keys, key=lambda k: k.parent.name):
            if is_unchecked(key):
                yield _reference(table, key)


def clear_references(session: Session, metadata: MetaData, target: str, ids: Sequence[int]) -> None:
    """Apply, in code, the ``ON DELETE`` rule of every unchecked reference to rows ``ids`` of
    ``target`` about to be deleted: ``SET NULL`` empties the column, ``CASCADE`` deletes the
    row. A reference with no rule is the caller's to clear (as the database would refuse
    the delete)."""
    if not ids:
        return
    for reference in unchecked_references(metadata):
        if reference.target.table.name != target:
            continue
        matching = reference.column.in_(ids)
        if reference.on_delete == "SET NULL":
            session.execute(
                update(reference.table).where(matching).values({reference.column.name: None}),
                execution_options={"synchronize_session": False},
            )
        elif reference.on_delete == "CASCADE":
            session.execute(
                delete(reference.table).where(matching),
                execution_options={"synchronize_session": False},
            )


def orphans(session: Session, metadata: MetaData) -> dict[str, int]:
    """Rows whose unchecked reference names a row that does not exist, counted per
    reference (only those with any)."""
    found: dict[str, int] = {}
    for reference in unchecked_references(metadata):
        target = reference.target
        count = session.execute(
            select(func.count())
            .select_from(reference.table)
            .where(
                reference.column.is_not(None),
                ~exists().where(target == reference.column),
            )
        ).scalar_one()
        if count:
            found[reference.name] = int(count)
    return found


def compared_on(dialect: str) -> Callable[[Any, str | None, str, bool, Any], bool]:
    """Alembic's ``include_object`` for ``dialect``: on PostgreSQL, the unchecked references'
    foreign keys are not expected in the database."""

    def include(obj: Any, _name: str | None, kind: str, reflected: bool, _other: Any) -> bool:
        if dialect != "postgresql" or kind != "foreign_key_constraint" or reflected:
            return True
        keys = obj.elements if isinstance(obj, ForeignKeyConstraint) else []
        return not any(is_unchecked(key) for key in keys)

    return include
