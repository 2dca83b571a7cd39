from __future__ import annotations

from pathlib import Path

import ibis
import ibis.expr.types as ir
import pytest

from tests.analytics.churn.demo import generate_demo


@pytest.fixture(scope="session")
def demo_orders(tmp_path_factory: pytest.TempPathFactory) -> tuple[ir.Table, ir.Table]:
    """6,000 demo customers: purchase histories are short, so fewer customers leave too few
    co-purchases for the comparison with popularity to mean much."""
    directory: Path = generate_demo(
        tmp_path_factory.mktemp("recommend") / "demo", customers=6_000, seed=3
    )
    con = ibis.duckdb.connect()
    return (
        con.read_parquet(str(directory / "orders.parquet")),
        con.read_parquet(str(directory / "order_lines.parquet")),
    )
