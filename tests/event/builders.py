"""Event payloads for tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def order(
    external_id: str,
    at: datetime,
    *,
    customer: dict[str, Any] | None = None,
    lines: list[tuple[str, int, int]] | None = None,
    source: str = "pos",
    **data: Any,
) -> dict[str, Any]:
    return {
        "type": "order.completed",
        "source": source,
        "external_id": external_id,
        "occurred_at": at.isoformat(),
        "customer": customer,
        "data": {
            "currency": "EUR",
            "channel": "store",
            "store_id": "S01",
            "lines": [
                {
                    "product_id": product,
                    "category": "shoes",
                    "quantity": quantity,
                    "unit_price_minor": price,
                }
                for product, quantity, price in (lines or [("P1", 1, 5000)])
            ],
            **data,
        },
    }


def returned(
    external_id: str,
    order_id: str,
    at: datetime,
    *,
    lines: list[tuple[int, int]] | None = None,
    amount_minor: int | None = None,
    source: str = "pos",
) -> dict[str, Any]:
    data: dict[str, Any] = {"order_id": order_id}
    if lines:
        data["lines"] = [{"line_no": n, "quantity": q} for n, q in lines]
    if amount_minor is not None:
        data["amount_minor"] = amount_minor
    return {
        "type": "order.returned",
        "source": source,
        "external_id": external_id,
        "occurred_at": at.isoformat(),
        "data": data,
    }


def simple(
    event_type: str,
    external_id: str,
    at: datetime,
    customer: dict[str, Any] | None,
    source: str = "web",
    **data: Any,
) -> dict[str, Any]:
    return {
        "type": event_type,
        "source": source,
        "external_id": external_id,
        "occurred_at": at.isoformat(),
        "customer": customer,
        "data": data,
    }
