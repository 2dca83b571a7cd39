"""The campaign, journey and experiment routes: problem details with pointers, compare-and-set
versions, planning and results over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from fidela.engagement.journeys.library import ABANDONED_CART
from fidela.platform.db import Database
from tests.api.keys import issue
from tests.conftest import Clock
from tests.engagement.campaigns.builders import customer


@pytest.fixture
def headers(database: Database, clock: Clock) -> dict[str, str]:
    return issue(database, clock, "engagement:read", "engagement:write", "analytics:read")


def test_a_campaign_is_created_planned_and_measured(
    client: TestClient, headers: dict[str, str], database: Database, clock: Clock
) -> None:
    with database.write() as session:
        ids = [customer(session, clock()) for _ in range(3)]
    body: dict[str, Any] = {
        "code": "hello",
        "name": "Hello",
        "audience": {"customer_ids": ids},
        "channel": "email",
        "variants": [
            {"name": "a", "content": {"subject": "A", "body": "Hi {{ customer.first_name }}"}},
            {"name": "b", "content": {"subject": "B", "body": "Hey"}},
        ],
    }
    created = client.post("/v1/campaigns", headers=headers, json=body)
    assert created.status_code == 201
    assert created.json()["status"] == "draft"
    planned = client.post("/v1/campaigns/hello/plan", headers=headers)
    assert planned.status_code == 200
    assert planned.json()["outcomes"] == {"queued": 3}
    again = client.post("/v1/campaigns/hello/plan", headers=headers)
    assert again.status_code == 409
    assert again.json()["code"] == "campaign_state_conflict"
    results = client.get("/v1/campaigns/hello/results", headers=headers)
    assert results.status_code == 200
    assert results.json()["control"] == "a"
    assert sum(arm["recipients"] for arm in results.json()["arms"]) == 3


def test_a_bad_campaign_gets_problem_details_pointing_at_the_field(
    client: TestClient, headers: dict[str, str]
) -> None:
    response = client.post(
        "/v1/campaigns",
        headers=headers,
        json={"code": "x", "name": "X", "audience": {"filters": {"iq": 1}}, "template": "t"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/audience/filters/iq"
    missing = client.get("/v1/campaigns/nope", headers=headers)
    assert missing.status_code == 404


def test_journeys_are_published_by_compare_and_set(
    client: TestClient, headers: dict[str, str]
) -> None:
    url = "/v1/journeys/abandoned-cart"
    first = client.put(url, headers=headers, json={"definition": ABANDONED_CART})
    assert first.status_code == 200
    assert first.json()["version"] == 1
    second = client.put(
        url, headers=headers, json={"definition": ABANDONED_CART, "expected_version": 1}
    )
    assert second.json()["version"] == 2
    stale = client.put(
        url, headers=headers, json={"definition": ABANDONED_CART, "expected_version": 1}
    )
    assert stale.status_code == 409
    assert stale.json()["errors"][0]["pointer"] == "/expected_version"
    wrong = client.put("/v1/journeys/other", headers=headers, json={"definition": ABANDONED_CART})
    assert wrong.status_code == 422
    bad = client.post(
        "/v1/journeys/validate",
        headers=headers,
        json={**ABANDONED_CART, "steps": [{"type": "wait"}]},
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["pointer"] == "/steps/0"
    installed = client.post("/v1/journeys/library", headers=headers).json()["installed"]
    assert "abandoned-cart" not in installed
    assert "welcome" in installed
    assert client.get("/v1/journeys/welcome", headers=headers).json()["active"] is False


def test_the_experiment_calculator_flags_a_skewed_split(
    client: TestClient, headers: dict[str, str]
) -> None:
    response = client.post(
        "/v1/experiments/results",
        headers=headers,
        json={
            "control": "a",
            "arms": [
                {"name": "a", "weight": 1, "recipients": 10_000, "conversions": 500},
                {"name": "b", "weight": 1, "recipients": 10_600, "conversions": 600},
            ],
        },
    )
    assert response.status_code == 200
    assert response.json()["ratio"]["mismatch"] is True
    member = client.get("/v1/experiments/global-control/42", headers=headers).json()
    assert 0 <= member["bucket"] < 10_000
