"""The prediction endpoints serve what the snapshots stored."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fidela.analytics import snapshots
from fidela.analytics.churn import service as churn
from fidela.analytics.churn.operational import behaviour_tables
from fidela.analytics.recommend import service as recommend
from fidela.analytics.sources import duckdb_sources
from fidela.platform.db import Database
from tests.api.keys import issue
from tests.conftest import T0, Clock

AS_OF = datetime(2026, 7, 1, tzinfo=UTC)


@pytest.fixture
def headers(database: Database, clock: Clock) -> dict[str, str]:
    return issue(database, clock, "analytics:read")


def test_without_snapshots_the_endpoints_say_how_to_get_one(
    client: TestClient, headers: dict[str, str]
) -> None:
    response = client.get("/v1/analytics/churn", headers=headers)
    assert (response.status_code, response.json()["code"]) == (404, "snapshot_not_found")
    assert "fidela analytics churn" in response.json()["detail"]
    offer = client.post(
        "/v1/analytics/recommendations/customers/1/next-best-offer",
        headers=headers,
        json={"available_points": 10},
    )
    assert offer.status_code == 404


@pytest.mark.slow
def test_stored_predictions_are_served_per_customer(
    client: TestClient, headers: dict[str, str], database: Database, demo_export: Path
) -> None:
    sources = duckdb_sources(demo_export)
    result = churn.compute_churn(behaviour_tables(sources), as_of=AS_OF, horizon_days=60)
    computed = recommend.compute_recommendations(
        sources.orders, sources.order_lines, as_of=AS_OF, k=5
    )
    with database.write() as session:
        churn.store_churn(
            session, result, params={"horizon_days": 60}, engine="duckdb", now=T0, duration_ms=1
        )
        recommend.store_recommendations(session, computed, engine="duckdb", now=T0)

    snapshot = client.get("/v1/analytics/churn", headers=headers).json()
    assert snapshot["payload"]["customers"] == len(result.risks)
    riskiest = snapshot["payload"]["riskiest"][0]
    one = client.get(f"/v1/analytics/churn/customers/{riskiest['customer_id']}", headers=headers)
    assert one.status_code == 200
    assert one.json()["risk"] == pytest.approx(riskiest["risk"], abs=1e-4)
    # The customer-360 section reads the same row.
    with database.read() as session:
        scores = snapshots.scores_for(session, riskiest["customer_id"], T0)
    assert scores["churn"]["risk"] == pytest.approx(riskiest["risk"], abs=1e-4)
    assert scores["rfm"] is None  # no RFM snapshot was stored

    first = computed.rows[0]
    products = client.get(
        f"/v1/analytics/recommendations/customers/{first['customer_id']}", headers=headers
    ).json()["products"]
    assert products == first["products"]
    offers = client.post(
        f"/v1/analytics/recommendations/customers/{first['customer_id']}/next-best-offer",
        headers=headers,
        json={
            "available_points": 300,
            "rewards": [
                {"reward_id": "R1", "points_cost": 300, "product_id": products[1]},
                {"reward_id": "R2", "points_cost": 301, "product_id": products[0]},
            ],
        },
    ).json()
    assert [(o["kind"], o["id"]) for o in offers][:2] == [
        ("reward", "R1"),
        ("product", products[0]),
    ]
    bad = client.post(
        f"/v1/analytics/recommendations/customers/{first['customer_id']}/next-best-offer",
        headers=headers,
        json={"available_points": -1},
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["pointer"] == "/available_points"
