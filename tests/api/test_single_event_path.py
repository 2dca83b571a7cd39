"""``POST /v1/events`` answered by ``SingleEventPath``: the common case without the framework,
everything else handed to it with the body intact."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from starlette.types import Message, Receive, Scope, Send

from fidela.access import service
from fidela.api.app import create_app
from fidela.api.routes import events
from fidela.api.single_event import SingleEventPath, route_of
from fidela.event.models import Event
from fidela.platform.db import Database
from fidela.platform.settings import Settings
from tests.api.keys import issue
from tests.conftest import Clock
from tests.event.builders import order


class Framework:
    """Stands for the framework behind the fast path: records what reaches it."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b"framework"})


def call(
    layer: Callable[..., Any],
    headers: dict[str, str],
    chunks: list[bytes],
    path: str = "/v1/events",
) -> tuple[int, bytes, Scope]:
    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    messages = [
        {"type": "http.request", "body": chunk, "more_body": n < len(chunks) - 1}
        for n, chunk in enumerate(chunks)
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(layer(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:]), scope


@pytest.fixture
def app(database: Database, clock: Clock) -> FastAPI:
    return create_app(Settings(), database=database, clock=clock)


def layer_over(app: FastAPI) -> tuple[SingleEventPath, Framework]:
    framework = Framework()
    return SingleEventPath(framework, api=app, route=route_of(events.router.routes)), framework


def cache(app: FastAPI, headers: dict[str, str], database: Database, clock: Clock) -> None:
    """What the framework's authentication does on a key's first use."""
    token = headers["Authorization"].removeprefix("Bearer ")
    with database.read() as session:
        app.state.principals.put(token, service.authenticate(session, token=token, now=clock()))


JSON = {"Content-Type": "application/json"}


def test_a_valid_event_with_a_verified_key_is_ingested_without_the_framework(
    app: FastAPI, database: Database, clock: Clock
) -> None:
    headers = {**issue(database, clock, "events:write"), **JSON, "X-Request-ID": "req-1"}
    cache(app, headers, database, clock)
    layer, framework = layer_over(app)
    body = json.dumps(order("T-1", clock(), customer={"email": "a@example.com"})).encode()
    # Sent in two pieces: the layer reads the whole body.
    status, answer, scope = call(layer, headers, [body[:40], body[40:]])
    assert framework.bodies == []
    assert status == 201
    first = json.loads(answer)
    assert first["external_id"] == "T-1"
    assert first["customer_created"] is True
    assert scope["route"].path == "/v1/events"  # what the metrics are labelled with
    status, answer, _ = call(layer, headers, [body])
    assert status == 200
    assert json.loads(answer) == {**first, "replayed": True}
    long_id = {**headers, "X-Request-ID": "r" * 150}
    second = json.dumps(order("T-2", clock(), customer={"email": "a@example.com"})).encode()
    call(layer, long_id, [second])
    with database.read() as session:
        stored = dict(session.execute(select(Event.external_id, Event.request_id)).all())
    # The request id travels with the event, cut to what the column holds.
    assert stored == {"T-1": "req-1", "T-2": "r" * 100}


@pytest.mark.parametrize(
    ("case", "scopes", "cached", "content_type", "body"),
    [
        ("key not verified yet", ("events:write",), False, "application/json", None),
        ("key without the scope", ("customers:read",), True, "application/json", None),
        ("not JSON", ("events:write",), True, "application/json", b'{"type": "order.'),
        ("not an event", ("events:write",), True, "application/json", b'{"type": 3}'),
        ("another content type", ("events:write",), True, "text/plain", None),
    ],
)
def test_everything_else_reaches_the_framework_with_its_body(
    app: FastAPI,
    database: Database,
    clock: Clock,
    case: str,
    scopes: tuple[str, ...],
    cached: bool,
    content_type: str,
    body: bytes | None,
) -> None:
    headers = {**issue(database, clock, *scopes), "Content-Type": content_type}
    if cached:
        cache(app, headers, database, clock)
    layer, framework = layer_over(app)
    sent = body or json.dumps(order("T-1", clock(), customer={"email": "a@example.com"})).encode()
    status, _, _ = call(layer, headers, [sent[:10], sent[10:]])
    assert status == 418, case
    assert framework.bodies == [sent], case


def test_other_paths_are_not_touched(app: FastAPI, database: Database, clock: Clock) -> None:
    headers = {**issue(database, clock, "events:write"), **JSON}
    cache(app, headers, database, clock)
    layer, framework = layer_over(app)
    status, _, _ = call(layer, headers, [b'{"events": []}'], path="/v1/events/batch")
    assert status == 418
    assert framework.bodies == [b'{"events": []}']


def test_an_event_the_catalogue_rejects_is_answered_by_the_apps_problem_handler(
    app: FastAPI, database: Database, clock: Clock
) -> None:
    headers = {**issue(database, clock, "events:write"), **JSON}
    cache(app, headers, database, clock)
    layer, framework = layer_over(app)
    bad = order("T-1", clock(), customer={"email": "a@example.com"}, total_minor=1)
    status, answer, _ = call(layer, headers, [json.dumps(bad).encode()])
    assert framework.bodies == []
    assert status == 422
    problem = json.loads(answer)
    assert [error["pointer"] for error in problem["errors"]] == ["/data/total_minor"]
    assert problem["instance"] == "/v1/events"
