"""API key use cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from fidela.access import repository
from fidela.access.models import ApiKey
from fidela.access.rules import (
    LAST_USED_RESOLUTION,
    InvalidApiKey,
    Principal,
    new_token,
    token_prefix,
    validate_scopes,
    verify_token,
)
from fidela.kernel.errors import InvalidInput


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    token: str  # shown once; only its hash is kept


def create_api_key(
    session: Session,
    *,
    name: str,
    scopes: list[str],
    now: datetime,
    expires_at: datetime | None = None,
) -> IssuedKey:
    """Issue a key with ``scopes``; the clear token is returned once and never stored."""
    clean_name = name.strip()
    if not clean_name or len(clean_name) > 100:
        raise InvalidInput("an API key name must be 1 to 100 characters")
    if expires_at is not None and expires_at <= now:
        raise InvalidInput("an API key cannot expire in the past")
    issued = new_token()
    key = repository.add_api_key(
        session,
        ApiKey(
            name=clean_name,
            prefix=issued.prefix,
            secret_hash=issued.secret_hash,
            scopes=validate_scopes(scopes),
            created_at=now,
            expires_at=expires_at,
        ),
    )
    return IssuedKey(key=key, token=issued.token)


def authenticate(session: Session, *, token: str, now: datetime) -> Principal:
    """The principal of a live key; ``InvalidApiKey`` for anything else."""
    key = repository.find_api_key_by_prefix(session, token_prefix(token))
    if key is None:
        raise InvalidApiKey("the API key is malformed, unknown, revoked or expired")
    verify_token(
        token,
        stored_hash=key.secret_hash,
        revoked_at=key.revoked_at,
        expires_at=key.expires_at,
        now=now,
    )
    return Principal(
        key_id=key.id,
        name=key.name,
        scopes=frozenset(key.scopes),
        last_used_at=key.last_used_at,
        expires_at=key.expires_at,
    )


def record_use(session: Session, *, key_id: int, now: datetime) -> None:
    repository.touch_api_key(session, key_id, now=now, stale_before=now - LAST_USED_RESOLUTION)


def list_api_keys(session: Session, *, include_revoked: bool = False) -> list[ApiKey]:
    return list(repository.list_api_keys(session, include_revoked=include_revoked))


def revoke_api_key(session: Session, *, key_id: int, now: datetime) -> ApiKey:
    """Revoke a key; revoking twice keeps the first revocation time."""
    key = repository.get_api_key(session, key_id)
    if key.revoked_at is None:
        key.revoked_at = now
        session.flush()
    return key


def get_api_key(session: Session, *, key_id: int) -> ApiKey:
    return repository.get_api_key(session, key_id)
