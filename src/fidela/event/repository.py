"""Event persistence. The per-event statements are built once (per dialect) and executed with
parameters: on this path, building a SQLAlchemy statement cost more than running it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import MetaData, and_, delete, or_, select
from sqlalchemy.orm import Session

from fidela.event.models import Event, EventTypeSchema, StoredResult
from fidela.platform.bulk import insert_rows, select_matching, update_rows
from fidela.platform.db import table_of
from fidela.platform.references import clear_references

# Core (table-level) statements run on the session's connection: the ORM execute layer
# costs more than these statements themselves.
EVENT = table_of(Event)
RESULT = table_of(StoredResult)


Key = tuple[str, str, str]  # (source, external_id, type)


def claim_events(session: Session, rows: Sequence[dict[str, Any]]) -> dict[Key, int]:
    """Insert the events whose business key is new (one multi-row statement per 1,000);
    ``{key: id}`` of those inserted. A key missing from the answer is a replay."""
    # Sorted by key: two transactions claiming overlapping keys wait for each other in the
    # same order instead of deadlocking.
    ordered = sorted(rows, key=lambda row: (row["source"], row["external_id"], row["type"]))
    found = insert_rows(
        session,
        EVENT,
        ordered,
        returning=("id", "source", "external_id", "type"),
        skip_conflicts_on=("source", "external_id", "type"),
    )
    return {(row[1], row[2], row[3]): int(row[0]) for row in found}


def find_claimed(session: Session, keys: Sequence[Key]) -> dict[Key, int]:
    """The event id of each of ``keys`` already claimed (committed, or by this transaction)."""
    rows = select_matching(
        session,
        EVENT,
        ("source", "external_id", "type"),
        keys,
        ("source", "external_id", "type", "id"),
    )
    return {(row[0], row[1], row[2]): int(row[3]) for row in rows}


def find_results(session: Session, event_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The stored result of each of ``event_ids`` that has one."""
    rows = select_matching(
        session, RESULT, ("event_id",), [(i,) for i in event_ids], ("event_id", "result")
    )
    return {int(row[0]): row[1] for row in rows}


def store_results(session: Session, results: Sequence[dict[str, Any]]) -> None:
    """Record what ingesting each event answered (``event_id`` and ``result`` per row)."""
    insert_rows(session, RESULT, results)


def attach_customers(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Set ``customer_id`` of events a subscriber learnt the customer of (``id`` keys each
    row): events sent without a customer, a return naming its order, say."""
    update_rows(session, EVENT, rows, key="id")


def timeline(
    session: Session,
    *,
    customer_id: int,
    types: Sequence[str] | None,
    before: tuple[datetime, int] | None,
    limit: int,
) -> Sequence[Event]:
    query = select(Event).where(Event.customer_id == customer_id)
    if types:
        query = query.where(Event.type.in_(types))
    if before is not None:
        at, event_id = before
        query = query.where(
            or_(Event.occurred_at < at, and_(Event.occurred_at == at, Event.id < event_id))
        )
    return list(
        session.execute(
            query.order_by(Event.occurred_at.desc(), Event.id.desc()).limit(limit)
        ).scalars()
    )


def find_schema(session: Session, event_type: str) -> EventTypeSchema | None:
    return session.get(EventTypeSchema, event_type)


def find_schemas(session: Session, event_types: Sequence[str]) -> dict[str, EventTypeSchema]:
    if not event_types:
        return {}
    rows = session.execute(
        select(EventTypeSchema).where(EventTypeSchema.type.in_(sorted(set(event_types))))
    ).scalars()
    return {row.type: row for row in rows}


def list_schemas(session: Session) -> Sequence[EventTypeSchema]:
    return list(session.execute(select(EventTypeSchema).order_by(EventTypeSchema.type)).scalars())


def delete_received_before(
    session: Session, cutoff: datetime, limit: int, metadata: MetaData
) -> int:
    ids = list(
        session.execute(
            select(Event.id).where(Event.received_at < cutoff).order_by(Event.id).limit(limit)
        ).scalars()
    )
    if not ids:
        return 0
    session.execute(delete(StoredResult).where(StoredResult.event_id.in_(ids)))
    clear_references(session, metadata, EVENT.name, ids)
    result = session.execute(
        delete(Event).where(Event.id.in_(ids)).execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
