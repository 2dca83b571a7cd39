"""The per-customer summary against lifetimes' ``summary_data_from_transaction_data`` on
random orders (same-day repeats, orders at midnight, an order at as_of), on every engine; and
the export's clustering of orders by customer, which the summary's speed relies on."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from lifetimes.utils import summary_data_from_transaction_data
from sqlalchemy import Connection

from fidela.analytics.rfm import customer_summary, orders_before
from fidela.analytics.rules import parse_as_of
from fidela.analytics.sources import export_parquet
from tests.analytics.conftest import SourcesFactory
from tests.analytics.seed import Seed

AS_OF = parse_as_of("2026-04-01")


def random_orders(seed: int) -> Seed:
    rng = random.Random(seed)
    orders = Seed()
    start = datetime(2025, 1, 1)  # noqa: DTZ001 - seed instants are naive UTC text
    for number in range(12):
        label = f"c{number}"
        orders.customer(label, "2024-12-01")
        days = rng.sample(range(455), k=rng.randint(1, 6))
        for day in days:
            # Up to three orders on one day: the summary counts the day once.
            for _ in range(rng.choice([1, 1, 2, 3])):
                instant = start + timedelta(days=day, minutes=rng.choice([0, 1, 720, 1439]))
                orders.order(label, instant.isoformat(timespec="minutes"), rng.randint(1, 9999))
    return orders.order("c0", "2026-04-01T00:00", 70)  # at as_of: not counted


def lifetimes_summary(seed: Seed, ids: dict[str, int]) -> pd.DataFrame:
    frame = pd.DataFrame(
        [
            (ids[label], pd.Timestamp(when), minor)
            for label, when, minor, _ in seed.orders
            if pd.Timestamp(when) < pd.Timestamp(AS_OF)
        ],
        columns=["customer_id", "ordered_at", "total_minor"],
    )
    return summary_data_from_transaction_data(
        frame,
        "customer_id",
        "ordered_at",
        monetary_value_col="total_minor",
        observation_period_end=pd.Timestamp(AS_OF),
        freq="D",
    )


def test_customer_summary_equals_lifetimes_on_random_orders(
    connection: Connection, make_sources: SourcesFactory
) -> None:
    seed = random_orders(20261122)
    ids = seed.insert(connection)
    sources = make_sources()
    rows = sources.rows(customer_summary(orders_before(sources, AS_OF), AS_OF))
    ours = {row["customer_id"]: row for row in rows}
    theirs = lifetimes_summary(seed, ids)
    assert sorted(ours) == sorted(theirs.index)
    assert any(row["orders"] > row["purchase_days"] for row in rows)  # same-day repeats
    for customer, expected in theirs.iterrows():
        row = ours[customer]
        for name in ("frequency", "recency", "T", "monetary_value"):
            assert abs(row[name] - expected[name]) <= 1e-9, (customer, name)


def test_export_writes_orders_clustered_by_customer_then_instant(
    connection: Connection, tmp_path: Path
) -> None:
    seed = random_orders(7)
    ids = seed.insert(connection)
    export_parquet(connection, tmp_path)
    table = pq.read_table(tmp_path / "sales_order.parquet")
    keys = list(
        zip(
            table.column("customer_id").to_pylist(),
            table.column("ordered_at").to_pylist(),
            table.column("order_id").to_pylist(),
            strict=True,
        )
    )
    assert keys == sorted(keys)
    assert {customer for customer, _, _ in keys} == set(ids.values())
    # Inserted customer by customer but not in time order: the export sorted them.
    assert [order_id for _, _, order_id in keys] != sorted(order_id for *_, order_id in keys)
