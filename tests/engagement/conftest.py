"""Engagement fixtures: a real SMTP server, delivery wired to it, customers to message."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import pytest
from sqlalchemy.orm import Session

from fidela.customer import consent
from fidela.customer import service as customers
from fidela.customer.rules import ConsentChannel, ConsentPurpose, Identity, IdentityKind
from fidela.customer.schemas import ProfileFields
from fidela.engagement.config import EngagementSettings
from fidela.engagement.delivery import Delivery
from fidela.engagement.templates import BrandKitInput, save_brand_kit
from tests.engagement.mailsink import MailSink, SinkServer

SECRET = "test-signing-secret"
PUBLIC_URL = "http://testserver"


@pytest.fixture
def sink() -> MailSink:
    return MailSink()


@pytest.fixture
def smtp(sink: MailSink) -> Iterator[SinkServer]:
    with SinkServer(sink) as server:
        yield server


def engagement_settings(port: int, **overrides: object) -> EngagementSettings:
    values: dict[str, object] = {
        "smtp_port": port,
        "signing_secret": SECRET,
        "tracking_base_url": PUBLIC_URL,
        "default_sender": "Café Lumière <hello@lumiere.example>",
        "message_id_domain": "lumiere.example",
        "smtp_connections": 4,
        **overrides,
    }
    return EngagementSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def delivery(smtp: SinkServer) -> Iterator[Delivery]:
    built = Delivery.from_settings(
        engagement_settings(smtp.port), public_url=PUBLIC_URL, default_phone_region="FR"
    )
    yield built
    built.close()


@dataclass(frozen=True)
class Member:
    id: int
    email: str


def make_member(
    session: Session,
    now: datetime,
    tag: str,
    *,
    language: str = "fr",
    consent_to: tuple[ConsentChannel, ...] = (ConsentChannel.EMAIL,),
    phone: str | None = None,
) -> Member:
    email = f"{tag}@example.com"
    identities = [Identity(IdentityKind.EMAIL, email)]
    if phone:
        identities.append(Identity(IdentityKind.PHONE, phone))
    customer = customers.create_customer(
        session,
        fields=ProfileFields(first_name=tag.capitalize(), language=language),
        identities=identities,
        now=now,
    )
    for channel in consent_to:
        consent.record_consent(
            session,
            customer_id=customer.id,
            channel=channel,
            purpose=ConsentPurpose.MARKETING,
            granted=True,
            source="test",
            now=now,
        )
    return Member(customer.id, email)


BRAND = BrandKitInput(
    name="Café Lumière",
    logo_url="https://cdn.lumiere.example/logo.png",
    colours={"primary": "#c0392b", "background": "#fdf6ec"},
    fonts={"body": "Georgia, serif"},
    tone="warm",
    signature="L'équipe Café Lumière",
    legal_footer="Café Lumière SAS, 12 rue des Lilas, 75011 Paris",
    sender_name="Café Lumière",
    sender_email="hello@lumiere.example",
)


def install_brand(session: Session, now: datetime) -> None:
    save_brand_kit(session, values=BRAND, now=now)
