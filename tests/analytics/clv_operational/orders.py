"""Orders for the operational CLV tests: written straight into the operational tables (the
analytics read tables), either listed by hand or simulated from BG/NBD and Gamma-Gamma with
known parameters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

import numpy as np
from sqlalchemy import Connection, insert

from fidela.analytics.sources import export_parquet
from fidela.commerce.models import SalesOrder
from fidela.customer.models import Customer

_numbers = count(1)
JOINED = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Order:
    customer: int  # a label: index into the customers the test creates
    at: datetime
    total_minor: int
    returned_minor: int = 0
    currency: str = "EUR"


@dataclass(frozen=True)
class Truth:
    """BG/NBD per week (lambda ~ Gamma(r, rate alpha), dropout p ~ Beta(a, b) after each
    purchase) and Gamma-Gamma spend (nu ~ Gamma(q, rate gamma), z ~ Gamma(p, rate nu))."""

    r: float = 1.2
    alpha: float = 6.0
    a: float = 1.0
    b: float = 3.0
    p: float = 6.0
    q: float = 4.0
    gamma: float = 2_750.0


def simulate(
    customers: int, *, seed: int, start: datetime, end: datetime, truth: Truth | None = None
) -> list[Order]:
    """Purchases of ``customers`` people acquired in the first half year after ``start``,
    observed until ``end`` (exclusive)."""
    t = truth or Truth()
    rng = np.random.default_rng(seed)
    orders = []
    for index in range(customers):
        weekly_rate = rng.gamma(t.r, 1 / t.alpha)
        dropout = rng.beta(t.a, t.b)
        nu = rng.gamma(t.q, 1 / t.gamma)
        at = start + timedelta(days=float(rng.uniform(0, 182)))
        first = True
        while at < end:
            value = max(1, round(rng.gamma(t.p, 1 / nu)))
            orders.append(Order(index, at, value))
            # BG/NBD: a customer may drop out after a repeat purchase, never at the first.
            if not first and rng.random() < dropout:
                break
            first = False
            at += timedelta(weeks=float(rng.exponential(1 / weekly_rate)))
    return orders


def insert_orders(connection: Connection, orders: list[Order]) -> list[int]:
    """Insert one customer per label and their orders; the database id of each label."""
    labels = max((o.customer for o in orders), default=-1) + 1
    profile = {
        "status": "active",
        "signup_at": JOINED,
        "tags": {},
        "attributes": {},
        "profiling_restricted": False,
        "created_at": JOINED,
        "updated_at": JOINED,
        "version": 1,
    }
    ids = [_inserted(connection, profile) for _ in range(labels)]
    rows = [
        {
            "customer_id": ids[o.customer],
            "source": "test",
            "external_id": f"clv{next(_numbers)}",
            "channel": "web",
            "currency": o.currency,
            "subtotal_minor": o.total_minor,
            "shipping_minor": 0,
            "discount_minor": 0,
            "total_minor": o.total_minor,
            "points_redeemed": 0,
            "paid_with_points_minor": 0,
            "returned_minor": o.returned_minor,
            "status": "completed",
            "payments": [],
            "ordered_at": o.at,
            "created_at": o.at,
        }
        for o in orders
    ]
    if rows:
        connection.execute(insert(SalesOrder), rows)
    return ids


def _inserted(connection: Connection, profile: dict[str, object]) -> int:
    key = connection.execute(insert(Customer).values(**profile)).inserted_primary_key
    assert key is not None
    return int(key[0])


def export(connection: Connection, directory: Path) -> Path:
    """``export_parquet`` through the test's connection, which the test then writes through
    (the export must leave that connection as it found it)."""
    export_parquet(connection, directory)
    return directory
