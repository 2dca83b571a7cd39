from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from fidela.platform.db import Database
from tests.api.keys import issue
from tests.conftest import Clock
from tests.segment.builders import customer, purchase

BUYERS = {"fact": "orders.count", "op": "gte", "value": 1}


@pytest.fixture
def headers(database: Database, clock: Clock) -> dict[str, str]:
    return issue(
        database, clock, "customers:write", "events:write", "analytics:write", "analytics:read"
    )


@pytest.fixture
def buyers(client: TestClient, headers: dict[str, str], clock: Clock) -> list[int]:
    ids = []
    for n in range(5):
        email = f"buyer{n}@example.com"
        ids.append(customer(client, headers, email))
        purchase(client, headers, email, f"O-{n}", clock() - timedelta(days=n + 1))
    customer(client, headers, "window-shopper@example.com")
    return ids


def create(client: TestClient, headers: dict[str, str], **body: object) -> dict[str, object]:
    response = client.post(
        "/v1/segments",
        headers=headers,
        json={"key": "buyers", "name": "Buyers", "definition": BUYERS} | body,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_create_preview_refresh_and_page_through_members(
    client: TestClient, headers: dict[str, str], buyers: list[int]
) -> None:
    preview = client.post("/v1/segments/preview", headers=headers, json={"definition": BUYERS})
    assert preview.status_code == 200
    assert preview.json()["count"] == 5

    segment = create(client, headers)
    assert (segment["version"], segment["member_count"], segment["refreshed_at"]) == (1, 0, None)
    refreshed = client.post(f"/v1/segments/{segment['id']}/refresh", headers=headers)
    assert refreshed.json() == {
        "segment_id": segment["id"],
        "members": 5,
        "entered": 5,
        "exited": 0,
    }

    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.get(
            f"/v1/segments/{segment['id']}/members", headers=headers, params=params
        ).json()
        seen.extend(item["customer_id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(buyers)

    history = client.get(
        f"/v1/segments/{segment['id']}/history", headers=headers, params={"customer_id": buyers[0]}
    ).json()
    assert [(h["customer_id"], h["exited_at"]) for h in history["items"]] == [(buyers[0], None)]


def test_a_bad_definition_is_a_422_pointing_at_the_field(
    client: TestClient, headers: dict[str, str]
) -> None:
    response = client.post(
        "/v1/segments",
        headers=headers,
        json={
            "key": "bad",
            "name": "Bad",
            "definition": {"all": [{"fact": "profile.age", "op": "like", "value": 3}]},
        },
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "segment_definition_invalid"
    assert [e["pointer"] for e in body["errors"]] == ["/definition/all/0/op"]
    assert client.get("/v1/segments", headers=headers).json()["items"] == []


def test_update_with_a_stale_version_is_a_conflict(
    client: TestClient, headers: dict[str, str]
) -> None:
    segment = create(client, headers)
    url = f"/v1/segments/{segment['id']}"
    first = client.patch(url, headers=headers, json={"version": 1, "name": "Shoppers"})
    assert (first.status_code, first.json()["version"]) == (200, 2)
    stale = client.patch(url, headers=headers, json={"version": 1, "name": "Lost update"})
    assert (stale.status_code, stale.json()["code"]) == (409, "segment_version_conflict")
    assert client.get(url, headers=headers).json()["name"] == "Shoppers"


def test_duplicate_keys_and_unknown_segments_answer_with_problems(
    client: TestClient, headers: dict[str, str]
) -> None:
    create(client, headers)
    again = client.post(
        "/v1/segments", headers=headers, json={"key": "buyers", "name": "x", "definition": BUYERS}
    )
    assert (again.status_code, again.json()["code"]) == (409, "segment_key_taken")
    missing = client.get("/v1/segments/999999/members", headers=headers)
    assert (missing.status_code, missing.json()["code"]) == (404, "segment_not_found")


def test_reading_segments_needs_the_analytics_scope(
    client: TestClient, database: Database, clock: Clock
) -> None:
    other = issue(database, clock, "customers:read", name="no-analytics")
    assert client.get("/v1/segments", headers=other).status_code == 403


def test_the_customer_360_lists_current_segments_and_scores(
    client: TestClient, database: Database, clock: Clock, buyers: list[int]
) -> None:
    headers = issue(
        database, clock, "customers:read", "analytics:read", "analytics:write", name="360"
    )
    segment = create(client, headers)
    client.post(f"/v1/segments/{segment['id']}/refresh", headers=headers)
    view = client.get(f"/v1/customers/{buyers[0]}", headers=headers).json()
    assert [s["key"] for s in view["extensions"]["segments"]["current"]] == ["buyers"]
    # No RFM, churn or CLV snapshot has been computed yet: the section says so, not fails.
    assert view["extensions"]["scores"] == {"rfm": None, "churn": None, "clv": None}
