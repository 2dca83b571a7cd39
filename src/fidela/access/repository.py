"""API key persistence."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from fidela.access.models import ApiKey
from fidela.access.rules import ApiKeyNotFound


def add_api_key(session: Session, key: ApiKey) -> ApiKey:
    session.add(key)
    session.flush()
    return key


def find_api_key_by_prefix(session: Session, prefix: str) -> ApiKey | None:
    return session.execute(select(ApiKey).where(ApiKey.prefix == prefix)).scalar_one_or_none()


def get_api_key(session: Session, key_id: int) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None:
        raise ApiKeyNotFound(f"API key {key_id} does not exist")
    return key


def list_api_keys(session: Session, *, include_revoked: bool) -> Sequence[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return list(session.execute(query).scalars())


def touch_api_key(session: Session, key_id: int, *, now: datetime, stale_before: datetime) -> None:
    """Record use, at most once per staleness window (a write per request would make every
    authenticated read a write)."""
    session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key_id,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < stale_before),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
