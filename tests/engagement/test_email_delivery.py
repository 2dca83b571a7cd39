"""Email end to end: queued in a transaction, sent by the worker to a real SMTP server with
the brand kit, one-click unsubscribe headers and tracking links that work through the API."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fidela.customer import consent
from fidela.customer.rules import ConsentChannel, ConsentPurpose
from fidela.engagement.jobs import register_engagement_jobs
from fidela.engagement.messages import Content, MessageRequest, enqueue_message, enqueue_messages
from fidela.engagement.models import Message, MessageEvent, Suppression
from fidela.engagement.rules import Channel, MessageState
from fidela.engagement.templates import save_template
from fidela.platform.db import Database
from fidela.platform.outbox.registry import JobRegistry
from fidela.platform.settings import Settings
from fidela.worker.runner import Worker
from tests.conftest import Clock
from tests.engagement.conftest import (
    PUBLIC_URL,
    engagement_settings,
    install_brand,
    make_member,
)
from tests.engagement.mailsink import MailSink, SinkServer
from tests.engagement.population import customers_with_email

WELCOME_FR = (
    "<p>Bonjour {{ customer.first_name }}, vous avez {{ points.balance }} points.</p>"
    '<p><a href="https://shop.lumiere.example/offres?src=mail&amp;x=1">Voir les offres</a></p>'
)


@pytest.fixture
def worker(database: Database, clock: Clock, smtp: SinkServer) -> Iterator[Worker]:
    registry = JobRegistry()
    delivery = register_engagement_jobs(
        registry, Settings(public_url=PUBLIC_URL), engagement_settings(smtp.port)
    )
    yield Worker(database, registry, clock=clock)
    delivery.close()


@pytest.fixture
def api(make_client: Callable[..., TestClient], smtp: SinkServer) -> TestClient:
    client = make_client(public_url=PUBLIC_URL)
    client.app.state.engagement = engagement_settings(smtp.port)  # type: ignore[attr-defined]
    return client


def _welcome(database: Database, clock: Clock, tag: str = "alice", **member: object) -> int:
    with database.write() as session:
        install_brand(session, clock())
        for language, subject in (("fr", "Bienvenue {{ customer.first_name }}"), ("en", "Welcome")):
            save_template(
                session,
                code="welcome",
                channel=Channel.EMAIL,
                language=language,
                subject=subject,
                body=WELCOME_FR if language == "fr" else "<p>Hello {{ customer.first_name }}</p>",
                text_body="",
                now=clock(),
            )
        customer = make_member(session, clock(), tag, **member)  # type: ignore[arg-type]
        message = enqueue_message(
            session,
            customer_id=customer.id,
            channel=Channel.EMAIL,
            key=f"welcome:{customer.id}",
            now=clock(),
            template="welcome",
        )
        return message.id


def _only(sink: MailSink) -> EmailMessage:
    received = sink.messages()
    assert len(received) == 1
    return received[0]


def _parts(email: EmailMessage) -> tuple[str, str]:
    text = email.get_body(("plain",))
    markup = email.get_body(("html",))
    assert text is not None
    assert markup is not None
    return text.get_content(), markup.get_content()


def test_email_reaches_smtp_with_brand_kit_headers_and_plain_text(
    database: Database, clock: Clock, worker: Worker, sink: MailSink
) -> None:
    message_id = _welcome(database, clock)

    stats = worker.run_until_idle()

    assert (stats.retried, stats.dead) == (0, 0)
    email = _only(sink)
    assert email["Subject"] == "Bienvenue Alice"
    assert email["From"].addresses[0].display_name == "Café Lumière"
    assert email["To"] == "alice@example.com"
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert email["List-Unsubscribe"].startswith(
        f"<{PUBLIC_URL}/v1/engagement/t/{message_id}/unsubscribe?s="
    )
    assert email["Message-ID"].endswith("@lumiere.example>")
    text, markup = _parts(email)
    for part in (text, markup):
        assert "Bonjour Alice, vous avez 0 points." in part
        assert "L'équipe Café Lumière" in part or "L&#x27;équipe Café Lumière" in part
        assert "Café Lumière SAS, 12 rue des Lilas, 75011 Paris" in part
    assert 'src="https://cdn.lumiere.example/logo.png"' in markup
    assert "#c0392b" in markup
    assert "Georgia, serif" in markup
    assert f"/v1/engagement/t/{message_id}/open.gif?s=" in markup
    assert "https://shop.lumiere.example/offres" not in markup.replace("u=https%3A", "")
    with database.read() as session:
        stored = session.get(Message, message_id)
        assert stored is not None
        assert (stored.state, stored.address, stored.language) == (
            MessageState.SENT.value,
            "alice@example.com",
            "fr",
        )


def test_english_speaker_falls_back_to_the_language_they_speak(
    database: Database, clock: Clock, worker: Worker, sink: MailSink
) -> None:
    _welcome(database, clock, "bob", language="en")
    worker.run_until_idle()
    assert _only(sink)["Subject"] == "Welcome"


def _click_link(markup: str) -> str:
    links = re.findall(r'href="([^"]+/click\?[^"]+)"', markup)
    assert len(links) == 1
    return html.unescape(links[0])


def test_tracking_links_redirect_record_clicks_and_opens(
    database: Database, clock: Clock, worker: Worker, sink: MailSink, api: TestClient
) -> None:
    message_id = _welcome(database, clock)
    worker.run_until_idle()
    _, markup = _parts(_only(sink))
    link = _click_link(markup)
    pixel = markup.split('src="')[-1].split('"')[0].replace("&amp;", "&")

    clicked = api.get(link.removeprefix(PUBLIC_URL), follow_redirects=False)
    opened = api.get(pixel.removeprefix(PUBLIC_URL))

    assert clicked.status_code == 302
    assert clicked.headers["location"] == "https://shop.lumiere.example/offres?src=mail&x=1"
    assert opened.status_code == 200
    assert opened.headers["content-type"] == "image/gif"
    with database.read() as session:
        kinds = sorted(
            session.execute(
                select(MessageEvent.kind).where(MessageEvent.message_id == message_id)
            ).scalars()
        )
    assert kinds == ["clicked", "opened", "sent"]


def test_tampered_or_unsigned_click_link_is_refused_and_never_redirects(
    database: Database, clock: Clock, worker: Worker, sink: MailSink, api: TestClient
) -> None:
    _welcome(database, clock)
    worker.run_until_idle()
    link = _click_link(_parts(_only(sink))[1]).removeprefix(PUBLIC_URL)
    query = parse_qs(urlsplit(link).query)
    path = urlsplit(link).path

    tampered = api.get(
        path, params={"u": "https://evil.example/", "s": query["s"][0]}, follow_redirects=False
    )
    unsigned = api.get(path, params={"u": query["u"][0], "s": ""}, follow_redirects=False)

    for response in (tampered, unsigned):
        assert response.status_code == 422
        assert "location" not in response.headers
        assert response.json()["code"] == "invalid_tracking_link"


def test_one_click_unsubscribe_withdraws_consent_and_stops_marketing(
    database: Database, clock: Clock, worker: Worker, sink: MailSink, api: TestClient
) -> None:
    message_id = _welcome(database, clock)
    worker.run_until_idle()
    target = _only(sink)["List-Unsubscribe"].strip("<>").removeprefix(PUBLIC_URL)

    page = api.get(target)
    first = api.post(target, data={"List-Unsubscribe": "One-Click"})
    second = api.post(target, data={"List-Unsubscribe": "One-Click"})

    assert page.status_code == 200
    assert "<form" in page.text
    assert first.status_code == 200
    assert second.status_code == 200
    with database.write() as session:
        customer_id = session.get(Message, message_id).customer_id  # type: ignore[union-attr]
        assert customer_id is not None
        assert not consent.has_consent(
            session,
            customer_id=customer_id,
            channel=ConsentChannel.EMAIL,
            purpose=ConsentPurpose.MARKETING,
        )
        again = enqueue_message(
            session,
            customer_id=customer_id,
            channel=Channel.EMAIL,
            key="promo:after-unsubscribe",
            now=clock(),
            content=Content("Promo", "<p>-20 %</p>"),
        )
        receipt = enqueue_message(
            session,
            customer_id=customer_id,
            channel=Channel.EMAIL,
            key="receipt:after-unsubscribe",
            now=clock(),
            content=Content("Votre reçu", "<p>Merci</p>"),
            transactional=True,
        )
    worker.run_until_idle()
    with database.read() as session:
        assert session.get(Message, again.id).state == MessageState.SUPPRESSED.value  # type: ignore[union-attr]
        assert session.get(Message, receipt.id).state == MessageState.SENT.value  # type: ignore[union-attr]
        assert session.execute(
            select(MessageEvent.kind).where(MessageEvent.kind == "unsubscribed")
        ).scalars().all() == ["unsubscribed"]
    assert sorted(e["Subject"] for e in sink.messages()) == ["Bienvenue Alice", "Votre reçu"]
    # Transactional mail carries no unsubscribe header (there is nothing to unsubscribe from).
    receipt_mail = next(e for e in sink.messages() if e["Subject"] == "Votre reçu")
    assert receipt_mail["List-Unsubscribe"] is None


def test_smtp_hard_bounce_fails_the_message_and_suppresses_the_address(
    database: Database, clock: Clock, worker: Worker, sink: MailSink
) -> None:
    sink.refuse.add("carol@example.com")
    message_id = _welcome(database, clock, "carol")
    worker.run_until_idle()
    with database.write() as session:
        assert session.get(Message, message_id).state == MessageState.FAILED.value  # type: ignore[union-attr]
        suppression = session.get(Suppression, ("email", "carol@example.com"))
        assert suppression is not None
        assert suppression.reason == "hard_bounce"
        customer_id = session.get(Message, message_id).customer_id  # type: ignore[union-attr]
        later = enqueue_message(
            session,
            customer_id=customer_id,
            channel=Channel.EMAIL,
            key="receipt:bounced",
            now=clock(),
            content=Content("Reçu", "<p>Merci</p>"),
            transactional=True,
        )
    worker.run_until_idle()
    with database.read() as session:
        # Even transactional mail respects a hard bounce.
        assert session.get(Message, later.id).state == MessageState.SUPPRESSED.value  # type: ignore[union-attr]
    assert sink.messages() == []


def test_smtp_outage_retries_with_backoff_and_sends_once_when_back(
    database: Database, clock: Clock, sink: MailSink
) -> None:
    with SinkServer(sink) as server:
        port = server.port
    registry = JobRegistry()
    delivery = register_engagement_jobs(
        registry, Settings(public_url=PUBLIC_URL), engagement_settings(port)
    )
    worker = Worker(database, registry, clock=clock)
    message_id = _welcome(database, clock)
    with database.write() as session:
        # A job larger than the connection pool (4): every send fails, none is stranded.
        others = customers_with_email(session, 12, clock(), "outage")
        enqueue_messages(
            session,
            [MessageRequest(c, f"outage:{c}") for c in others],
            channel=Channel.EMAIL,
            now=clock(),
            content=Content("Reçu", "<p>Merci</p>"),
            transactional=True,
        )
    try:
        first = worker.run_until_idle()
        assert first.retried == 2  # both delivery jobs; nothing sent
        assert sink.messages() == []
        with SinkServer(sink, port):
            clock.now += timedelta(seconds=5)
            assert worker.run_until_idle().claimed == 0  # still backing off
            clock.now += timedelta(minutes=1)
            assert worker.run_until_idle().done == 2
    finally:
        delivery.close()
    assert len(sink.messages()) == 13
    with database.read() as session:
        stored = session.get(Message, message_id)
        assert stored is not None
        assert stored.state == MessageState.SENT.value
        assert stored.attempts == 2
