"""Building blocks of the journey tests: customers with consents, the clock-driven worker
job, and what a customer has been sent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fidela.customer import consent
from fidela.customer.rules import ConsentChannel, ConsentPurpose
from fidela.engagement.journeys.jobs import ADVANCE_TOPIC, advance_due
from fidela.engagement.models import Message
from fidela.platform.db import Database
from fidela.platform.outbox.registry import JobContext
from tests.customer.fixtures import ingest
from tests.event.builders import simple


def member(
    session: Session,
    now: datetime,
    tag: str,
    *,
    timezone: str = "Europe/Paris",
    consents: tuple[str, ...] = ("email", "sms"),
    phone: str = "+33612345678",
) -> int:
    who = {"email": f"{tag}@example.com", "phone": phone, "profile": {"timezone": timezone}}
    result = ingest(session, simple("login", f"login-{tag}", now, who), now)
    customer_id = int(result.customer_id)
    for channel in consents:
        grant(session, customer_id, channel, now, granted=True)
    return customer_id


def grant(
    session: Session, customer_id: int, channel: str, now: datetime, *, granted: bool
) -> None:
    consent.record_consent(
        session,
        customer_id=customer_id,
        channel=ConsentChannel(channel),
        purpose=ConsentPurpose.MARKETING,
        granted=granted,
        source="test",
        now=now,
    )


def event(session: Session, body: dict[str, Any], now: datetime) -> Any:
    return ingest(session, body, now)


def run_job(database: Database, now: datetime) -> None:
    """The worker's periodic job, at the test's clock."""
    advance_due(JobContext(0, ADVANCE_TOPIC, "test", 1, now, database), {})


def sent(session: Session, customer_id: int) -> list[tuple[str, str | None, datetime, str]]:
    rows = session.execute(
        select(Message.channel, Message.step, Message.deliver_at, Message.state)
        .where(Message.customer_id == customer_id)
        .order_by(Message.id)
    ).all()
    return [(r[0], r[1], r[2], r[3]) for r in rows]
