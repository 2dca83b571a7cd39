"""The demo data (known truth) as an analytics export directory, generated once per session."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from fidela.analytics.sources import SCHEMAS
from fidela.demo import GenerationConfig, TruthParameters, generate

DEMO_CUSTOMERS = 4_000
DEMO_SEED = 20_261_122


def _numbers(ids: pa.ChunkedArray) -> pa.ChunkedArray:
    """ "C0000012" -> 12: the demo's ids as the integer ids of the operational tables."""
    return pc.cast(pc.utf8_trim(ids, characters="ABCDEFGHIJKLMNOPQRSTUVWXYZ"), pa.int64())


@pytest.fixture(scope="session")
def demo_config(tmp_path_factory: pytest.TempPathFactory) -> GenerationConfig:
    config = GenerationConfig(
        customers=DEMO_CUSTOMERS,
        seed=DEMO_SEED,
        out_dir=tmp_path_factory.mktemp("clv-operational") / "demo",
        formats=("parquet",),
        chunk_size=DEMO_CUSTOMERS,
        truth=TruthParameters(fraud_share=0.0),  # fraud orders are not BG/NBD purchases
    )
    generate(config)
    return config


@pytest.fixture(scope="session")
def demo_export(demo_config: GenerationConfig, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo orders in the shape of ``fidela analytics export`` (every other source
    empty: the CLV reads orders only)."""
    out = tmp_path_factory.mktemp("clv-operational-export")
    for name, schema in SCHEMAS.items():
        pq.write_table(schema.empty_table(), out / f"{name}.parquet")
    orders = pq.read_table(demo_config.out_dir / "orders.parquet")
    pq.write_table(
        pa.table(
            {
                "order_id": _numbers(orders["order_id"]),
                "customer_id": _numbers(orders["customer_id"]),
                "channel": orders["channel"],
                "currency": orders["currency"],
                "total_minor": orders["total_minor"],
                "returned_minor": pa.array([0] * orders.num_rows, pa.int64()),
                "ordered_at": orders["ordered_at"].cast(pa.timestamp("us")),
            },
            schema=SCHEMAS["sales_order"],
        ),
        out / "sales_order.parquet",
    )
    return out
