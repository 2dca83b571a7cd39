"""The nightly refresh: every analytic with its default parameters, for as_of = the last
midnight (UTC), on the deployment's default engine (PostgreSQL in place, or a Parquet export
read by DuckDB)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from fidela.analytics import snapshots
from fidela.platform.outbox.registry import JobContext, JobRegistry, PeriodicTask
from fidela.platform.settings import Settings

REFRESH_TOPIC = "analytics.refresh"


def nightly_as_of(now: datetime) -> datetime:
    """The last midnight UTC before ``now`` (aware), as naive UTC: full days only."""
    return datetime.combine(now.astimezone(UTC).date(), time())


def refresh_all(context: JobContext, payload: dict[str, Any]) -> None:
    # The engines load on first use: every worker start need not pay for them.
    from fidela.analytics import service

    as_of = nightly_as_of(context.now)
    kinds = [snapshots.parse_kind(k) for k in payload.get("kinds", [])] or list(
        snapshots.SnapshotKind
    )
    engine = service.default_engine(context.database)
    # One export (or one in-place session) serves every analytic of the night.
    with service.open_sources(context.database, engine) as sources:
        for kind in kinds:
            service.refresh_snapshot(
                context.database, sources, kind=kind, as_of=as_of, params=None, now=context.now
            )


def register_analytics_jobs(registry: JobRegistry, settings: Settings) -> None:
    del settings  # the defaults need no configuration yet
    registry.add_handler(REFRESH_TOPIC, refresh_all)
    registry.add_periodic(PeriodicTask("analytics-refresh", REFRESH_TOPIC, timedelta(days=1)))
