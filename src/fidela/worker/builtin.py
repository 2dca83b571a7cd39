"""Jobs the platform and the contexts need on every worker."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fidela.event import service as events
from fidela.migrations.metadata import metadata
from fidela.platform.idempotency import service as idempotency
from fidela.platform.outbox import service as outbox
from fidela.platform.outbox.registry import JobContext, JobRegistry, PeriodicTask
from fidela.platform.settings import Settings

PURGE_TOPIC = "platform.outbox.purge"
IDEMPOTENCY_PURGE_TOPIC = "platform.idempotency.purge"
EVENT_RETENTION_TOPIC = "event.retention"


def register_builtin_jobs(registry: JobRegistry, settings: Settings) -> None:
    outbox_retention = timedelta(days=settings.outbox_retention_days)
    idempotency_retention = timedelta(hours=settings.idempotency_retention_hours)

    def purge_outbox(context: JobContext, _payload: dict[str, Any]) -> None:
        with context.database.write() as session:
            outbox.purge_done(session, now=context.now, retention=outbox_retention)

    def purge_idempotency(context: JobContext, _payload: dict[str, Any]) -> None:
        with context.database.write() as session:
            idempotency.purge_before(session, context.now - idempotency_retention)

    def event_retention(context: JobContext, _payload: dict[str, Any]) -> None:
        # Short transactions of bounded size: a large backlog never holds a long lock.
        while True:
            with context.database.write() as session:
                deleted = events.purge_expired_events(
                    session,
                    now=context.now,
                    retention_days=settings.event_retention_days,
                    metadata=metadata,
                )
            if deleted == 0:
                break

    registry.add_handler(PURGE_TOPIC, purge_outbox)
    registry.add_handler(IDEMPOTENCY_PURGE_TOPIC, purge_idempotency)
    registry.add_handler(EVENT_RETENTION_TOPIC, event_retention)
    registry.add_periodic(PeriodicTask("outbox-purge", PURGE_TOPIC, timedelta(hours=1)))
    registry.add_periodic(
        PeriodicTask("idempotency-purge", IDEMPOTENCY_PURGE_TOPIC, timedelta(hours=1))
    )
    registry.add_periodic(PeriodicTask("event-retention", EVENT_RETENTION_TOPIC, timedelta(days=1)))
