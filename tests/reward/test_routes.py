"""The rewards API: catalogue, redemption with Idempotency-Key, vouchers, member views,
charity; bad input answered with problem details and stable codes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fidela.ledger import service as ledger
from fidela.loyalty import programmes
from fidela.platform.db import Database
from fidela.reward.models import RewardRedemption
from tests.api.keys import issue
from tests.conftest import Clock
from tests.reward.builders import count, earn, fixed_voucher, new_customer


@pytest.fixture
def headers(database: Database, clock: Clock) -> dict[str, str]:
    return issue(database, clock, "rewards:write")


@pytest.fixture
def member(database: Database, clock: Clock) -> int:
    with database.write() as session:
        customer = new_customer(session, clock())
        earn(session, customer, 1_000, "seed", clock())
        return customer


def _add(client: TestClient, headers: dict[str, str], **extra: Any) -> dict[str, Any]:
    response = client.post("/v1/rewards", headers=headers, json=fixed_voucher(**extra))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _redeem(
    client: TestClient, headers: dict[str, str], member: int, code: str = "coffee-5", **extra: Any
) -> Any:
    return client.post(
        f"/v1/rewards/{code}/redemptions",
        headers=headers,
        json={"customer_id": member, "channel": "store", **extra},
    )


def _problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    return body


def test_an_invalid_reward_points_at_every_bad_field(
    client: TestClient, headers: dict[str, str]
) -> None:
    body = fixed_voucher(cost=-1)
    body["terms"] = {"currency": "EUR", "value_minor": 0}

    problem = _problem(
        client.post("/v1/rewards", headers=headers, json=body), 422, "reward_invalid"
    )
    misspelt = _problem(
        client.post("/v1/rewards", headers=headers, json=fixed_voucher(stok=3)),
        422,
        "reward_invalid",
    )

    assert {error["pointer"] for error in problem["errors"]} == {
        "/cost_points",
        "/terms/value_minor",
    }
    # A misspelt "stock" must not silently make the reward unlimited.
    assert [error["pointer"] for error in misspelt["errors"]] == ["/stok"]


def test_a_redemption_retried_with_its_key_is_answered_once(
    client: TestClient, headers: dict[str, str], member: int, database: Database
) -> None:
    _add(client, headers, stock=5)
    key = {**headers, "Idempotency-Key": "till-7-receipt-991"}

    first = _redeem(client, key, member, channel="kiosk")
    again = _redeem(client, key, member, channel="kiosk")

    assert first.status_code == 201, first.text
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    body = first.json()
    assert (body["channel"], body["points"], body["stock_left"]) == ("kiosk", 100, 4)
    assert body["voucher"]["status"] == "active"
    assert count(database, RewardRedemption) == 1
    _problem(_redeem(client, key, member, channel="web"), 409, "idempotency_key_reused")


def test_redemption_refusals_have_stable_codes_and_write_nothing(
    client: TestClient, headers: dict[str, str], member: int, database: Database
) -> None:
    _add(client, headers, code="gone", stock=0)
    _add(client, headers, code="dear", cost=5_000)
    _add(client, headers, code="once", member_limit={"count": 1})
    assert _redeem(client, headers, member, "once").status_code == 201

    _problem(_redeem(client, headers, member, "gone"), 409, "reward_out_of_stock")
    _problem(_redeem(client, headers, member, "dear"), 409, "points_short")
    _problem(_redeem(client, headers, member, "once"), 409, "reward_member_limit_reached")
    _problem(_redeem(client, headers, member, "nothing-here"), 404, "reward_unknown")
    negative = _problem(
        _redeem(client, headers, member, "dear", points=-5), 422, "validation_failed"
    )
    assert negative["errors"][0]["pointer"] == "/points"
    _problem(_redeem(client, headers, member, "dear", channel="fax"), 422, "validation_failed")
    assert count(database, RewardRedemption) == 1


def test_the_till_looks_a_code_up_and_uses_it_once(
    client: TestClient, headers: dict[str, str], member: int, clock: Clock
) -> None:
    _add(client, headers)
    code = _redeem(client, headers, member).json()["voucher"]["code"]
    typed = code.lower().replace("-", "")

    assert client.get(f"/v1/vouchers/{typed}", headers=headers).json()["status"] == "active"
    wrong = {"channel": "store", "order_total_minor": 3_000, "currency": "USD"}
    _problem(
        client.post(f"/v1/vouchers/{code}/consume", headers=headers, json=wrong),
        422,
        "currency_mismatch",
    )
    paid = {"channel": "store", "order_total_minor": 3_000, "currency": "EUR", "store_id": "S1"}
    used = client.post(f"/v1/vouchers/{typed}/consume", headers=headers, json=paid)
    assert used.status_code == 200, used.text
    assert (used.json()["discount_minor"], used.json()["voucher"]["status"]) == (500, "used")
    _problem(
        client.post(f"/v1/vouchers/{code}/consume", headers=headers, json=paid),
        409,
        "voucher_already_used",
    )
    _problem(client.get("/v1/vouchers/NOPE-0000", headers=headers), 404, "voucher_unknown")


def test_an_expired_voucher_is_a_clear_problem_at_the_till(
    client: TestClient, headers: dict[str, str], member: int, clock: Clock
) -> None:
    _add(client, headers)
    code = _redeem(client, headers, member).json()["voucher"]["code"]
    clock.now += timedelta(days=31)

    problem = _problem(
        client.post(f"/v1/vouchers/{code}/consume", headers=headers, json={"channel": "store"}),
        409,
        "voucher_expired",
    )
    assert "expired" in problem["detail"]
    listed = client.get(f"/v1/members/{member}/vouchers", headers=headers).json()
    assert [voucher["status"] for voucher in listed] == ["expired"]


def test_cancelling_gives_the_points_back_and_voids_the_voucher(
    client: TestClient, headers: dict[str, str], member: int
) -> None:
    _add(client, headers, stock=2)
    redemption = _redeem(client, headers, member).json()

    cancelled = client.post(
        f"/v1/redemptions/{redemption['id']}/cancel", headers=headers, json={"customer_id": member}
    )

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json() == {
        "redemption_id": redemption["id"],
        "status": "cancelled",
        "points_restored": 100,
        "points_expired": 0,
        "restocked": 1,
    }
    voucher = client.get(f"/v1/vouchers/{redemption['voucher']['code']}", headers=headers).json()
    assert voucher["status"] == "cancelled"
    assert client.get("/v1/rewards/coffee-5", headers=headers).json()["stock"] == 2
    again = client.post(f"/v1/redemptions/{redemption['id']}/cancel", headers=headers, json={})
    _problem(again, 409, "redemption_not_cancellable")


def test_the_member_sees_what_they_can_afford_now(
    client: TestClient, headers: dict[str, str], member: int
) -> None:
    _add(client, headers, code="cheap", cost=200)
    _add(client, headers, code="gold", cost=100, visibility={"tiers": ["gold"]})
    _add(client, headers, code="dear", cost=2_000)

    plain = client.get(f"/v1/members/{member}/rewards/affordable", headers=headers).json()
    gold = client.get(f"/v1/members/{member}/rewards/affordable?tier=gold", headers=headers).json()

    assert plain["available_points"] == 1_000
    assert [reward["code"] for reward in plain["rewards"]] == ["cheap"]
    assert [reward["code"] for reward in gold["rewards"]] == ["gold", "cheap"]


def test_a_stale_update_is_a_conflict_and_the_stock_moves_by_delta(
    client: TestClient, headers: dict[str, str]
) -> None:
    version = _add(client, headers, stock=3)["version"]
    body = {**fixed_voucher(cost=150), "version": version}

    assert client.put("/v1/rewards/coffee-5", headers=headers, json=body).status_code == 200
    _problem(
        client.put("/v1/rewards/coffee-5", headers=headers, json=body),
        409,
        "reward_version_conflict",
    )
    moved = client.post("/v1/rewards/coffee-5/stock", headers=headers, json={"delta": -2})
    assert moved.json()["stock"] == 1
    over = client.post("/v1/rewards/coffee-5/stock", headers=headers, json={"delta": -2})
    _problem(over, 422, "reward_stock_invalid")


def test_donating_points_adds_to_the_charity_totals(
    client: TestClient, headers: dict[str, str], member: int
) -> None:
    charity = {"code": "reforest", "name": "Reforest", "currency": "EUR", "value_per_point": "0.01"}
    assert client.post("/v1/charities", headers=headers, json=charity).status_code == 201

    given = client.post(
        "/v1/charities/reforest/donations",
        headers={**headers, "Idempotency-Key": "don-1"},
        json={"customer_id": member, "points": 250},
    )
    client.post(
        "/v1/charities/reforest/donations",
        headers={**headers, "Idempotency-Key": "don-1"},
        json={"customer_id": member, "points": 250},
    )
    negative = client.post(
        "/v1/charities/reforest/donations",
        headers=headers,
        json={"customer_id": member, "points": -3},
    )

    assert given.status_code == 201, given.text
    assert given.json()["value_minor"] == 250
    _problem(negative, 422, "points_amount_invalid")
    totals = client.get("/v1/charities/reforest", headers=headers).json()
    assert (totals["donations"], totals["points_donated"], totals["value_donated_minor"]) == (
        1,
        250,
        250,
    )
    affordable = client.get(f"/v1/members/{member}/rewards/affordable", headers=headers).json()
    assert affordable["available_points"] == 750


def test_with_a_ladder_the_tier_comes_from_the_membership_not_the_caller(
    client: TestClient, headers: dict[str, str], database: Database, clock: Clock
) -> None:
    ladder = {
        "code": "club",
        "name": "Club",
        "basis": "points",
        "window": {"kind": "calendar_year"},
        "levels": [
            {
                "code": "member",
                "name": "Member",
                "threshold": 0,
                "benefits": {"reward_tags": ["members-corner"]},
            },
            {"code": "gold", "name": "Gold", "threshold": 5_000},
        ],
    }
    with database.write() as session:
        programmes.create_programme(
            session,
            code="club",
            name="Club",
            currency="EUR",
            cost_per_point_minor="0.5",
            ladder=ladder,
            now=clock(),
        )
        member = new_customer(session, clock())
        ledger.earn_points(
            session, customer_id=member, programme="club", points=900, now=clock(), key="seed"
        )
    for code, visibility in (
        ("gold-lounge", {"tiers": ["gold"]}),
        ("corner", {"tags": ["members-corner"]}),
    ):
        body = {**fixed_voucher(code), "programme": "club", "visibility": visibility}
        assert client.post("/v1/rewards", headers=headers, json=body).status_code == 201

    listed = client.get(
        f"/v1/members/{member}/rewards/affordable?programme=club&tier=gold", headers=headers
    ).json()
    claimed = _redeem(client, headers, member, "gold-lounge", tier="gold")

    assert [reward["code"] for reward in listed["rewards"]] == ["corner"]
    _problem(claimed, 404, "reward_not_visible")
    assert _redeem(client, headers, member, "corner").status_code == 201
