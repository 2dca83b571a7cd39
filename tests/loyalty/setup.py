"""Programmes and events for the loyalty service and route tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from fidela.customer.models import CustomerIdentity
from fidela.event import service as events
from fidela.ledger import service as ledger
from fidela.loyalty import programmes
from fidela.platform.db import Database
from tests.customer.fixtures import context

BASE_RULES: dict[str, Any] = {
    "timezone": "Europe/Paris",
    "rules": [
        {"id": "base", "kind": "spend", "rate": "1"},
        {"id": "signup", "kind": "event", "event": "customer.signed_up", "points": 100},
    ],
}

LADDER: dict[str, Any] = {
    "code": "main",
    "name": "Main",
    "basis": "points",
    "window": {"kind": "calendar_year"},
    "levels": [
        {"code": "member", "name": "Member", "threshold": 0},
        {
            "code": "gold",
            "name": "Gold",
            "threshold": 500,
            "benefits": {"earn_multiplier": "2"},
        },
    ],
}


def create(
    database: Database,
    now: datetime,
    *,
    code: str = "club",
    rules: dict[str, Any] | None = BASE_RULES,
    **settings: Any,
) -> programmes.Programme:
    settings.setdefault("cost_per_point_minor", "0.5")
    with database.write() as session:
        return programmes.create_programme(
            session,
            code=code,
            name=code.title(),
            currency=settings.pop("currency", "EUR"),
            rules=rules,
            now=now,
            **settings,
        )


def ingest(database: Database, now: datetime, *bodies: dict[str, Any]) -> list[Any]:
    with database.write() as session:
        return events.ingest_batch(session, events=list(bodies), context=context(now))


def customer_of(database: Database, email: str) -> int:
    with database.read() as session:
        return int(
            session.execute(
                select(CustomerIdentity.customer_id).where(CustomerIdentity.value == email)
            ).scalar_one()
        )


def balance(database: Database, customer_id: int, now: datetime, code: str = "club") -> Any:
    with database.read() as session:
        return ledger.balance(session, customer_id=customer_id, programme=code, now=now)
