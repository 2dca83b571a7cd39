"""The engagement jobs the worker runs: message delivery (``engagement.deliver``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fidela.engagement.config import EngagementSettings, get_engagement_settings
from fidela.engagement.delivery import Delivery, RetryLater
from fidela.engagement.messages import DELIVER_TOPIC, DELIVERY_MAX_ATTEMPTS, expire_overdue
from fidela.platform.outbox.registry import JobContext, JobRegistry, PeriodicTask
from fidela.platform.outbox.rules import RetryPolicy
from fidela.platform.settings import Settings

# Marks queued messages past their expiry even when their job never ran (dead-lettered, or
# an outbox job carrying an expiry that the runner dropped).
EXPIRE_TOPIC = "engagement.expire"

# Providers recover from most outages within minutes; an hour and a half of attempts in all
# before the job is dead-lettered for an operator.
DELIVERY_RETRY = RetryPolicy(
    max_attempts=DELIVERY_MAX_ATTEMPTS,
    base=timedelta(seconds=15),
    factor=2.5,
    cap=timedelta(minutes=30),
)


def register_engagement_jobs(
    registry: JobRegistry,
    settings: Settings,
    engagement: EngagementSettings | None = None,
) -> Delivery:
    """Register the delivery handler; returns the ``Delivery`` (its adapters hold open
    connections: close it when the worker stops)."""
    delivery = Delivery.from_settings(
        engagement or get_engagement_settings(),
        public_url=settings.public_url,
        default_phone_region=settings.default_phone_region,
    )

    def deliver(context: JobContext, payload: dict[str, Any]) -> None:
        ids = [int(i) for i in payload.get("messages", [])]
        outcome = delivery.deliver(context.database, ids, now=context.now)
        if outcome.retry:
            shown = "; ".join(outcome.errors[:3])
            raise RetryLater(f"{outcome.retry} message(s) to retry: {shown}")

    def expire(context: JobContext, _payload: dict[str, Any]) -> None:
        with context.database.write() as session:
            expire_overdue(session, now=context.now)

    registry.add_handler(DELIVER_TOPIC, deliver, retry=DELIVERY_RETRY)
    registry.add_handler(EXPIRE_TOPIC, expire)
    registry.add_periodic(PeriodicTask("engagement-expiry", EXPIRE_TOPIC, timedelta(minutes=5)))
    return delivery
