"""Outbox use cases. Called inside a unit of work opened by a shell; never commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from fidela.platform.bulk import insert_rows
from fidela.platform.db import table_of
from fidela.platform.outbox import repository
from fidela.platform.outbox.models import OutboxMessage
from fidela.platform.outbox.rules import (
    DEFAULT_RETRY,
    MessageStatus,
    OutboxMessageNotDead,
    RetryPolicy,
    decide_after_failure,
)


@dataclass(frozen=True)
class Enqueued:
    id: int
    created: bool  # False when a message with the same key already existed


@dataclass(frozen=True)
class ClaimedMessage:
    """A leased message, detached from the session so a handler can run after commit."""

    id: int
    topic: str
    key: str
    payload: dict[str, Any]
    attempt: int
    max_attempts: int
    expires_at: datetime | None


def enqueue_message(
    session: Session,
    *,
    topic: str,
    key: str,
    payload: dict[str, Any],
    now: datetime,
    deliver_at: datetime | None = None,
    expires_at: datetime | None = None,
    max_attempts: int = DEFAULT_RETRY.max_attempts,
) -> Enqueued:
    """Write a message to the outbox in the caller's transaction.

    ``key`` is the idempotency key: enqueueing the same key twice creates one message.
    """
    new_id = repository.add_message(
        session,
        topic=topic,
        key=key,
        payload=payload,
        now=now,
        available_at=deliver_at or now,
        expires_at=expires_at,
        max_attempts=max_attempts,
    )
    if new_id is not None:
        return Enqueued(new_id, created=True)
    existing = repository.find_message_by_key(session, key)
    if existing is None:  # pragma: no cover - the conflicting row cannot vanish in our txn
        raise RuntimeError(f"outbox key {key!r} conflicted but was not found")
    return Enqueued(existing.id, created=False)


@dataclass(frozen=True)
class NewMessage:
    topic: str
    key: str
    payload: dict[str, Any]


def enqueue_messages(session: Session, messages: Sequence[NewMessage], *, now: datetime) -> None:
    """Write many messages in one statement, each as ``enqueue_message`` would (due now,
    default retries); a key that exists already, or repeats in ``messages``, is written once.
    Set-based callers (an upgrade wave over a batch of members) use it instead of one round
    trip per message."""
    rows: dict[str, dict[str, Any]] = {}
    for message in messages:
        rows.setdefault(
            message.key,
            {
                "topic": message.topic,
                "key": message.key,
                "payload": message.payload,
                "status": MessageStatus.PENDING.value,
                "attempts": 0,
                "max_attempts": DEFAULT_RETRY.max_attempts,
                "available_at": now,
                "expires_at": None,
                "created_at": now,
                "updated_at": now,
            },
        )
    insert_rows(session, table_of(OutboxMessage), list(rows.values()), skip_conflicts_on=("key",))


def claim_messages(
    session: Session, *, worker_id: str, now: datetime, lease: timedelta, limit: int
) -> list[ClaimedMessage]:
    rows = repository.claim_due(
        session, worker_id=worker_id, now=now, lease_until=now + lease, limit=limit
    )
    return [_detach(row) for row in rows]


def _detach(row: OutboxMessage) -> ClaimedMessage:
    return ClaimedMessage(
        id=row.id,
        topic=row.topic,
        key=row.key,
        payload=dict(row.payload),
        attempt=row.attempts,
        max_attempts=row.max_attempts,
        expires_at=row.expires_at,
    )


def complete_message(session: Session, *, message_id: int, worker_id: str, now: datetime) -> bool:
    return repository.finish_leased(
        session, message_id=message_id, worker_id=worker_id, now=now, status=MessageStatus.DONE
    )


def fail_message(
    session: Session,
    *,
    message: ClaimedMessage,
    worker_id: str,
    now: datetime,
    error: str,
    retryable: bool,
    policy: RetryPolicy = DEFAULT_RETRY,
) -> MessageStatus:
    decision = decide_after_failure(
        policy=policy,
        key=message.key,
        attempts=message.attempt,
        max_attempts=message.max_attempts,
        now=now,
        expires_at=message.expires_at,
        retryable=retryable,
    )
    repository.finish_leased(
        session,
        message_id=message.id,
        worker_id=worker_id,
        now=now,
        status=decision.status,
        available_at=decision.available_at,
        error=f"{decision.reason}: {error}",
    )
    return decision.status


def retry_dead_message(session: Session, *, message_id: int, now: datetime) -> None:
    """Send a dead-lettered message again (an operator's decision)."""
    message = repository.get_message(session, message_id)
    if message.status != MessageStatus.DEAD.value:
        raise OutboxMessageNotDead(
            f"outbox message {message_id} is {message.status}, not dead; nothing to retry"
        )
    repository.requeue_dead(session, message_id=message_id, now=now)


def purge_done(session: Session, *, now: datetime, retention: timedelta) -> int:
    return repository.delete_done_before(session, now - retention)


def outbox_counts(session: Session) -> dict[str, int]:
    return repository.count_by_status(session)


def list_outbox(
    session: Session, *, status: MessageStatus | None, after_id: int = 0, limit: int = 50
) -> list[OutboxMessage]:
    return list(repository.list_messages(session, status=status, after_id=after_id, limit=limit))
