"""The referral API: terms, codes and links, claims, and the review queue."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from fidela.customer import service as customers
from fidela.customer.rules import CustomerPolicy
from fidela.customer.schemas import IdentitiesIn, ProfileFields
from fidela.platform.db import Database
from tests.api.keys import issue
from tests.conftest import T0, Clock


@pytest.fixture
def headers(database: Database, clock: Clock) -> dict[str, str]:
    return issue(database, clock, "loyalty:write")


def _customer(session: Session, email: str) -> int:
    identities = customers.collect_identities(IdentitiesIn(email=email), CustomerPolicy())
    return customers.create_customer(
        session, fields=ProfileFields(), identities=identities, now=T0
    ).id


def _people(database: Database, *emails: str) -> list[int]:
    with database.write() as session:
        return [_customer(session, email) for email in emails]


def _configure(client: TestClient, headers: dict[str, str], **body: Any) -> Any:
    terms = {"trigger": "signup", "referrer_points": 300, "referee_points": 100, **body}
    return client.put("/v1/referral-programmes/main", headers=headers, json=terms)


def test_a_member_gets_one_code_and_a_link(
    client: TestClient, headers: dict[str, str], database: Database
) -> None:
    (ana,) = _people(database, "ana@example.com")

    first = client.post(f"/v1/members/{ana}/referral-code", headers=headers).json()
    again = client.post(f"/v1/members/{ana}/referral-code", headers=headers).json()

    assert again == first
    assert len(first["code"]) == 8
    assert first["link"] == f"http://127.0.0.1:8000/r/{first['code']}"


def test_a_held_claim_waits_in_the_queue_until_reviewed(
    client: TestClient, headers: dict[str, str], database: Database
) -> None:
    assert _configure(client, headers).status_code == 200
    ana, twin = _people(database, "ana@example.com", "ana+2@example.com")
    code = client.post(f"/v1/members/{ana}/referral-code", headers=headers).json()["code"]

    claimed = client.post(
        "/v1/referrals", headers=headers, json={"code": code, "referee_customer_id": twin}
    )
    queue = client.get("/v1/referrals?status=held", headers=headers).json()
    rejected = client.post(
        f"/v1/referrals/{claimed.json()['id']}/review", headers=headers, json={"approve": False}
    )
    again = client.post(
        f"/v1/referrals/{claimed.json()['id']}/review", headers=headers, json={"approve": True}
    )

    assert claimed.status_code == 201, claimed.text
    assert claimed.json()["status"] == "held"
    assert [item["id"] for item in queue["items"]] == [claimed.json()["id"]]
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["reviewed_by"].endswith(":test")
    assert again.status_code == 409
    assert again.json()["code"] == "referral_not_held"


def test_bad_terms_and_codes_are_problems(
    client: TestClient, headers: dict[str, str], database: Database
) -> None:
    negative = _configure(client, headers, referrer_points=-1)
    assert _configure(client, headers).status_code == 200
    stale = _configure(client, headers, version=7)
    (bob,) = _people(database, "bob@example.org")
    unknown = client.post(
        "/v1/referrals", headers=headers, json={"code": "ZZZZ-ZZZZ", "referee_customer_id": bob}
    )

    assert negative.status_code == 422
    assert negative.json()["errors"][0]["pointer"] == "/referrer_points"
    assert (stale.status_code, stale.json()["code"]) == (409, "referral_programme_version_conflict")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "referral_code_unknown")
