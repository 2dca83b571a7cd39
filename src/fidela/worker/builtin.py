"""Jobs the platform itself needs, registered on every worker."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fidela.platform.outbox import service as outbox
from fidela.platform.outbox.registry import JobContext, JobRegistry, PeriodicTask

PURGE_TOPIC = "platform.outbox.purge"


def register_builtin_jobs(registry: JobRegistry, *, retention: timedelta) -> None:
    def purge(context: JobContext, _payload: dict[str, Any]) -> None:
        with context.database.write() as session:
            outbox.purge_done(session, now=context.now, retention=retention)

    registry.add_handler(PURGE_TOPIC, purge)
    registry.add_periodic(PeriodicTask("outbox-purge", PURGE_TOPIC, timedelta(hours=1)))
