"""Demo data sets for the churn, recommendation and persona tests, generated once per
session (the generator is deterministic for a seed, so results are reproducible)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fidela.analytics.sources import SCHEMAS
from fidela.demo import GenerationConfig, generate


def generate_demo(directory: Path, *, customers: int, seed: int) -> Path:
    config = GenerationConfig(
        customers=customers,
        seed=seed,
        out_dir=directory,
        formats=("parquet",),
        chunk_size=customers,
    )
    generate(config)
    return directory


def _numbers(ids: pa.ChunkedArray) -> pa.ChunkedArray:
    """ "C0000012" -> 12: the demo's ids as the integer ids of the operational tables."""
    return pc.cast(pc.utf8_trim(ids, characters="ABCDEFGHIJKLMNOPQRSTUVWXYZ"), pa.int64())


def _naive(times: pa.ChunkedArray) -> pa.ChunkedArray:
    return times.cast(pa.timestamp("us"))


def export_as_sources(demo: Path, out: Path) -> Path:
    """The demo data in the shape of ``fidela analytics export`` (integer ids, naive UTC,
    sessions, email engagement and support contacts as events), as if it had been imported
    and exported."""
    out.mkdir(parents=True, exist_ok=True)
    customers = pq.read_table(demo / "customers.parquet")
    pq.write_table(
        pa.table(
            {
                "customer_id": _numbers(customers["customer_id"]),
                "status": pa.array(["active"] * customers.num_rows),
                "joined_at": _naive(customers["signup_at"]),
                "preferred_channel": customers["preferred_channel"],
            },
            schema=SCHEMAS["customer"],
        ),
        out / "customer.parquet",
    )
    orders = pq.read_table(demo / "orders.parquet")
    pq.write_table(
        pa.table(
            {
                "order_id": _numbers(orders["order_id"]),
                "customer_id": _numbers(orders["customer_id"]),
                "channel": orders["channel"],
                "currency": orders["currency"],
                "total_minor": orders["total_minor"],
                "returned_minor": pa.array([0] * orders.num_rows, pa.int64()),
                "ordered_at": _naive(orders["ordered_at"]),
            },
            schema=SCHEMAS["sales_order"],
        ),
        out / "sales_order.parquet",
    )
    lines = pq.read_table(demo / "order_lines.parquet")
    by_order = dict(
        zip(
            _numbers(orders["order_id"]).to_pylist(),
            zip(
                _numbers(orders["customer_id"]).to_pylist(),
                _naive(orders["ordered_at"]).to_pylist(),
                strict=True,
            ),
            strict=True,
        )
    )
    line_orders = _numbers(lines["order_id"]).to_pylist()
    pq.write_table(
        pa.table(
            {
                "order_id": pa.array(line_orders, pa.int64()),
                "customer_id": pa.array([by_order[o][0] for o in line_orders], pa.int64()),
                "product_id": lines["product_id"],
                "category": lines["category"],
                "quantity": lines["quantity"],
                "amount_minor": lines["amount_minor"],
                "ordered_at": pa.array([by_order[o][1] for o in line_orders], pa.timestamp("us")),
            },
            schema=SCHEMAS["sales_order_line"],
        ),
        out / "sales_order_line.parquet",
    )
    sessions = pq.read_table(demo / "sessions.parquet")
    emails = pq.read_table(demo / "email_events.parquet")
    support = pq.read_table(demo / "support_interactions.parquet")
    parts = [
        (
            sessions["customer_id"],
            pc.if_else(sessions["login"], "login", "page.viewed"),
            sessions["started_at"],
        ),
        (
            support["customer_id"],
            pa.array(["support.interaction"] * support.num_rows),
            support["occurred_at"],
        ),
    ]
    for column, event_type in (
        ("opened_at", "email.opened"),
        ("clicked_at", "email.clicked"),
        ("unsubscribed_at", "newsletter.unsubscribed"),
    ):
        happened = emails.filter(pc.is_valid(emails[column]))
        parts.append(
            (happened["customer_id"], pa.array([event_type] * happened.num_rows), happened[column])
        )
    customer_ids = pa.chunked_array([c for part in parts for c in _chunks(part[0])])
    types = pa.chunked_array([c for part in parts for c in _chunks(part[1])], pa.string())
    times = pa.chunked_array([c for part in parts for c in _chunks(part[2])])
    pq.write_table(
        pa.table(
            {
                "event_id": pa.array(range(1, len(types) + 1), pa.int64()),
                "customer_id": _numbers(customer_ids),
                "type": types,
                "channel": pa.array([None] * len(types), pa.string()),
                "survey": pa.array([None] * len(types), pa.string()),
                "score": pa.array([None] * len(types), pa.int64()),
                "complaint": pa.array([None] * len(types), pa.bool_()),
                "resolved": pa.array([None] * len(types), pa.bool_()),
                "occurred_at": _naive(times),
            },
            schema=SCHEMAS["event"],
        ),
        out / "event.parquet",
    )
    for name in ("ledger_entry", "membership", "programme"):
        pq.write_table(SCHEMAS[name].empty_table(), out / f"{name}.parquet")
    return out


def _chunks(values: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    return list(values.chunks) if isinstance(values, pa.ChunkedArray) else [values]
