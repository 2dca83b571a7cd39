"""The prediction snapshots end to end: the analytics export shape in, stored snapshots and
per-customer rows out, read back by the segments and the offers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fidela.analytics.churn import service as churn
from fidela.analytics.churn.models import AnalyticsCustomerChurn
from fidela.analytics.churn.operational import behaviour_tables
from fidela.analytics.personas import service as personas
from fidela.analytics.recommend import service as recommend
from fidela.analytics.recommend.rules import RewardOption
from fidela.analytics.sources import duckdb_sources
from fidela.platform.db import Database
from tests.conftest import T0

AS_OF = datetime(2026, 7, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def churn_result(demo_export: Path) -> churn.ChurnResult:
    return churn.compute_churn(behaviour_tables(duckdb_sources(demo_export)), as_of=AS_OF)


@pytest.mark.slow
def test_churn_snapshot_scores_every_buyer_and_reports_the_held_out_period(
    database: Database, churn_result: churn.ChurnResult
) -> None:
    result = churn_result
    assert result.holdout is not None
    # Without complaint flags and survey scores (not in the export) the model still beats
    # the rules by far on recency and engagement.
    assert result.holdout.model.auc > result.holdout.rules_auc
    assert result.holdout.model.auc > 0.75
    with database.write() as session:
        snapshot = churn.store_churn(
            session, result, params={"horizon_days": 90}, engine="duckdb", now=T0, duration_ms=1
        )
        riskiest = snapshot.payload["riskiest"][0]
        stored, row = churn.get_customer_churn(session, customer_id=riskiest["customer_id"])
    assert stored.id == snapshot.id
    assert row.risk == pytest.approx(riskiest["risk"], abs=1e-4)
    assert [r["feature"] for r in row.reasons] == [r["feature"] for r in riskiest["reasons"]]
    assert snapshot.row_count == len(result.risks) == snapshot.payload["customers"]


def test_recomputing_a_churn_snapshot_replaces_its_rows(
    database: Database, churn_result: churn.ChurnResult
) -> None:
    result = churn_result
    with database.write() as session:
        for _ in range(2):
            snapshot = churn.store_churn(
                session,
                result,
                params={"horizon_days": 90},
                engine="duckdb",
                now=T0,
                duration_ms=1,
            )
        customer = int(result.risks[0].customer_id)  # type: ignore[call-overload]
        found, _row = churn.get_customer_churn(session, customer_id=customer)
        rows = session.scalar(
            select(func.count()).where(AnalyticsCustomerChurn.snapshot_id == snapshot.id)
        )
    assert found.id == snapshot.id
    assert rows == len(result.risks)


@pytest.mark.slow
def test_churn_without_history_is_a_clear_error(database: Database, demo_export: Path) -> None:
    tables = behaviour_tables(duckdb_sources(demo_export))
    with pytest.raises(churn.ChurnDataInsufficient, match="cannot train"):
        churn.compute_churn(tables, as_of=datetime(2023, 12, 1, tzinfo=UTC))


def test_recommendation_snapshot_serves_products_and_next_best_offers(
    database: Database, demo_export: Path
) -> None:
    sources = duckdb_sources(demo_export)
    computed = recommend.compute_recommendations(sources.orders, sources.order_lines, as_of=AS_OF)
    assert computed.payload["evaluation"]["customers"] > 0
    with database.write() as session:
        recommend.store_recommendations(session, computed, engine="duckdb", now=T0)
        first = computed.rows[0]
        products = recommend.recommendations_for(session, customer_id=first["customer_id"])
        assert products == first["products"]
        assert len(products) == 10
        # A customer the snapshot never saw gets the popular products.
        assert (
            recommend.recommendations_for(session, customer_id=10**9)
            == (computed.payload["popular"])
        )
        offers = recommend.next_best_offer(
            session,
            customer_id=first["customer_id"],
            available_points=500,
            rewards=[
                RewardOption("R-cheap", 400, product_id=products[3]),
                RewardOption("R-dear", 900, product_id=products[0]),
            ],
        )
    assert [(o.kind, o.id) for o in offers[:2]] == [("reward", "R-cheap"), ("product", products[0])]


@pytest.mark.slow
def test_persona_snapshot_holds_a_card_per_persona(database: Database, demo_export: Path) -> None:
    tables = behaviour_tables(duckdb_sources(demo_export))
    with database.read() as session:
        computed = personas.compute_personas(
            tables, as_of=AS_OF, ages=lambda ids: personas.ages_by_id(session, ids, AS_OF.date())
        )
    with database.write() as session:
        snapshot = personas.store_personas(session, computed, engine="duckdb", now=T0)
    payload = snapshot.payload
    assert len(payload["cards"]) == payload["k"]
    assert set(payload["silhouettes"]) == {str(k) for k in range(2, 9)}
    assert sum(card["size"] for card in payload["cards"]) == payload["customers"]
    # These customers exist only in the export, so the database knows no birth date.
    assert all(card["typical_age"] is None for card in payload["cards"])
