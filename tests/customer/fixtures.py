"""A person with history in every table, built through the public use cases."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, Text, select
from sqlalchemy.orm import Session

from fidela.customer import consent, merge
from fidela.customer.rules import ConsentChannel, ConsentPurpose, CustomerPolicy
from fidela.event import service as events
from fidela.event.schemas import EventIn
from fidela.event.service import IngestContext
from fidela.platform.db import Base
from fidela.platform.settings import Settings
from fidela.wiring import build_wiring
from tests.event.builders import order, returned, simple

WIRING = build_wiring(Settings())
POLICY = CustomerPolicy()


def context(now: datetime, request_id: str | None = None) -> IngestContext:
    return IngestContext(WIRING.subscribers, WIRING.policy, now, request_id)


def ingest(session: Session, body: dict[str, Any], now: datetime) -> Any:
    return events.ingest_event(session, event=EventIn.model_validate(body), context=context(now))


@dataclass(frozen=True)
class Person:
    customer_id: int
    email: str
    phone: str
    first_name: str
    last_name: str


def person_with_history(session: Session, now: datetime, tag: str, *, phone: str) -> Person:
    email = f"{tag}.dupont@example.com"
    first, last = f"Zoé{tag.capitalize()}", f"Dupontel{tag.capitalize()}"
    who = {
        "email": email,
        "phone": phone,
        "card": f"29{int(hashlib.sha256(tag.encode()).hexdigest(), 16) % 10**11:011d}",
        "profile": {"first_name": first, "last_name": last, "city": "Lyon"},
    }
    first_order = ingest(
        session,
        order(f"{tag}-T1", now, customer=who, lines=[("P1", 2, 3000), ("P2", 1, 1500)]),
        now,
    )
    customer_id = first_order.customer_id
    ingest(
        session, returned(f"{tag}-R1", f"{tag}-T1", now + timedelta(days=2), lines=[(1, 1)]), now
    )
    ingest(session, simple("login", f"{tag}-L1", now, {"email": email}, ip="203.0.113.9"), now)
    ingest(
        session,
        simple(
            "support.interaction",
            f"{tag}-S1",
            now,
            {"id": customer_id},
            channel="chat",
            topic="delivery",
            complaint=True,
            notes=f"{first} {last} called about {email}",
        ),
        now,
    )
    ingest(
        session,
        simple(
            "survey.answered",
            f"{tag}-N1",
            now,
            {"id": customer_id},
            survey="nps",
            score=9,
            comment=f"Merci, signé {first}",
        ),
        now,
    )
    consent.record_consent(
        session,
        customer_id=customer_id,
        channel=ConsentChannel.EMAIL,
        purpose=ConsentPurpose.MARKETING,
        granted=True,
        source="web-form",
        now=now,
        proof={"ip": "203.0.113.9", "form_email": email},
    )
    consent.record_consent(
        session,
        customer_id=customer_id,
        channel=ConsentChannel.SMS,
        purpose=ConsentPurpose.MARKETING,
        granted=False,
        source="store",
        now=now,
    )
    return Person(customer_id, email, phone, first, last)


def text_values(session: Session) -> list[tuple[str, str, str]]:
    """(table, column, value) for every text and JSON value in the whole database."""
    found = []
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            is_text = isinstance(column.type, String | Text)
            is_json = column.type.__class__.__name__ in {"JSON", "JSONB"} or (
                hasattr(column.type, "load_dialect_impl") and "JSON" in repr(column.type)
            )
            if not (is_text or is_json):
                continue
            for (value,) in session.execute(select(column).where(column.is_not(None))):
                found.append((table.name, column.name, str(value)))
    return found


def merged_pair(
    session: Session, now: datetime, survivor: str, merged: str, *, phones: tuple[str, str]
) -> tuple[Person, Person]:
    """Two people with history, the second merged into the first."""
    a = person_with_history(session, now, survivor, phone=phones[0])
    b = person_with_history(session, now, merged, phone=phones[1])
    merge.merge_customers(
        session, survivor_id=a.customer_id, merged_id=b.customer_id, actor="t", reason="", now=now
    )
    return a, b
