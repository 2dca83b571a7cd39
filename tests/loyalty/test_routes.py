"""The loyalty API: programmes with compare-and-set rules, dry runs, member views and
liability; bad input answers problem details and stores nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from fidela.loyalty.models import LoyaltyProgramme, LoyaltyRuleSet
from fidela.platform.db import Database
from tests.api.keys import issue
from tests.conftest import Clock
from tests.event.builders import order, returned
from tests.loyalty.setup import BASE_RULES, LADDER, customer_of, ingest

ANA = {"email": "ana@example.com"}


@pytest.fixture
def api(make_client: Callable[..., TestClient], database: Database, clock: Clock) -> TestClient:
    client = make_client()
    client.headers.update(issue(database, clock, "loyalty:write"))
    return client


def programme_body(**extra: Any) -> dict[str, Any]:
    return {
        "code": "club",
        "name": "Club",
        "currency": "EUR",
        "cost_per_point_minor": "0.5",
        "rules": BASE_RULES,
        **extra,
    }


def count(database: Database, model: type[Any]) -> int:
    with database.read() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def test_programme_is_created_and_its_rules_replaced_by_compare_and_set(
    api: TestClient, database: Database
) -> None:
    created = api.post("/v1/loyalty/programmes", json=programme_body())
    assert created.status_code == 201, created.text
    assert created.json()["rule_set_version"] == 1
    new_rules = {"rules": [{"id": "base", "kind": "spend", "rate": "2"}]}
    saved = api.put("/v1/loyalty/programmes/club/rules", json={"version": 1, "rules": new_rules})
    assert saved.status_code == 200
    assert saved.json()["rule_set_version"] == 2
    stale = api.put("/v1/loyalty/programmes/club/rules", json={"version": 1, "rules": new_rules})
    assert stale.status_code == 409
    assert stale.json()["code"] == "version_stale"
    versions = api.get("/v1/loyalty/programmes/club/rules/versions").json()
    assert [v["version"] for v in versions] == [2, 1]
    assert count(database, LoyaltyRuleSet) == 2


def test_invalid_rules_answer_pointers_and_store_nothing(
    api: TestClient, database: Database
) -> None:
    bad = {"rules": [{"id": "base", "kind": "spend", "rate": "-1", "budjet": 5}]}
    response = api.post("/v1/loyalty/programmes", json=programme_body(rules=bad))
    assert response.status_code == 422
    pointers = {error["pointer"] for error in response.json()["errors"]}
    assert "/rules/rules/0/budjet" in pointers
    assert count(database, LoyaltyProgramme) == 0


def test_rules_in_another_currency_than_the_programme_are_refused(api: TestClient) -> None:
    response = api.post(
        "/v1/loyalty/programmes", json=programme_body(rules={**BASE_RULES, "currency": "USD"})
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/rules/currency"


def test_unknown_programme_is_404_and_a_duplicate_code_409(api: TestClient) -> None:
    assert api.get("/v1/loyalty/programmes/nope").status_code == 404
    assert api.post("/v1/loyalty/programmes", json=programme_body()).status_code == 201
    again = api.post("/v1/loyalty/programmes", json=programme_body())
    assert again.status_code == 409


def test_dry_run_reports_points_and_cost_and_writes_nothing(
    api: TestClient, database: Database, clock: Clock
) -> None:
    api.post("/v1/loyalty/programmes", json=programme_body())
    event = order("T-1", clock(), customer=ANA, lines=[("P1", 2, 2500)])
    response = api.post(
        "/v1/loyalty/programmes/club/dry-run",
        json={"type": "order.completed", "occurred_at": clock().isoformat(), "data": event["data"]},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["total_points"], body["cost_minor"]) == (50, 25)
    draft = {"rules": [{"id": "base", "kind": "spend", "rate": "3"}]}
    tried = api.post(
        "/v1/loyalty/programmes/club/dry-run",
        json={
            "type": "order.completed",
            "occurred_at": clock().isoformat(),
            "data": event["data"],
            "rules": draft,
        },
    )
    assert tried.json()["total_points"] == 150
    assert api.get("/v1/loyalty/programmes/club").json()["rule_set_version"] == 1


def test_dry_run_refuses_negative_amounts_and_a_wrong_currency(
    api: TestClient, clock: Clock
) -> None:
    api.post("/v1/loyalty/programmes", json=programme_body())
    data = order("T-1", clock(), lines=[("P1", 1, -5)])["data"]
    negative = api.post(
        "/v1/loyalty/programmes/club/dry-run",
        json={"type": "order.completed", "occurred_at": clock().isoformat(), "data": data},
    )
    assert negative.status_code == 422
    assert negative.json()["errors"][0]["pointer"] == "/data/lines/0/unit_price_minor"
    data = order("T-1", clock())["data"] | {"currency": "USD"}
    wrong = api.post(
        "/v1/loyalty/programmes/club/dry-run",
        json={"type": "order.completed", "occurred_at": clock().isoformat(), "data": data},
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["pointer"] == "/currency"


def test_replay_of_recorded_orders_reports_what_new_rules_would_cost(
    api: TestClient, database: Database, clock: Clock
) -> None:
    api.post("/v1/loyalty/programmes", json=programme_body())
    ingest(
        database,
        clock(),
        order("T-1", clock() - timedelta(days=3), customer=ANA, lines=[("P1", 1, 4000)]),
        order("T-2", clock() - timedelta(days=40), customer=ANA, lines=[("P1", 1, 9000)]),
    )
    draft = {"rules": [{"id": "double", "kind": "spend", "rate": "2"}]}
    response = api.post(
        "/v1/loyalty/programmes/club/replay",
        json={
            "from": (clock() - timedelta(days=7)).isoformat(),
            "to": clock().isoformat(),
            "rules": draft,
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["events"], body["total_points"], body["cost_minor"]) == (1, 80, 40)


def test_member_sees_balance_history_with_reasons_and_tier_progress(
    api: TestClient, database: Database, clock: Clock
) -> None:
    api.post("/v1/loyalty/programmes", json=programme_body(ladder=LADDER))
    for n in range(3):
        ingest(database, clock(), order(f"T-{n}", clock(), customer=ANA, lines=[("P1", 1, 10000)]))
    ana = customer_of(database, "ana@example.com")
    balance = api.get(f"/v1/members/{ana}/balance").json()
    assert (balance["available"], balance["pending"]) == (300, 0)
    first = api.get(f"/v1/members/{ana}/history", params={"limit": 2}).json()
    assert len(first["items"]) == 2
    assert first["items"][0]["rule"] == "v1:base"
    rest = api.get(f"/v1/members/{ana}/history", params={"cursor": first["next_cursor"]}).json()
    assert len(rest["items"]) == 1
    assert rest["next_cursor"] is None
    tier = api.get(f"/v1/members/{ana}/tier").json()
    assert tier["tier_code"] == "member"
    assert tier["next"]["remaining"] == 200
    assert tier["next"]["text"].startswith("200")
    assert api.get("/v1/members/999999/balance").status_code == 404


def test_customer_360_shows_the_loyalty_section(
    api: TestClient, database: Database, clock: Clock
) -> None:
    api.post("/v1/loyalty/programmes", json=programme_body(ladder=LADDER))
    ingest(database, clock(), order("T-1", clock(), customer=ANA, lines=[("P1", 1, 10000)]))
    ana = customer_of(database, "ana@example.com")
    view = api.get(f"/v1/customers/{ana}", headers=issue(database, clock, "admin", name="a"))
    assert view.status_code == 200, view.text
    assert view.json()["extensions"]["loyalty"]["club"] == {
        "available": 100,
        "pending": 0,
        "expiring_soon": 0,
        "tier": "member",
    }


def test_liability_values_outstanding_points_and_counts_issued_and_redeemed(
    api: TestClient, database: Database, clock: Clock
) -> None:
    api.post("/v1/loyalty/programmes", json=programme_body())
    ingest(database, clock(), order("T-1", clock(), customer=ANA, lines=[("P1", 1, 10000)]))
    ingest(database, clock(), returned("R-1", "T-1", clock(), amount_minor=2500))
    response = api.get("/v1/loyalty/programmes/club/liability")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["outstanding_active"] == 75
    assert body["value_minor"] == 38  # 75 x 0.5, half-even
    (month,) = body["periods"]
    assert (month["issued"], month["clawed_back"]) == (100, 25)
