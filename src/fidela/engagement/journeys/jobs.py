"""The worker jobs of journeys.

- ``engagement.journeys.advance`` (every minute): advance the runs whose wake-up time has
  come. Waits live in the database (``next_wake_at``), never in a queue's delay: a restart
  loses nothing, a late worker just finds more runs due.
- ``engagement.journeys.segments`` (every five minutes): enter the customers who joined the
  segment of a segment-triggered journey.
- ``engagement.journeys.birthdays`` (hourly): trigger ``customer.birthday`` on each
  customer's local birthday morning.
- ``tier.changed`` and ``points.expiring``: the outbox messages the tier and loyalty contexts
  write; each becomes a journey trigger of the same name.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fidela.engagement.journeys import service
from fidela.platform.outbox.registry import (
    JobContext,
    JobRegistry,
    PeriodicTask,
    PermanentFailure,
)
from fidela.platform.settings import Settings

ADVANCE_TOPIC = "engagement.journeys.advance"
SEGMENTS_TOPIC = "engagement.journeys.segments"
BIRTHDAYS_TOPIC = "engagement.journeys.birthdays"
TIER_CHANGED = "tier.changed"  # written by fidela.tier.service
POINTS_EXPIRING = "points.expiring"  # written by fidela.loyalty.jobs
BATCH = 500


def advance_due(context: JobContext, _payload: dict[str, Any]) -> None:
    # Short transactions of bounded size: a backlog never holds one long lock.
    while True:
        with context.database.write() as session:
            advanced = service.run_due(session, now=context.now, limit=BATCH)
        if advanced < BATCH:
            break


def enter_segments(context: JobContext, _payload: dict[str, Any]) -> None:
    while True:
        with context.database.write() as session:
            entered = service.enter_segment_members(session, now=context.now, limit=BATCH)
        if entered < BATCH:
            break


def birthdays(context: JobContext, _payload: dict[str, Any]) -> None:
    with context.database.write() as session:
        service.trigger_birthdays(session, now=context.now)


def _customer(payload: dict[str, Any]) -> int:
    customer_id = payload.get("customer_id")
    if not isinstance(customer_id, int):
        raise PermanentFailure("the message names no customer")
    return customer_id


def tier_changed(context: JobContext, payload: dict[str, Any]) -> None:
    with context.database.write() as session:
        service.handle_trigger(
            session,
            customer_id=_customer(payload),
            event_type=TIER_CHANGED,
            data=payload,
            now=context.now,
            reference=context.key,
        )


def points_expiring(context: JobContext, payload: dict[str, Any]) -> None:
    expires_at = datetime.fromisoformat(str(payload.get("expires_at")))
    data = {**payload, "days_left": max(0, (expires_at - context.now).days)}
    with context.database.write() as session:
        service.handle_trigger(
            session,
            customer_id=_customer(payload),
            event_type=POINTS_EXPIRING,
            data=data,
            now=context.now,
            reference=context.key,
        )


def register_journey_jobs(registry: JobRegistry, _settings: Settings) -> None:
    registry.add_handler(ADVANCE_TOPIC, advance_due)
    registry.add_handler(SEGMENTS_TOPIC, enter_segments)
    registry.add_handler(BIRTHDAYS_TOPIC, birthdays)
    registry.add_handler(TIER_CHANGED, tier_changed)
    registry.add_handler(POINTS_EXPIRING, points_expiring)
    registry.add_periodic(PeriodicTask("journeys-advance", ADVANCE_TOPIC, timedelta(minutes=1)))
    registry.add_periodic(PeriodicTask("journeys-segments", SEGMENTS_TOPIC, timedelta(minutes=5)))
