"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI

from fidela import __version__
from fidela.api.balance import BatchLoads
from fidela.api.errors import install_error_handlers
from fidela.api.grouping import EventGrouper
from fidela.api.middleware import RequestContextMiddleware
from fidela.api.principals import PrincipalCache
from fidela.api.routes import (
    access,
    analytics,
    campaigns,
    customers,
    engagement,
    events,
    experiments,
    journeys,
    loyalty,
    objectives,
    predictions,
    referrals,
    rewards,
    segments,
    system,
)
from fidela.api.single_event import SingleEventPath, route_of
from fidela.kernel.clock import utc_now
from fidela.platform.db import Database
from fidela.platform.settings import Settings, get_settings
from fidela.wiring import Wiring, build_wiring

DESCRIPTION = """
Fidela's API: customer profiles and consent, events from every channel, the loyalty
programme and its points ledger, rewards, engagement and analytics.

**Authentication**: send an API key as `Authorization: Bearer fdl_...` (or `X-API-Key`).
Keys carry scopes (`customers:read`, `events:write`, ..., `admin`); create them with
`fidela apikey create --name NAME --scope SCOPE`.

**Errors** are RFC 9457 problem details (`application/problem+json`) with a stable `code`.

**Retries**: every mutating call accepts an `Idempotency-Key` header.
"""


def create_app(
    settings: Settings | None = None,
    database: Database | None = None,
    clock: Callable[[], datetime] = utc_now,
    wiring: Wiring | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="Fidela",
        version=__version__,
        description=DESCRIPTION,
        license_info={"name": "Apache-2.0", "identifier": "Apache-2.0"},
        openapi_tags=[
            {"name": "System", "description": "Health, readiness, metrics and the outbox"},
            {"name": "Customers", "description": "Profiles, identities, consent, GDPR, timeline"},
            {"name": "Events", "description": "Everything that happens, from every channel"},
            {"name": "API keys", "description": "Keys, scopes and who is calling"},
        ],
    )
    app.state.settings = settings
    app.state.database = database or Database.from_url(
        settings.database_url, pool_size=settings.database_pool_size, echo=settings.database_echo
    )
    app.state.clock = clock
    app.state.wiring = wiring or build_wiring(settings)
    app.state.principals = PrincipalCache(settings.api_key_cache_seconds)
    # Replaced in each process of `fidela serve --workers N` (fidela.api.served); alone, a
    # process has nothing to spread its batches with.
    app.state.batch_loads = BatchLoads()
    # Read the clock through app.state: tests replace it after the app is built.
    # Single-event groups get connections of their own on PostgreSQL (plans kept, see
    # Database.for_small_groups). Tests hand in one database (a connection inside their
    # transaction), which serves everything; SQLite has no plans to keep.
    grouped: Database = app.state.database
    if database is None and grouped.dialect == "postgresql":
        grouped = Database.for_small_groups(settings.database_url, echo=settings.database_echo)
    app.state.event_groups = EventGrouper(
        grouped,
        app.state.wiring,
        lambda: app.state.clock(),
        max_group=settings.ingest_group_max,
        gather_seconds=settings.ingest_group_gather_ms / 1000,
        gather_max_seconds=settings.ingest_group_gather_max_ms / 1000,
        inline=settings.ingest_group_inline and grouped.dialect == "postgresql",
    )
    install_error_handlers(app)
    # Inside the request-id and metrics middleware (added after it, so it wraps this one).
    app.add_middleware(SingleEventPath, api=app, route=route_of(events.router.routes))
    app.add_middleware(RequestContextMiddleware)
    # First: routes are matched in order, one router at a time, and matching every router
    # before reaching the ingestion endpoints cost 240 us a request.
    app.include_router(events.router)
    app.include_router(system.router)
    app.include_router(engagement.router)
    app.include_router(engagement.public)
    app.include_router(campaigns.router)
    app.include_router(journeys.router)
    app.include_router(journeys.tasks_router)
    app.include_router(experiments.router)
    app.include_router(customers.router)
    app.include_router(customers.attributes_router)
    app.include_router(customers.consents_router)
    app.include_router(loyalty.router)
    app.include_router(loyalty.members_router)
    app.include_router(access.router)
    app.include_router(analytics.router)
    app.include_router(objectives.router)
    app.include_router(segments.router)
    app.include_router(predictions.router)
    app.include_router(rewards.router)
    app.include_router(referrals.router)
    return app
