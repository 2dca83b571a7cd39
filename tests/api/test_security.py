from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from fidela.platform.db import Database
from tests.api.keys import issue
from tests.conftest import Clock

PROBLEM = "application/problem+json"


def assert_problem(response: object, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"] == PROBLEM  # type: ignore[attr-defined]
    body: dict[str, object] = response.json()  # type: ignore[attr-defined]
    assert body["status"] == status
    assert body["code"] == code
    assert {"type", "title", "detail", "instance"} <= set(body)
    return body


def test_missing_api_key_is_401_problem(client: TestClient) -> None:
    response = client.get("/v1/api-keys/current")
    assert_problem(response, 401, "api_key_missing")
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer not-a-key"},
        {"Authorization": "Bearer fdl_abcdefgh_" + "a" * 40},  # well-formed, unknown
        {"X-API-Key": "fdl_abcdefgh_" + "b" * 40},
    ],
)
def test_unknown_or_bad_api_key_is_401_problem(client: TestClient, headers: dict[str, str]) -> None:
    assert_problem(client.get("/v1/api-keys/current", headers=headers), 401, "api_key_invalid")


def test_missing_scope_is_403_problem(client: TestClient, database: Database, clock: Clock) -> None:
    headers = issue(database, clock, "events:write")
    body = assert_problem(client.get("/v1/api-keys", headers=headers), 403, "scope_missing")
    assert "admin" in str(body["detail"])


def test_key_works_through_either_header_and_reports_itself(
    client: TestClient, database: Database, clock: Clock
) -> None:
    bearer = issue(database, clock, "customers:read", name="crm")
    token = bearer["Authorization"].removeprefix("Bearer ")
    for headers in (bearer, {"X-API-Key": token}):
        response = client.get("/v1/api-keys/current", headers=headers)
        assert response.status_code == 200
        assert response.json()["name"] == "crm"
        assert response.json()["scopes"] == ["customers:read"]
        assert "token" not in response.json()


def test_revoked_key_is_refused_at_once(
    client: TestClient, database: Database, clock: Clock
) -> None:
    admin = issue(database, clock, "admin", name="admin")
    victim = issue(database, clock, "events:write", name="leaked")
    key_id = client.get("/v1/api-keys/current", headers=victim).json()["id"]
    assert client.delete(f"/v1/api-keys/{key_id}", headers=admin).status_code == 200
    assert_problem(client.get("/v1/api-keys/current", headers=victim), 401, "api_key_invalid")


def test_expired_key_is_refused(client: TestClient, database: Database, clock: Clock) -> None:
    admin = issue(database, clock, "admin")
    created = client.post(
        "/v1/api-keys",
        headers=admin,
        json={
            "name": "short",
            "scopes": ["events:write"],
            "expires_at": (clock() + timedelta(hours=1)).isoformat(),
        },
    )
    assert created.status_code == 201
    token = created.json()["token"]
    clock.now += timedelta(hours=2)
    assert_problem(
        client.get("/v1/api-keys/current", headers={"Authorization": f"Bearer {token}"}),
        401,
        "api_key_invalid",
    )


def test_admin_issues_a_key_that_then_works_and_is_listed_without_secret(
    client: TestClient, database: Database, clock: Clock
) -> None:
    admin = issue(database, clock, "admin")
    created = client.post(
        "/v1/api-keys", headers=admin, json={"name": "pos-12", "scopes": ["events:write"]}
    )
    assert created.status_code == 201
    token = created.json()["token"]
    assert token.startswith("fdl_")
    me = client.get("/v1/api-keys/current", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["name"] == "pos-12"
    listing = client.get("/v1/api-keys", headers=admin).json()
    assert {key["name"] for key in listing} >= {"pos-12"}
    assert token not in str(listing)


def test_unknown_scope_is_422_problem_pointing_at_the_scope(
    client: TestClient, database: Database, clock: Clock
) -> None:
    admin = issue(database, clock, "admin")
    response = client.post("/v1/api-keys", headers=admin, json={"name": "x", "scopes": ["root"]})
    body = assert_problem(response, 422, "scope_unknown")
    assert "root" in str(body["detail"])


def test_malformed_json_and_invalid_fields_are_422_problems_with_pointers(
    client: TestClient, database: Database, clock: Clock
) -> None:
    admin = {**issue(database, clock, "admin"), "Content-Type": "application/json"}
    malformed = client.post("/v1/api-keys", headers=admin, content=b'{"name": ')
    assert_problem(malformed, 422, "malformed_json")
    invalid = client.post("/v1/api-keys", headers=admin, json={"name": "", "scopes": []})
    body = assert_problem(invalid, 422, "validation_failed")
    pointers = {error["pointer"] for error in body["errors"]}  # type: ignore[attr-defined]
    assert pointers == {"/name", "/scopes"}


def test_idempotency_key_replays_the_first_response_without_the_secret(
    client: TestClient, database: Database, clock: Clock
) -> None:
    admin = {**issue(database, clock, "admin"), "Idempotency-Key": "create-pos-13"}
    body = {"name": "pos-13", "scopes": ["events:write"]}
    first = client.post("/v1/api-keys", headers=admin, json=body)
    replay = client.post("/v1/api-keys", headers=admin, json=body)
    assert first.status_code == replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]
    assert first.json()["token"]
    assert replay.json()["token"] is None
    listing = client.get("/v1/api-keys", headers=admin).json()
    assert [key["name"] for key in listing].count("pos-13") == 1


def test_idempotency_key_reused_with_another_body_is_409(
    client: TestClient, database: Database, clock: Clock
) -> None:
    admin = {**issue(database, clock, "admin"), "Idempotency-Key": "k1"}
    client.post("/v1/api-keys", headers=admin, json={"name": "a", "scopes": ["events:write"]})
    other = client.post(
        "/v1/api-keys", headers=admin, json={"name": "b", "scopes": ["events:write"]}
    )
    assert_problem(other, 409, "idempotency_key_reused")
