"""SMS through the signed webhook adapter (a real local HTTP server), in-app messages in the
member's inbox, provider bounce/complaint notifications and the counts per campaign."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fidela.commerce.models import SalesOrder
from fidela.customer.rules import ConsentChannel
from fidela.engagement.jobs import register_engagement_jobs
from fidela.engagement.messages import Content, MessageRequest, enqueue_message, enqueue_messages
from fidela.engagement.models import Message, Suppression
from fidela.engagement.rules import Channel, MessageState, verify_webhook, webhook_signature
from fidela.platform.db import Database
from fidela.platform.outbox.registry import JobRegistry
from fidela.platform.settings import Settings
from fidela.worker.runner import Worker
from tests.api.keys import issue
from tests.conftest import Clock
from tests.engagement.conftest import PUBLIC_URL, SECRET, engagement_settings, make_member
from tests.engagement.mailsink import SinkServer


class Vendor:
    """A local HTTP server standing in for an SMS vendor: records requests, answers with a
    scripted status, and sends each idempotency key once, as a real vendor does."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        self.sent: dict[str, dict[str, Any]] = {}
        vendor = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                vendor.requests.append((dict(self.headers), body))
                status = vendor.statuses.pop(0) if vendor.statuses else 202
                if status < 300:
                    vendor.sent.setdefault(self.headers["Idempotency-Key"], json.loads(body))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps({"id": f"sms-{len(vendor.requests)}"}).encode())

            def log_message(self, *_: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"

    def __enter__(self) -> Vendor:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def vendor() -> Iterator[Vendor]:
    with Vendor() as running:
        yield running


@pytest.fixture
def worker(database: Database, clock: Clock, smtp: SinkServer, vendor: Vendor) -> Iterator[Worker]:
    registry = JobRegistry()
    delivery = register_engagement_jobs(
        registry,
        Settings(public_url=PUBLIC_URL),
        engagement_settings(smtp.port, webhooks={"sms": vendor.url}),
    )
    yield Worker(database, registry, clock=clock)
    delivery.close()


@pytest.fixture
def api(make_client: Callable[..., TestClient], smtp: SinkServer) -> TestClient:
    client = make_client(public_url=PUBLIC_URL)
    client.app.state.engagement = engagement_settings(smtp.port)  # type: ignore[attr-defined]
    return client


def test_sms_goes_through_the_signed_webhook_with_the_idempotency_key(
    database: Database, clock: Clock, worker: Worker, vendor: Vendor
) -> None:
    with database.write() as session:
        member = make_member(
            session, clock(), "sam", consent_to=(ConsentChannel.SMS,), phone="06 12 34 56 78"
        )
        message = enqueue_message(
            session,
            customer_id=member.id,
            channel=Channel.SMS,
            key="cart:42:sms",
            now=clock(),
            content=Content(body="{{ customer.first_name }}, votre panier vous attend"),
        )
    vendor.statuses = [503]  # the vendor is briefly down: retried with back-off

    assert worker.run_until_idle().retried == 1
    clock.now += timedelta(minutes=5)
    assert worker.run_until_idle().retried == 0

    assert len(vendor.requests) == 2
    headers, body = vendor.requests[-1]
    assert headers["Idempotency-Key"] == "cart:42:sms"
    verify_webhook(
        SECRET,
        headers["X-Fidela-Timestamp"],
        body,
        headers["X-Fidela-Signature"].removeprefix("sha256="),
    )
    payload = json.loads(body)
    assert payload["to"] == "+33612345678"
    # No brand kit installed: the default brand name opens the SMS.
    assert payload["text"] == "Fidela: Sam, votre panier vous attend"
    with database.read() as session:
        stored = session.get(Message, message.id)
        assert stored is not None
        assert (stored.state, stored.provider_id) == (MessageState.SENT.value, "sms-2")


def test_in_app_message_lands_in_the_member_inbox_and_reading_counts_as_open(
    database: Database, clock: Clock, worker: Worker, api: TestClient
) -> None:
    headers = issue(database, clock, "engagement:write")
    with database.write() as session:
        member = make_member(session, clock(), "ines", consent_to=(ConsentChannel.IN_APP,))
        enqueue_message(
            session,
            customer_id=member.id,
            channel=Channel.IN_APP,
            key="tutorial:1",
            now=clock(),
            content=Content("Bienvenue", "Découvrez l'appli, {{ customer.first_name }}"),
        )
    worker.run_until_idle()

    inbox = api.get(f"/v1/members/{member.id}/inbox", headers=headers).json()
    item = inbox["items"][0]
    read = api.post(f"/v1/members/{member.id}/inbox/{item['id']}/read", headers=headers)
    other = api.post(f"/v1/members/{member.id + 999}/inbox/{item['id']}/read", headers=headers)

    assert inbox["unread"] == 1
    assert item["title"] == "Bienvenue"
    assert item["body"].startswith("Découvrez l'appli, Ines")
    assert read.status_code == 200
    assert read.json()["read_at"] is not None
    assert other.status_code == 404
    stats = api.get("/v1/engagement/stats", headers=headers).json()["rows"]
    assert stats == [
        {
            "group": {"channel": "in_app"},
            "counts": stats[0]["counts"] | {"sent": 1, "opened": 1},
        }
    ]


def _signed(body: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    return raw, {
        "X-Fidela-Timestamp": "1700000000",
        "X-Fidela-Signature": "sha256=" + webhook_signature(SECRET, "1700000000", raw),
        "Content-Type": "application/json",
    }


def test_provider_bounce_and_complaint_feed_suppression_and_unsigned_calls_are_refused(
    database: Database, clock: Clock, worker: Worker, api: TestClient
) -> None:
    with database.write() as session:
        member = make_member(session, clock(), "paul")
        enqueue_message(
            session,
            customer_id=member.id,
            channel=Channel.EMAIL,
            key="news:1",
            now=clock(),
            content=Content("News", "<p>News</p>"),
        )
    worker.run_until_idle()
    raw, headers = _signed(
        {
            "events": [
                {"type": "delivered", "message_key": "news:1"},
                {"type": "complaint", "message_key": "news:1"},
                {"type": "bounce", "address": "gone@example.com", "permanent": True},
                {"type": "bounce", "message_key": "unknown"},
            ]
        }
    )

    forged = api.post(
        "/v1/engagement/providers/email/notifications",
        content=raw,
        headers={**headers, "X-Fidela-Signature": "sha256=00"},
    )
    accepted = api.post(
        "/v1/engagement/providers/email/notifications", content=raw, headers=headers
    )

    assert forged.status_code == 422
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {
        "processed": 3,
        "suppressed": 2,
        "unknown_message_keys": ["unknown"],
    }
    with database.read() as session:
        reasons = dict(session.execute(select(Suppression.address, Suppression.reason)).all())
    assert reasons == {"paul@example.com": "complaint", "gone@example.com": "hard_bounce"}


def test_counts_per_variant_include_conversions_within_the_window_and_holdouts(
    database: Database, clock: Clock, worker: Worker, api: TestClient
) -> None:
    headers = issue(database, clock, "engagement:read")
    with database.write() as session:
        members = [make_member(session, clock(), f"m{i}") for i in range(4)]
        enqueue_messages(
            session,
            [
                MessageRequest(members[0].id, "c9:0", variant="A"),
                MessageRequest(members[1].id, "c9:1", variant="A"),
                MessageRequest(members[2].id, "c9:2", variant="B"),
                MessageRequest(members[3].id, "c9:3", variant="control", held_out=True),
            ],
            channel=Channel.EMAIL,
            now=clock(),
            content=Content("Promo", "<p>-10 %</p>"),
            campaign_id=9,
        )
    worker.run_until_idle()
    with database.write() as session:
        for n, (member, days) in enumerate(((0, 2), (1, 30), (3, 1))):
            session.add(
                SalesOrder(
                    customer_id=members[member].id,
                    source="shop",
                    external_id=f"o{n}",
                    channel="web",
                    currency="EUR",
                    subtotal_minor=1000,
                    total_minor=1000,
                    status="completed",
                    payments=[],
                    ordered_at=clock() + timedelta(days=days),
                    created_at=clock(),
                )
            )
    clock.now += timedelta(days=40)

    response = api.get(
        "/v1/engagement/stats",
        headers=headers,
        params={"campaign_id": 9, "group_by": "variant"},
    )

    rows = {r["group"]["variant"]: r["counts"] for r in response.json()["rows"]}
    assert response.json()["conversion_window_days"] == 7
    assert (rows["A"]["sent"], rows["A"]["converted"]) == (2, 1)  # the 30-day order is late
    assert (rows["B"]["sent"], rows["B"]["converted"]) == (1, 0)
    assert (rows["control"]["held_out"], rows["control"]["converted"]) == (1, 1)
