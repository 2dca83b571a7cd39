"""Customers with consents and orders, built through the customer use cases."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from fidela.commerce.models import SalesOrder
from fidela.customer import consent
from fidela.customer import service as customers
from fidela.customer.rules import ConsentChannel, ConsentPurpose
from fidela.customer.schemas import ProfileFields


def customer(
    session: Session,
    now: datetime,
    *,
    timezone: str | None = "Europe/Paris",
    consents: tuple[str, ...] = ("email",),
    refused: tuple[str, ...] = (),
    preferred: str | None = None,
    country: str | None = "FR",
) -> int:
    created = customers.create_customer(
        session,
        fields=ProfileFields(timezone=timezone, country=country, preferred_channel=preferred),
        identities=[],
        now=now,
    )
    for channel, granted in [(c, True) for c in consents] + [(c, False) for c in refused]:
        consent.record_consent(
            session,
            customer_id=created.id,
            channel=ConsentChannel(channel),
            purpose=ConsentPurpose.MARKETING,
            granted=granted,
            source="test",
            now=now,
        )
    return created.id


def order(session: Session, customer_id: int, at: datetime, total_minor: int, ref: str) -> None:
    session.add(
        SalesOrder(
            customer_id=customer_id,
            source="test",
            external_id=ref,
            channel="web",
            currency="EUR",
            subtotal_minor=total_minor,
            total_minor=total_minor,
            ordered_at=at,
            created_at=at,
        )
    )
    session.flush()
