"""Run an operation once per (scope, key)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from fidela.platform.idempotency.models import IdempotencyRecord
from fidela.platform.idempotency.rules import IdempotencyKeyReused, validate_key
from fidela.platform.upsert import insert_ignoring_conflicts


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: Any
    replayed: bool


def run_once(
    session: Session,
    *,
    scope: str,
    key: str,
    fingerprint: str,
    now: datetime,
    operation: Callable[[], tuple[int, Any]],
    stored_body: Callable[[Any], Any] = lambda body: body,
) -> StoredResponse:
    """Run ``operation`` unless ``key`` was used before in ``scope``.

    The claim is an INSERT on the unique (scope, key): a concurrent request with the same key
    waits on the first one's row lock (PostgreSQL) or the write lock (SQLite), then sees its
    stored response. ``stored_body`` lets a caller keep a secret out of the stored copy.
    """
    key = validate_key(key)
    claimed = session.execute(
        insert_ignoring_conflicts(session, IdempotencyRecord, "scope", "key")
        .values(
            scope=scope,
            key=key,
            fingerprint=fingerprint,
            status_code=0,
            response=None,
            created_at=now,
        )
        .returning(IdempotencyRecord.id)
    ).scalar_one_or_none()
    if claimed is None:
        record = session.execute(
            select(IdempotencyRecord).where(
                IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
            )
        ).scalar_one()
        if record.fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                f"Idempotency-Key '{key}' was first used for a different request"
            )
        return StoredResponse(record.status_code, record.response, replayed=True)
    status_code, body = operation()
    record = session.get_one(IdempotencyRecord, claimed)
    record.status_code = status_code
    record.response = stored_body(body)
    session.flush()
    return StoredResponse(status_code, body, replayed=False)


def purge_before(session: Session, before: datetime) -> int:
    result = session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < before))
    return int(result.rowcount)  # type: ignore[attr-defined]
