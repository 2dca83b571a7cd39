"""Customers, consent and orders for segment tests, recorded through the public API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient

from tests.event.builders import order


def customer(
    client: TestClient,
    headers: dict[str, str],
    email: str,
    *,
    email_marketing: bool | None = None,
    **fields: Any,
) -> int:
    body: dict[str, Any] = {"identities": {"email": email}, **fields}
    if email_marketing is not None:
        body["consents"] = [
            {
                "channel": "email",
                "purpose": "marketing",
                "granted": email_marketing,
                "source": "test",
            }
        ]
    response = client.post("/v1/customers", headers=headers, json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def purchase(
    client: TestClient,
    headers: dict[str, str],
    email: str,
    external_id: str,
    at: datetime,
    price: int = 5_000,
) -> None:
    body = order(external_id, at, customer={"email": email}, lines=[("P1", 1, price)])
    response = client.post("/v1/events", headers=headers, json=body)
    assert response.status_code in {200, 201}, response.text
