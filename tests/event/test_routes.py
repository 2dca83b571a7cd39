from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fidela.platform.db import Database
from tests.api.keys import issue
from tests.conftest import Clock
from tests.event.builders import order, returned, simple


@pytest.fixture
def headers(database: Database, clock: Clock) -> dict[str, str]:
    return issue(database, clock, "events:write", "customers:write")


def post(client: TestClient, headers: dict[str, str], body: Any) -> Any:
    return client.post("/v1/events", headers=headers, json=body)


def test_order_event_creates_customer_and_order_and_replay_returns_first_result(
    client: TestClient, headers: dict[str, str], clock: Clock
) -> None:
    body = order(
        "T-1",
        clock(),
        customer={"email": "Jeanne@Example.com", "card": "2900001234567"},
        lines=[("P1", 2, 2500), ("P2", 1, 1000)],
    )
    first = post(client, headers, body)
    assert first.status_code == 201, first.text
    result = first.json()
    assert result["customer_created"] is True
    assert result["effects"]["order"]["total_minor"] == 6000
    replay = post(client, {**headers, "X-Request-ID": "another-request"}, body)
    assert replay.status_code == 200
    assert replay.json() == {**result, "replayed": True}
    again = post(client, headers, order("T-2", clock(), customer={"card": "2900 0012 3456 7"}))
    assert again.json()["customer_id"] == result["customer_id"]
    assert again.json()["customer_created"] is False


def test_return_refunds_its_lines_and_unknown_order_is_a_pointed_problem(
    client: TestClient, headers: dict[str, str], clock: Clock
) -> None:
    post(
        client,
        headers,
        order("T-9", clock(), customer={"card": "2900001234567"}, lines=[("P1", 3, 1000)]),
    )
    ok = post(client, headers, returned("R-1", "T-9", clock(), lines=[(1, 1)]))
    assert ok.status_code == 201, ok.text
    assert ok.json()["effects"]["return"]["amount_minor"] == 1000
    too_much = post(client, headers, returned("R-2", "T-9", clock(), lines=[(1, 3)]))
    assert too_much.status_code == 422
    assert too_much.json()["code"] == "return_exceeds_order"
    assert too_much.json()["errors"][0]["pointer"] == "/data/lines/0/quantity"
    unknown = post(client, headers, returned("R-3", "NOPE", clock(), amount_minor=100))
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "order_unknown"
    assert unknown.json()["errors"] == [{"pointer": "/data/order_id", "detail": "unknown order"}]


@pytest.mark.parametrize(
    ("mutate", "code", "pointer"),
    [
        (
            lambda e: e["customer"].update(email="not-an-email"),
            "identity_invalid",
            "/customer/email",
        ),
        (lambda e: e["customer"].update(phone="+33 1"), "identity_invalid", "/customer/phone"),
        (
            lambda e: e.update(occurred_at="2026-13-45T00:00:00Z"),
            "validation_failed",
            "/occurred_at",
        ),
        (lambda e: e["data"].update(currency="EUX"), "unknown_currency", "/data/currency"),
        (lambda e: e.update(type="order.teleported"), "event_type_unknown", "/type"),
        (
            lambda e: e["data"]["lines"][0].update(quantity=-1),
            "event_invalid",
            "/data/lines/0/quantity",
        ),
        (lambda e: e["data"].update(total_minor=1), "order_total_mismatch", "/data/total_minor"),
    ],
)
def test_bad_input_gets_a_problem_pointing_at_the_field(
    client: TestClient, headers: dict[str, str], clock: Clock, mutate: Any, code: str, pointer: str
) -> None:
    body = order("T-bad", clock(), customer={"email": "a@example.com"})
    mutate(body)
    response = post(client, headers, body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == code
    assert pointer in [error["pointer"] for error in problem["errors"]]


def test_malformed_json_is_a_problem(client: TestClient, headers: dict[str, str]) -> None:
    response = client.post(
        "/v1/events",
        headers={**headers, "Content-Type": "application/json"},
        content=b'{"type": "login",',
    )
    assert response.status_code == 422
    assert response.json()["code"] == "malformed_json"


def test_batch_accepts_valid_events_and_reports_invalid_ones_by_index(
    client: TestClient, headers: dict[str, str], clock: Clock
) -> None:
    customer = {"email": "batch@example.com"}
    events = [
        order("B-1", clock(), customer=customer),
        simple("login", "L-1", clock(), customer),
        {"type": "login", "source": "web"},  # missing fields
        returned("BR-1", "UNKNOWN", clock(), amount_minor=10),
        simple("survey.answered", "S-1", clock(), customer, survey="nps", score=11),
        order("B-1", clock(), customer=customer),  # duplicate of index 0
    ]
    response = client.post("/v1/events/batch", headers=headers, json={"events": events})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [item["status"] for item in body["items"]] == [
        "accepted",
        "accepted",
        "rejected",
        "rejected",
        "rejected",
        "duplicate",
    ]
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 1, 3)
    assert body["items"][3]["problem"]["errors"][0]["pointer"] == "/events/3/data/order_id"
    assert body["items"][4]["problem"]["errors"][0]["pointer"].startswith("/events/4/data")
    pointers = {e["pointer"] for e in body["items"][2]["problem"]["errors"]}
    assert {"/events/2/external_id", "/events/2/occurred_at"} <= pointers
    customer_id = body["items"][0]["result"]["customer_id"]
    timeline = client.get(f"/v1/customers/{customer_id}/timeline", headers=headers).json()
    assert {item["type"] for item in timeline["items"]} == {"order.completed", "login"}


def test_batch_over_the_limit_is_refused_whole(
    client: TestClient, headers: dict[str, str], clock: Clock
) -> None:
    events = [simple("login", f"L-{n}", clock(), {"email": "x@example.com"}) for n in range(1001)]
    response = client.post("/v1/events/batch", headers=headers, json={"events": events})
    assert response.status_code == 422
    assert response.json()["code"] == "batch_too_large"
    assert response.json()["errors"][0]["pointer"] == "/events"


def test_custom_events_are_validated_against_their_registered_schema(
    client: TestClient, headers: dict[str, str], clock: Clock
) -> None:
    customer = {"email": "custom@example.com"}
    unregistered = post(
        client, headers, simple("custom.workshop_booked", "W-1", clock(), customer, workshop="x")
    )
    assert unregistered.status_code == 422
    assert unregistered.json()["code"] == "event_type_unknown"
    schema = {
        "type": "object",
        "properties": {"workshop": {"type": "string"}, "seats": {"type": "integer"}},
        "required": ["workshop"],
        "additionalProperties": False,
    }
    put = client.put(
        "/v1/events/types/custom.workshop_booked/schema",
        headers=headers,
        json={"json_schema": schema, "description": "Booked a workshop"},
    )
    assert put.status_code == 200, put.text
    ok = post(
        client,
        headers,
        simple("custom.workshop_booked", "W-1", clock(), customer, workshop="Latte art"),
    )
    assert ok.status_code == 201
    bad = post(
        client, headers, simple("custom.workshop_booked", "W-2", clock(), customer, seats="two")
    )
    assert bad.status_code == 422
    pointers = {e["pointer"] for e in bad.json()["errors"]}
    assert pointers == {"/data", "/data/seats"}  # missing workshop, wrong seats type
    broken = client.put(
        "/v1/events/types/custom.broken/schema",
        headers=headers,
        json={"json_schema": {"type": "nonsense"}},
    )
    assert broken.status_code == 400
    assert broken.json()["code"] == "event_schema_invalid"


def test_events_needing_a_customer_say_so(
    client: TestClient, headers: dict[str, str], clock: Clock
) -> None:
    response = post(
        client, headers, simple("review.posted", "RV-1", clock(), None, product_id="P1", rating=5)
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/customer"


def test_timeline_pages_newest_first(
    client: TestClient, headers: dict[str, str], clock: Clock
) -> None:
    customer = {"email": "tl@example.com"}
    ids = []
    for n in range(5):
        response = post(
            client, headers, simple("login", f"TL-{n}", clock() + timedelta(minutes=n), customer)
        )
        ids.append(response.json()["event_id"])
    customer_id = response.json()["customer_id"]
    page = client.get(
        f"/v1/customers/{customer_id}/timeline", params={"limit": 3}, headers=headers
    ).json()
    assert [item["id"] for item in page["items"]] == ids[::-1][:3]
    rest = client.get(
        f"/v1/customers/{customer_id}/timeline",
        params={"limit": 3, "cursor": page["next_cursor"]},
        headers=headers,
    ).json()
    assert [item["id"] for item in rest["items"]] == ids[::-1][3:]
