"""Request-scoped dependencies: the database, the clock and the authenticated principal.

They do no I/O of their own, so they are ``async``: FastAPI runs a plain ``def`` dependency
in the thread pool, and on ``POST /v1/events`` the hops to and from it (three per request)
cost more CPU than everything the dependencies do."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from fidela.access import service as access
from fidela.access.rules import MissingApiKey, Principal, needs_touch, require_scope
from fidela.api.middleware import incoming_request_id
from fidela.api.principals import PrincipalCache
from fidela.kernel.errors import DomainError
from fidela.platform.db import Database
from fidela.platform.settings import Settings
from fidela.wiring import Wiring

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer fdl_...`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="`X-API-Key: fdl_...`")


async def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_now(request: Request) -> datetime:
    """The request's one reading of the clock (tests replace ``app.state.clock``)."""
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


async def get_wiring(request: Request) -> Wiring:
    wiring: Wiring = request.app.state.wiring
    return wiring


DatabaseDep = Annotated[Database, Depends(get_database)]
WiringDep = Annotated[Wiring, Depends(get_wiring)]
NowDep = Annotated[datetime, Depends(get_now)]


def _verify(database: Database, token: str, now: datetime) -> Principal:
    with database.read() as session:
        principal = access.authenticate(session, token=token, now=now)
    if needs_touch(principal.last_used_at, now):
        with database.write() as session:
            access.record_use(session, key_id=principal.key_id, now=now)
    return principal


async def get_principal(
    request: Request,
    database: DatabaseDep,
    now: NowDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header_key: Annotated[str | None, Depends(_header)],
) -> Principal:
    """The caller; a key verified in the last ``api_key_cache_seconds`` is not read again
    (see ``fidela.api.principals``)."""
    token = bearer.credentials if bearer is not None else header_key
    if not token:
        raise MissingApiKey(
            "send an API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
        )
    cache: PrincipalCache = request.app.state.principals
    principal = cache.get(token, now)
    if principal is None:
        try:
            principal = await run_in_threadpool(_verify, database, token, now)
        except DomainError:
            cache.drop(token)  # revoked or expired meanwhile: nobody keeps using it
            raise
        cache.put(token, principal)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def scoped(scope: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that authenticates and requires ``scope``."""

    async def dependency(principal: PrincipalDep) -> Principal:
        require_scope(principal, scope)
        return principal

    dependency.__name__ = f"require_{scope.replace(':', '_')}"
    return dependency


def actor_of(principal: Principal) -> str:
    """How a principal appears in audit trails."""
    return f"api_key:{principal.key_id}:{principal.name}"


def request_id_of(request: Request) -> str | None:
    return incoming_request_id(dict(request.scope["headers"]))
