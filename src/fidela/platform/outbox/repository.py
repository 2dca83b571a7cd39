"""Outbox persistence. ``claim_due`` is the only concurrency-sensitive query: on PostgreSQL it
takes rows with ``FOR UPDATE SKIP LOCKED`` so workers never wait on each other; on SQLite the
transaction already holds the database write lock (``BEGIN IMMEDIATE``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.orm import Session

from fidela.platform.outbox.models import OutboxMessage
from fidela.platform.outbox.rules import MessageStatus, OutboxMessageNotFound
from fidela.platform.upsert import insert_ignoring_conflicts


def add_message(
    session: Session,
    *,
    topic: str,
    key: str,
    payload: dict[str, Any],
    now: datetime,
    available_at: datetime,
    expires_at: datetime | None,
    max_attempts: int,
) -> int | None:
    """Insert unless a message with ``key`` exists; return the new id or None."""
    statement = (
        insert_ignoring_conflicts(session, OutboxMessage, "key")
        .values(
            topic=topic,
            key=key,
            payload=payload,
            status=MessageStatus.PENDING.value,
            attempts=0,
            max_attempts=max_attempts,
            available_at=available_at,
            expires_at=expires_at,
            created_at=now,
            updated_at=now,
        )
        .returning(OutboxMessage.id)
    )
    new_id: int | None = session.execute(statement).scalar_one_or_none()
    return new_id


def find_message_by_key(session: Session, key: str) -> OutboxMessage | None:
    return session.execute(
        select(OutboxMessage).where(OutboxMessage.key == key)
    ).scalar_one_or_none()


def get_message(session: Session, message_id: int) -> OutboxMessage:
    message = session.get(OutboxMessage, message_id)
    if message is None:
        raise OutboxMessageNotFound(f"outbox message {message_id} does not exist")
    return message


def claim_due(
    session: Session, *, worker_id: str, now: datetime, lease_until: datetime, limit: int
) -> Sequence[OutboxMessage]:
    """Lease up to ``limit`` due messages: running ones whose lease lapsed (their worker
    died) first, then pending ones that are due, oldest first.

    Two statements, each reading the (status, available_at) index in its order and stopping
    at ``limit``. As one statement (``pending and due OR running and lapsed``), PostgreSQL
    had to collect and sort the whole due backlog for every claim: 76 ms a claim with
    200,000 messages waiting (a campaign's sends), against 0.42 + 0.13 ms this way."""
    lapsed = and_(
        OutboxMessage.status == MessageStatus.RUNNING.value, OutboxMessage.locked_until < now
    )
    due = and_(
        OutboxMessage.status == MessageStatus.PENDING.value, OutboxMessage.available_at <= now
    )
    ids: list[int] = []
    for condition in (lapsed, due):
        if len(ids) >= limit:
            break
        ids += session.execute(
            select(OutboxMessage.id)
            .where(condition)
            .order_by(OutboxMessage.available_at, OutboxMessage.id)
            .limit(limit - len(ids))
            .with_for_update(skip_locked=True)
        ).scalars()
    if not ids:
        return []
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids))
        .values(
            status=MessageStatus.RUNNING.value,
            locked_by=worker_id,
            locked_until=lease_until,
            attempts=OutboxMessage.attempts + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return list(
        session.execute(
            select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)
        ).scalars()
    )


def finish_leased(
    session: Session,
    *,
    message_id: int,
    worker_id: str,
    now: datetime,
    status: MessageStatus,
    available_at: datetime | None = None,
    error: str | None = None,
) -> bool:
    """Move a message this worker still leases to ``status``; False if the lease was lost."""
    values: dict[str, Any] = {
        "status": status.value,
        "locked_by": None,
        "locked_until": None,
        "updated_at": now,
    }
    if status is MessageStatus.DONE:
        values["completed_at"] = now
        values["last_error"] = None
    if available_at is not None:
        values["available_at"] = available_at
    if error is not None:
        values["last_error"] = error[:4000]
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.locked_by == worker_id,
            OutboxMessage.status == MessageStatus.RUNNING.value,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def requeue_dead(session: Session, *, message_id: int, now: datetime) -> bool:
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == MessageStatus.DEAD.value)
        .values(status=MessageStatus.PENDING.value, attempts=0, available_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def delete_done_before(session: Session, before: datetime) -> int:
    result = session.execute(
        delete(OutboxMessage)
        .where(
            OutboxMessage.status == MessageStatus.DONE.value,
            OutboxMessage.completed_at < before,
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def count_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ).all()
    counts = {status.value: 0 for status in MessageStatus}
    counts.update({str(status): int(n) for status, n in rows})
    return counts


def list_messages(
    session: Session, *, status: MessageStatus | None, after_id: int, limit: int
) -> Sequence[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.id > after_id)
    if status is not None:
        query = query.where(OutboxMessage.status == status.value)
    return list(session.execute(query.order_by(OutboxMessage.id).limit(limit)).scalars())
