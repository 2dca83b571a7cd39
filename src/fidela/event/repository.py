"""Event persistence. The per-event statements are built once (per dialect) and executed with
parameters: on this path, building a SQLAlchemy statement cost more than running it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, or_, select, update
from sqlalchemy.orm import Session

from fidela.event.models import Event, EventTypeSchema
from fidela.platform.db import table_of
from fidela.platform.upsert import insert_ignoring_conflicts

_CLAIM_COLUMNS = (
    "source",
    "external_id",
    "type",
    "occurred_at",
    "received_at",
    "request_id",
    "data",
)
_claims: dict[str, Any] = {}
# Core (table-level) statements run on the session's connection: the ORM execute layer
# costs more than these single-row statements themselves.
EVENT = table_of(Event)
_RESULT = select(EVENT.c.result).where(
    EVENT.c.source == bindparam("source"),
    EVENT.c.external_id == bindparam("external_id"),
    EVENT.c.type == bindparam("type"),
)
_OUTCOME = (
    update(EVENT)
    .where(EVENT.c.id == bindparam("event_id"))
    .values(customer_id=bindparam("customer_id"), result=bindparam("result"))
)


def _claim_statement(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect not in _claims:
        _claims[dialect] = (
            insert_ignoring_conflicts(session, EVENT, "source", "external_id", "type")
            .values({column: bindparam(column) for column in _CLAIM_COLUMNS})
            .returning(Event.id)
        )
    return _claims[dialect]


def claim_event(
    session: Session,
    *,
    source: str,
    external_id: str,
    type: str,
    occurred_at: datetime,
    received_at: datetime,
    request_id: str | None,
    data: dict[str, Any],
) -> int | None:
    """Insert the event unless its business key exists; the new id, or None for a replay."""
    new_id: int | None = (
        session.connection()
        .execute(
            _claim_statement(session),
            {
                "source": source,
                "external_id": external_id,
                "type": type,
                "occurred_at": occurred_at,
                "received_at": received_at,
                "request_id": request_id,
                "data": data,
            },
        )
        .scalar_one_or_none()
    )
    return new_id


def find_result(
    session: Session, *, source: str, external_id: str, type: str
) -> dict[str, Any] | None:
    row = session.execute(
        _RESULT, {"source": source, "external_id": external_id, "type": type}
    ).first()
    return None if row is None else row[0]


def set_outcome(
    session: Session, event_id: int, *, customer_id: int | None, result: dict[str, Any]
) -> None:
    session.connection().execute(
        _OUTCOME, {"event_id": event_id, "customer_id": customer_id, "result": result}
    )


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
