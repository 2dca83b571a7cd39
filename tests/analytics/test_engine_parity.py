"""The engine step of the predictive analytics (churn and persona features, recommendation
interactions) gives the same rows on DuckDB, PostgreSQL in place and Spark as on DuckDB over
an export of the same data: what the models then learn from cannot depend on the engine."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from fidela.analytics.churn.features import FeatureFrame, behaviour_features
from fidela.analytics.churn.operational import behaviour_tables
from fidela.analytics.personas.build import _extras
from fidela.analytics.recommend.interactions import product_categories, purchase_pairs
from fidela.analytics.sources import Sources, duckdb_sources, export_parquet
from tests.analytics.conftest import SourcesFactory
from tests.analytics.seed import Seed

AS_OF = datetime(2026, 4, 1, tzinfo=UTC)


def history() -> Seed:
    seed = Seed()
    for label in "abcd":
        seed.customer(label, "2025-06-01")
    return (
        seed.order("a", "2026-01-10T10:00", 100, "web")
        .order("a", "2026-02-10T10:00", 200)
        .order("a", "2026-03-25T10:00", 300, "app")
        .order("b", "2026-01-15T10:00", 1000, "web")
        .order("b", "2026-03-15T10:00", 1000)
        .order("c", "2026-02-01T10:00", 50)
        .order("d", "2026-03-20T10:00", 400, "app")
        .order("d", "2026-04-02T10:00", 999)  # after as_of
        .event("a", "login", "2026-03-01T10:00")
        .event("b", "page.viewed", "2026-03-02T10:00")
        .event("a", "email.opened", "2026-03-05T10:00", "email")
        .event("c", "email.clicked", "2026-03-06T10:00", "email")
        .event("c", "newsletter.unsubscribed", "2026-03-07T10:00", "email")
        .support("b", "2026-03-10T10:00", complaint=True, resolved=False)
        .support("b", "2026-03-12T10:00", complaint=True)
        .support("a", "2026-03-13T10:00")
        .survey("a", 9, "2026-03-01T10:00")
        .survey("b", 3, "2026-03-11T10:00")
        .survey("c", 4, "2026-03-12T10:00", survey="csat")
    )


def reference(connection: Connection, directory: Path) -> Sources:
    """DuckDB over an export of the same rows: the engine every other is compared with."""
    export_parquet(connection, directory)
    return duckdb_sources(directory, threads=1)


def _sorted(frame: FeatureFrame) -> tuple[list[Any], np.ndarray[Any, Any]]:
    order = np.argsort(frame.customer_ids.astype(np.int64))
    return [int(i) for i in frame.customer_ids[order]], frame.values[order]


def _table(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.sort_values(keys).reset_index(drop=True)


def test_churn_features_are_the_same_on_every_engine(
    connection: Connection, make_sources: SourcesFactory, tmp_path: Path
) -> None:
    ids = history().insert(connection)
    features = behaviour_features(behaviour_tables(make_sources()), as_of=AS_OF)
    expected = behaviour_features(
        behaviour_tables(reference(connection, tmp_path / "reference")), as_of=AS_OF
    )
    got_ids, got = _sorted(features)
    want_ids, want = _sorted(expected)
    assert got_ids == want_ids == sorted(ids.values())
    np.testing.assert_allclose(got, want, rtol=1e-12, equal_nan=True)
    # And what the operational data says, read on this engine.
    row = {customer: index for index, customer in enumerate(got_ids)}

    def value(label: str, name: str) -> float:
        return float(got[row[ids[label]], features.names.index(name)])

    assert value("b", "complaints_90d") == 2
    assert value("b", "unresolved_365d") == 1
    assert value("a", "complaints_90d") == 0
    assert value("a", "contacts_90d") == 1
    assert value("a", "last_survey_score") == 9
    assert value("b", "avg_survey_score") == 3
    assert np.isnan(value("c", "avg_survey_score"))  # a CSAT answer is not on the NPS scale
    assert value("c", "unsubscribed") == 1
    assert value("a", "orders_total") == 3
    assert value("d", "orders_total") == 1  # the order after as_of is not seen


def test_recommendation_interactions_are_the_same_on_every_engine(
    connection: Connection, make_sources: SourcesFactory, tmp_path: Path
) -> None:
    ids = history().insert(connection)
    sources = make_sources()
    expected = reference(connection, tmp_path / "reference")
    keys = ["customer_id", "product_id"]
    pairs = _table(purchase_pairs(sources.orders, sources.order_lines, end=AS_OF).to_pandas(), keys)
    want = _table(
        purchase_pairs(expected.orders, expected.order_lines, end=AS_OF).to_pandas(), keys
    )
    assert pairs.astype({"purchases": "int64"}).equals(want.astype({"purchases": "int64"}))
    assert dict(zip(pairs["customer_id"], pairs["purchases"], strict=True)) == {
        ids["a"]: 3,
        ids["b"]: 2,
        ids["c"]: 1,
        ids["d"]: 1,
    }
    categories = _table(product_categories(sources.order_lines).to_pandas(), ["product_id"])
    assert categories.to_dict("records") == [{"product_id": "P1", "category": "shoes"}]


def test_persona_features_are_the_same_on_every_engine(
    connection: Connection, make_sources: SourcesFactory, tmp_path: Path
) -> None:
    ids = history().insert(connection)
    profile, bought = _extras(behaviour_tables(make_sources()), AS_OF)
    want_profile, want_bought = _extras(
        behaviour_tables(reference(connection, tmp_path / "reference")), AS_OF
    )
    profile = _table(profile, ["customer_id"])
    want_profile = _table(want_profile, ["customer_id"])
    pd.testing.assert_frame_equal(profile, want_profile, check_dtype=False, rtol=1e-12)
    shares = dict(zip(profile["customer_id"], profile["online_share"], strict=True))
    assert shares[ids["a"]] == 2 / 3  # web and app of three orders
    assert shares[ids["c"]] == 0.0
    counted = _table(bought, ["customer_id", "category"])
    pd.testing.assert_frame_equal(
        counted, _table(want_bought, ["customer_id", "category"]), check_dtype=False
    )
    assert len(counted) == 7  # one line per order before as_of
