"""The worker job that keeps materialised segment membership fresh."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fidela.platform.outbox.registry import JobContext, JobRegistry, PeriodicTask
from fidela.platform.settings import Settings
from fidela.segment import service

REFRESH_TOPIC = "segment.refresh"


def refresh_segments(context: JobContext, payload: dict[str, Any]) -> None:
    """Refresh one segment (``{"segment_id": n}``) or all of them, each in its own unit of
    work so a long list never holds one long write transaction."""
    wanted = payload.get("segment_id")
    if isinstance(wanted, int):
        ids = [wanted]
    else:
        ids = []
        after = 0
        with context.database.read() as session:
            while page := service.list_segments(session, after_id=after, limit=500):
                ids.extend(segment.id for segment in page)
                after = page[-1].id
    for segment_id in ids:
        with context.database.write() as session:
            service.refresh_segment(session, segment_id=segment_id, now=context.now)


def register_segment_jobs(registry: JobRegistry, settings: Settings) -> None:
    del settings  # the hourly period needs no setting yet
    registry.add_handler(REFRESH_TOPIC, refresh_segments)
    registry.add_periodic(PeriodicTask("segment-refresh", REFRESH_TOPIC, timedelta(hours=1)))
