"""Reward visibility by segment through the API: the member's own current segments decide,
never what the request claims."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from fidela.customer import service as customers
from fidela.customer.schemas import ProfileFields
from fidela.platform.db import Database
from fidela.segment import service as segments
from tests.api.keys import issue
from tests.conftest import Clock
from tests.reward.builders import earn, fixed_voucher

LYON = {"fact": "profile.city", "op": "eq", "value": "Lyon"}


@pytest.fixture
def headers(database: Database, clock: Clock) -> dict[str, str]:
    return issue(database, clock, "rewards:write", "rewards:read")


@pytest.fixture
def people(database: Database, clock: Clock) -> dict[str, int]:
    """Two members with points, one in the ``lyon`` segment (refreshed), one not."""
    with database.write() as session:
        ids = {
            city: customers.create_customer(
                session, fields=ProfileFields(city=city), identities=[], now=clock()
            ).id
            for city in ("Lyon", "Paris")
        }
        for city, customer_id in ids.items():
            earn(session, customer_id, 1_000, f"seed-{city}", clock())
        segment = segments.create_segment(
            session, key="lyon", name="Lyon", description="", definition=LYON, now=clock()
        )
        segments.refresh_segment(session, segment_id=segment.id, now=clock())
    return {"inside": ids["Lyon"], "outside": ids["Paris"]}


@pytest.fixture
def lyon_only(client: TestClient, headers: dict[str, str]) -> str:
    body = fixed_voucher("lyon-5", 100, visibility={"segments": ["lyon"]})
    response = client.post("/v1/rewards", headers=headers, json=body)
    assert response.status_code == 201, response.text
    return "lyon-5"


def _redeem(client: TestClient, headers: dict[str, str], member: int, **extra: Any) -> Any:
    return client.post(
        "/v1/rewards/lyon-5/redemptions",
        headers=headers,
        json={"customer_id": member, "channel": "store", **extra},
    )


def test_a_member_outside_the_segment_is_refused_even_when_the_request_claims_it(
    client: TestClient, headers: dict[str, str], people: dict[str, int], lyon_only: str
) -> None:
    response = _redeem(client, headers, people["outside"], segments=["lyon"])
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "reward_not_visible"


def test_a_member_inside_the_segment_redeems_without_claiming_anything(
    client: TestClient, headers: dict[str, str], people: dict[str, int], lyon_only: str
) -> None:
    response = _redeem(client, headers, people["inside"])
    assert response.status_code == 201, response.text


def test_the_affordable_list_shows_a_segment_reward_to_its_members_only(
    client: TestClient, headers: dict[str, str], people: dict[str, int], lyon_only: str
) -> None:
    def listed(member: int) -> list[str]:
        response = client.get(
            f"/v1/members/{member}/rewards/affordable?programme=main&segment=lyon",
            headers=headers,
        )
        assert response.status_code == 200, response.text
        return [reward["code"] for reward in response.json()["rewards"]]

    assert listed(people["inside"]) == [lyon_only]
    assert listed(people["outside"]) == []
