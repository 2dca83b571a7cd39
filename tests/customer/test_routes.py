from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from fidela.platform.db import Database
from tests.api.keys import issue
from tests.conftest import Clock


@pytest.fixture
def headers(database: Database, clock: Clock) -> dict[str, str]:
    return issue(database, clock, "customers:write", "events:write")


def create(client: TestClient, headers: dict[str, str], **body: Any) -> Any:
    response = client.post("/v1/customers", headers=headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_create_returns_the_360_view_with_identities_and_consent(
    client: TestClient, headers: dict[str, str]
) -> None:
    customer = create(
        client,
        headers,
        first_name="Jeanne",
        last_name="Martin",
        birth_date="1990-05-04",
        language="fr",
        timezone="Europe/Paris",
        tags={"interests": ["Running"]},
        identities={
            "email": "Jeanne.Martin@Example.com",
            "phone": "06 12 34 56 78",
            "external_ids": [{"source": "shopify", "id": "42"}],
        },
        consents=[
            {
                "channel": "email",
                "purpose": "marketing",
                "granted": True,
                "source": "signup-form",
                "wording_version": "v3",
                "proof": {"ip": "203.0.113.7"},
            }
        ],
    )
    assert customer["age"] == 36
    assert {(i["kind"], i["value"]) for i in customer["identities"]} == {
        ("email", "jeanne.martin@example.com"),
        ("phone", "+33612345678"),
        ("external", "42"),
    }
    assert customer["consents"] == [
        {
            "channel": "email",
            "purpose": "marketing",
            "status": "granted",
            "since": customer["consents"][0]["since"],
        }
    ]
    assert customer["tags"] == {"interests": ["running"]}
    assert "orders" in customer["extensions"]
    found = client.get(
        "/v1/customers", headers=headers, params={"phone": "+33 6 12 34 56 78"}
    ).json()
    assert [c["id"] for c in found["items"]] == [customer["id"]]
    by_name = client.get("/v1/customers", headers=headers, params={"name": "jea mar"}).json()
    assert [c["id"] for c in by_name["items"]] == [customer["id"]]
    by_external = client.get(
        "/v1/customers", headers=headers, params={"external_source": "shopify", "external_id": "42"}
    ).json()
    assert [c["id"] for c in by_external["items"]] == [customer["id"]]


def test_an_identity_belongs_to_one_customer(client: TestClient, headers: dict[str, str]) -> None:
    create(client, headers, identities={"email": "one@example.com"})
    response = client.post(
        "/v1/customers", headers=headers, json={"identities": {"email": "ONE@example.com"}}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "identity_taken"
    assert response.json()["errors"][0]["pointer"] == "/identities/email"


def test_update_is_compare_and_set_on_version(client: TestClient, headers: dict[str, str]) -> None:
    customer = create(client, headers, first_name="Ana")
    ok = client.patch(
        f"/v1/customers/{customer['id']}", headers=headers, json={"city": "Lille", "version": 1}
    )
    assert ok.status_code == 200
    assert ok.json()["version"] == 2
    stale = client.patch(
        f"/v1/customers/{customer['id']}", headers=headers, json={"city": "Nice", "version": 1}
    )
    assert stale.status_code == 409
    assert stale.json()["code"] == "version_conflict"


def test_custom_attributes_must_be_declared_and_typed(
    client: TestClient, headers: dict[str, str]
) -> None:
    customer = create(client, headers)
    undeclared = client.patch(
        f"/v1/customers/{customer['id']}", headers=headers, json={"attributes": {"shoe_size": 42}}
    )
    assert undeclared.status_code == 422
    assert undeclared.json()["errors"][0]["pointer"] == "/attributes/shoe_size"
    declared = client.put(
        "/v1/customer-attributes", headers=headers, json={"name": "shoe_size", "type": "integer"}
    )
    assert declared.status_code == 200
    wrong = client.patch(
        f"/v1/customers/{customer['id']}", headers=headers, json={"attributes": {"shoe_size": "42"}}
    )
    assert wrong.status_code == 422
    ok = client.patch(
        f"/v1/customers/{customer['id']}", headers=headers, json={"attributes": {"shoe_size": 42}}
    )
    assert ok.json()["attributes"] == {"shoe_size": 42}


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"identities": {"email": "nope"}}, "/identities/email"),
        ({"identities": {"phone": "123"}}, "/identities/phone"),
        ({"birth_date": "1990-02-31"}, "/birth_date"),
        ({"timezone": "Mars/Base"}, "/timezone"),
        ({"country": "France"}, "/country"),
    ],
)
def test_bad_profile_input_is_a_422_pointing_at_the_field(
    client: TestClient, headers: dict[str, str], body: dict[str, Any], pointer: str
) -> None:
    response = client.post("/v1/customers", headers=headers, json=body)
    assert response.status_code == 422, response.text
    assert pointer in [e["pointer"] for e in response.json()["errors"]]


def test_double_opt_in_is_pending_until_the_token_is_confirmed_once(
    client: TestClient, headers: dict[str, str]
) -> None:
    customer = create(client, headers, identities={"email": "doi@example.com"})
    recorded = client.post(
        f"/v1/customers/{customer['id']}/consents",
        headers=headers,
        json={
            "channel": "email",
            "purpose": "marketing",
            "granted": True,
            "source": "newsletter-box",
            "double_opt_in": True,
        },
    ).json()
    assert recorded["record"]["status"] == "pending"
    token = recorded["confirmation_token"]
    confirmed = client.post(
        "/v1/consents/confirm",
        headers=headers,
        json={"token": token, "proof": {"ip": "198.51.100.1"}},
    )
    assert confirmed.status_code == 200
    assert confirmed.json()["status"] == "granted"
    again = client.post("/v1/consents/confirm", headers=headers, json={"token": token})
    assert again.status_code == 422
    history = client.get(f"/v1/customers/{customer['id']}/consents/history", headers=headers).json()
    assert [h["status"] for h in history] == ["pending", "granted"]


def test_merge_export_erase_and_restriction_over_http(
    client: TestClient, headers: dict[str, str], clock: Clock
) -> None:
    a = create(client, headers, first_name="Léa", identities={"email": "lea@example.com"})
    b = create(client, headers, last_name="Rousseau", identities={"card": "2900001234567"})
    client.post(
        "/v1/events",
        headers=headers,
        json={
            "type": "login",
            "source": "app",
            "external_id": "L1",
            "occurred_at": clock().isoformat(),
            "customer": {"card": "2900001234567"},
            "data": {},
        },
    )
    merged = client.post(
        f"/v1/customers/{a['id']}/merge",
        headers=headers,
        json={"merged_id": b["id"], "reason": "same"},
    )
    assert merged.status_code == 200, merged.text
    assert merged.json()["moved"]["event"] == 1
    view = client.get(f"/v1/customers/{b['id']}", headers=headers).json()
    assert view["id"] == a["id"]
    assert view["last_name"] == "Rousseau"  # filled from the merged profile
    export = client.get(f"/v1/customers/{a['id']}/export", headers=headers).json()
    assert len(export["tables"]["event"]) == 1
    restricted = client.post(
        f"/v1/customers/{a['id']}/restriction", headers=headers, json={"restricted": True}
    )
    assert restricted.json()["kind"] == "restrict"
    erased = client.post(f"/v1/customers/{a['id']}/erase", headers=headers)
    assert erased.status_code == 200
    after = client.get(f"/v1/customers/{a['id']}", headers=headers).json()
    assert after["status"] == "erased"
    assert after["first_name"] is None
    assert all(i["value"].startswith("erased-") for i in after["identities"])


def test_reading_needs_the_customers_scope(
    client: TestClient, database: Database, clock: Clock
) -> None:
    events_only = issue(database, clock, "events:write")
    assert client.get("/v1/customers/1", headers=events_only).status_code == 403
    reader = issue(database, clock, "customers:read")
    assert client.get("/v1/customers/999999", headers=reader).status_code == 404
    assert client.post("/v1/customers", headers=reader, json={}).status_code == 403
