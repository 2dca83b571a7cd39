"""The loyalty engine's periodic job: activate held points whose window ended, expire points
past their deadline, warn of points about to expire, review tiers. Each step runs in its own
short transaction so a large backlog never holds a long lock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fidela.ledger import service as ledger
from fidela.loyalty import jobs
from fidela.platform.outbox.registry import JobContext, JobRegistry, PeriodicTask
from fidela.platform.settings import Settings

LOYALTY_TOPIC = "loyalty.maintenance"
BATCH = 500


def register_loyalty_jobs(registry: JobRegistry, settings: Settings) -> None:
    del settings

    def maintain(context: JobContext, _payload: dict[str, Any]) -> None:
        for step in (ledger.activate_due, ledger.expire_due):
            while True:
                with context.database.write() as session:
                    run = step(session, now=context.now, limit=BATCH)
                if run.accounts < BATCH:
                    break
        with context.database.write() as session:
            jobs.warn_expiring(session, now=context.now)
        # One bounded pass per run: a member whose review leaves the date unchanged must not
        # keep the loop busy; the next hourly run takes the rest.
        with context.database.write() as session:
            jobs.review_tiers(session, now=context.now, limit=BATCH)

    registry.add_handler(LOYALTY_TOPIC, maintain)
    registry.add_periodic(PeriodicTask("loyalty-maintenance", LOYALTY_TOPIC, timedelta(hours=1)))
