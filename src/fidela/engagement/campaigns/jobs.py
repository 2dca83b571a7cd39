"""The worker job that plans scheduled campaigns when their time comes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fidela.engagement.campaigns import service
from fidela.platform.outbox.registry import JobContext, JobRegistry, PeriodicTask
from fidela.platform.settings import Settings

LAUNCH_TOPIC = "engagement.campaigns.launch"


def launch_due(context: JobContext, _payload: dict[str, Any]) -> None:
    with context.database.read() as session:
        due = service.due_campaigns(session, now=context.now)
    # One transaction per campaign: a failing one does not hold back the others.
    for code in due:
        with context.database.write() as session:
            service.plan_campaign(session, code=code, now=context.now)


def register_campaign_jobs(registry: JobRegistry, _settings: Settings) -> None:
    registry.add_handler(LAUNCH_TOPIC, launch_due)
    registry.add_periodic(PeriodicTask("campaigns-launch", LAUNCH_TOPIC, timedelta(minutes=1)))
