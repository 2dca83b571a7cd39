"""API keys and scopes.

Concepts:
- An **API key** is ``fdl_<prefix>_<secret>``: the 8-character prefix identifies the key (it is
  stored in clear and shown in listings), the 40-character secret (200 random bits) proves
  possession. Only the SHA-256 of the whole token is stored. A slow password hash would add
  nothing: the secret is random, not chosen by a person, so it cannot be guessed from a list.
- A **scope** grants an area of the API, ``<area>:read`` or ``<area>:write``. ``<area>:write``
  implies ``<area>:read``; ``admin`` implies every scope.
- A **principal** is the authenticated key: its id, name and scopes.

Invariants: a revoked or expired key authenticates nothing; a principal acts only within its
scopes; an unknown, malformed, revoked and expired key all look the same from outside (401),
so a caller cannot probe which keys exist.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from fidela.kernel.errors import DomainError, ErrorKind, InvalidInput, NotFound
from fidela.kernel.ids import random_token

ADMIN = "admin"
AREAS: tuple[str, ...] = (
    "customers",  # profiles, identities, consent, GDPR
    "events",  # event ingestion
    "loyalty",  # programmes, rules, ledger, tiers
    "rewards",  # catalogue and redemption
    "engagement",  # templates, campaigns, journeys
    "analytics",  # segments, KPIs, predictions
    "system",  # outbox, jobs, operations
)
KNOWN_SCOPES: frozenset[str] = frozenset(
    {ADMIN} | {f"{area}:{access}" for area in AREAS for access in ("read", "write")}
)

TOKEN_PREFIX = "fdl"  # noqa: S105 - a public marker that makes leaked keys greppable
_TOKEN_PATTERN = re.compile(r"^fdl_([0-9a-z]{8})_([0-9a-z]{40})$")


class MissingApiKey(DomainError):
    code = "api_key_missing"
    kind = ErrorKind.UNAUTHENTICATED
    title = "API key required"


class InvalidApiKey(DomainError):
    code = "api_key_invalid"
    kind = ErrorKind.UNAUTHENTICATED
    title = "Invalid API key"


class MissingScope(DomainError):
    code = "scope_missing"
    kind = ErrorKind.FORBIDDEN
    title = "Missing scope"


class UnknownScope(InvalidInput):
    code = "scope_unknown"
    title = "Unknown scope"


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"
    title = "API key not found"


@dataclass(frozen=True)
class NewToken:
    prefix: str
    token: str
    secret_hash: str


# Last use is recorded at this resolution: a write per authenticated read would serialise
# every request on SQLite and double the write load on PostgreSQL.
LAST_USED_RESOLUTION = timedelta(minutes=5)


@dataclass(frozen=True)
class Principal:
    key_id: int
    name: str
    scopes: frozenset[str]
    last_used_at: datetime | None = None
    expires_at: datetime | None = None


def needs_touch(last_used_at: datetime | None, now: datetime) -> bool:
    return last_used_at is None or last_used_at < now - LAST_USED_RESOLUTION


def validate_scopes(scopes: Iterable[str]) -> list[str]:
    """Return the scopes sorted and de-duplicated; raise ``UnknownScope`` on any unknown one."""
    cleaned = sorted({scope.strip() for scope in scopes})
    unknown = [scope for scope in cleaned if scope not in KNOWN_SCOPES]
    if unknown:
        raise UnknownScope(
            f"unknown scope(s): {', '.join(unknown)}; known scopes: "
            f"{', '.join(sorted(KNOWN_SCOPES))}"
        )
    if not cleaned:
        raise UnknownScope("an API key needs at least one scope")
    return cleaned


def grants(scopes: frozenset[str], required: str) -> bool:
    """True when ``scopes`` include ``required`` directly or by implication."""
    if ADMIN in scopes or required in scopes:
        return True
    area, _, access = required.partition(":")
    return access == "read" and f"{area}:write" in scopes


def require_scope(principal: Principal, required: str) -> None:
    if not grants(principal.scopes, required):
        raise MissingScope(f"this API key lacks the '{required}' scope")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> NewToken:
    prefix, secret = random_token(8), random_token(40)
    token = f"{TOKEN_PREFIX}_{prefix}_{secret}"
    return NewToken(prefix=prefix, token=token, secret_hash=hash_token(token))


def token_prefix(token: str) -> str:
    """The lookup prefix of a well-formed token; ``InvalidApiKey`` otherwise."""
    match = _TOKEN_PATTERN.match(token.strip())
    if match is None:
        raise InvalidApiKey("the API key is malformed, unknown, revoked or expired")
    return match.group(1)


def verify_token(
    token: str,
    *,
    stored_hash: str,
    revoked_at: datetime | None,
    expires_at: datetime | None,
    now: datetime,
) -> None:
    """Raise ``InvalidApiKey`` unless ``token`` matches and the key is live at ``now``."""
    matches = hmac.compare_digest(hash_token(token.strip()), stored_hash)
    live = revoked_at is None and (expires_at is None or now < expires_at)
    if not (matches and live):
        raise InvalidApiKey("the API key is malformed, unknown, revoked or expired")
