"""Event persistence. The per-event statements are built once (per dialect) and executed with
parameters: on this path, building a SQLAlchemy statement cost more than running it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.orm import Session

from fidela.event.models import Event, EventTypeSchema
from fidela.platform.bulk import insert_rows, select_matching, update_rows
from fidela.platform.db import table_of

# Core (table-level) statements run on the session's connection: the ORM execute layer
# costs more than these statements themselves.
EVENT = table_of(Event)


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


def find_results(session: Session, keys: Sequence[Key]) -> dict[Key, dict[str, Any] | None]:
    """The stored result of each event already claimed under one of ``keys``."""
    rows = select_matching(
        session,
        EVENT,
        ("source", "external_id", "type"),
        keys,
        ("source", "external_id", "type", "result"),
    )
    return {(row[0], row[1], row[2]): row[3] for row in rows}


def set_outcomes(session: Session, outcomes: Sequence[dict[str, Any]]) -> None:
    """Record ``customer_id`` and ``result`` of claimed events (``id`` keys each row)."""
    update_rows(session, EVENT, outcomes, key="id")


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


def delete_received_before(session: Session, cutoff: datetime, limit: int) -> int:
    ids = select(Event.id).where(Event.received_at < cutoff).order_by(Event.id).limit(limit)
    result = session.execute(
        delete(Event)
        .where(Event.id.in_(ids.scalar_subquery()))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
