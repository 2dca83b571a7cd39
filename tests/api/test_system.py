from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

from fastapi.testclient import TestClient

from fidela.platform.db import Database
from fidela.platform.outbox import service as outbox
from tests.api.keys import issue
from tests.conftest import Clock


def test_health_is_ok_without_authentication(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["x-request-id"]


def test_ready_reports_database_and_schema_revision(client: TestClient) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["schema_revision"] == body["expected_revision"] is not None


def test_metrics_expose_request_counts_by_route_template(client: TestClient) -> None:
    client.get("/health")
    client.get("/v1/api-keys/current")
    text = client.get("/metrics").text
    assert 'fidela_http_requests_total{method="GET",route="/health",status="200"}' in text
    assert 'route="/v1/api-keys/current",status="401"' in text
    assert "fidela_http_request_duration_seconds_bucket" in text


def test_openapi_is_complete_and_documents_security_and_problems(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["license"]["identifier"] == "Apache-2.0"
    paths = spec["paths"]
    assert {"/health", "/ready", "/metrics", "/v1/api-keys", "/v1/system/outbox"} <= set(paths)
    schemes = spec["components"]["securitySchemes"]
    assert {"HTTPBearer", "APIKeyHeader"} <= set(schemes)
    assert (
        "application/problem+json" in paths["/v1/api-keys"]["post"]["responses"]["401"]["content"]
    )
    assert client.get("/docs").status_code == 200


def test_unknown_route_is_a_404_problem(client: TestClient) -> None:
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"


def test_dead_letters_are_listed_and_retried_over_the_api(
    client: TestClient, database: Database, clock: Clock
) -> None:
    with database.write() as session:
        created = outbox.enqueue_message(
            session,
            topic="x",
            key="dead-1",
            payload={},
            now=clock(),
            expires_at=clock() + timedelta(seconds=1),
        )
        [claimed] = outbox.claim_messages(
            session, worker_id="w", now=clock(), lease=timedelta(minutes=1), limit=1
        )
        outbox.fail_message(
            session, message=claimed, worker_id="w", now=clock(), error="boom", retryable=False
        )
    headers = issue(database, clock, "system:write")
    dead = client.get("/v1/system/outbox", params={"status": "dead"}, headers=headers).json()
    assert [item["id"] for item in dead["items"]] == [created.id]
    assert client.post(f"/v1/system/outbox/{created.id}/retry", headers=headers).status_code == 202
    again = client.post(f"/v1/system/outbox/{created.id}/retry", headers=headers)
    assert again.status_code == 409
    assert again.json()["code"] == "outbox_message_not_dead"
    assert client.get("/v1/system/outbox/counts", headers=headers).json()["pending"] == 1


def test_bad_cursor_is_a_422_problem(client: TestClient, database: Database, clock: Clock) -> None:
    headers = issue(database, clock, "system:read")
    response = client.get("/v1/system/outbox", params={"cursor": "%%%"}, headers=headers)
    assert response.status_code == 422
    assert response.json()["code"] == "cursor_invalid"


def test_the_api_starts_without_the_model_libraries() -> None:
    # Each API worker would pay seconds and ~150 MB for scikit-learn, scipy and pandas that
    # only prediction requests use: they load on the first of those, not at start-up.
    code = (
        "import sys; from fidela.api.app import create_app; create_app(); "
        "print(sorted(m for m in ('sklearn', 'scipy', 'pandas', 'ibis', 'duckdb')"
        " if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"
