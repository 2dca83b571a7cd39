"""Recommendation snapshots and next-best-offers.

`refresh_recommendations` fits the model on purchases before ``as_of``, stores every known
customer's top-k (read by the API, no recomputation per request) and the held-out precision
and recall of the model and of popularity on the last horizon before ``as_of``.
`next_best_offer` combines a customer's stored recommendations with the rewards the caller
says they can afford (the reward catalogue is another context's; it is passed in).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import ibis.expr.types as ir
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from fidela.analytics import rules
from fidela.analytics.churn.service import aware, store_snapshot
from fidela.analytics.models import AnalyticsSnapshot
from fidela.analytics.recommend.models import AnalyticsCustomerRecommendation
from fidela.analytics.recommend.report import evaluate_as_of, fit_as_of
from fidela.analytics.recommend.rules import (
    Offer,
    RecommendedProduct,
    RewardOption,
    next_best_offers,
)
from fidela.analytics.recommend.similarity import popular_items, recommend_indices
from fidela.kernel.errors import FieldProblem, InvalidInput

RECOMMEND_KIND = rules.RECOMMEND_KIND
_CHUNK = 10_000


@dataclass(frozen=True)
class ComputedRecommendations:
    as_of: datetime
    params: dict[str, Any]
    payload: dict[str, Any]
    rows: list[dict[str, Any]]
    duration_ms: int


def compute_recommendations(
    orders: ir.Table,
    lines: ir.Table,
    *,
    as_of: datetime,
    k: int = 10,
    horizon_days: int = 90,
) -> ComputedRecommendations:
    """Every known customer's top-``k`` as of ``as_of`` and the held-out evaluation (no
    database work: the shell stores the result in a short unit of work)."""
    if not 1 <= k <= 100:
        raise InvalidInput("k must be between 1 and 100", [FieldProblem("/k", "1..100")])
    if horizon_days < 7:
        raise InvalidInput(
            "the evaluation horizon must be at least 7 days",
            [FieldProblem("/horizon_days", ">= 7")],
        )
    started = time.perf_counter()
    when = aware(as_of)
    model = fit_as_of(orders, lines, as_of=when)
    interactions = model.interactions
    evaluation: dict[str, Any]
    try:
        report = evaluate_as_of(
            orders, lines, as_of=when, horizon=timedelta(days=horizon_days), k=k
        )
        evaluation = {
            "customers": report.customers,
            "precision_at_k": round(report.model.precision, 4),
            "recall_at_k": round(report.model.recall, 4),
            "popularity_precision_at_k": round(report.popularity.precision, 4),
            "popularity_recall_at_k": round(report.popularity.recall, 4),
        }
    except ValueError as error:  # no purchases, or nobody bought anything new
        evaluation = {"problem": str(error)}
    rows = [
        {
            "customer_id": int(customer),
            "products": [str(interactions.products[i]) for i in recommend_indices(model, row, k=k)],
        }
        for row, customer in enumerate(interactions.customers.tolist())
    ]
    popular = (
        [str(interactions.products[i]) for i in popular_items(model, k=k)]
        if len(interactions.products)
        else []
    )
    payload = {
        "as_of": when.date().isoformat(),
        "k": k,
        "customers": len(rows),
        "products": len(interactions.products),
        "popular": popular,
        "evaluation": evaluation,
    }
    return ComputedRecommendations(
        when,
        {"k": k, "horizon_days": horizon_days},
        payload,
        rows,
        round((time.perf_counter() - started) * 1000),
    )


def store_recommendations(
    session: Session, computed: ComputedRecommendations, *, engine: str, now: datetime
) -> AnalyticsSnapshot:
    snapshot = store_snapshot(
        session,
        kind=RECOMMEND_KIND,
        as_of=computed.as_of,
        params=computed.params,
        engine=engine,
        payload=computed.payload,
        row_count=len(computed.rows),
        now=now,
        duration_ms=computed.duration_ms,
        child=AnalyticsCustomerRecommendation,
    )
    rows = computed.rows
    for start in range(0, len(rows), _CHUNK):
        session.execute(
            insert(AnalyticsCustomerRecommendation),
            [{"snapshot_id": snapshot.id, **r} for r in rows[start : start + _CHUNK]],
        )
    return snapshot


def recommendations_for(session: Session, *, customer_id: int) -> list[str]:
    """The customer's products in the latest recommendation snapshot; the snapshot's popular
    products for a customer it does not know; [] before any snapshot."""
    latest = session.scalars(
        select(AnalyticsSnapshot)
        .where(AnalyticsSnapshot.kind == RECOMMEND_KIND)
        .order_by(AnalyticsSnapshot.as_of.desc(), AnalyticsSnapshot.id.desc())
        .limit(1)
    ).first()
    if latest is None:
        return []
    row = session.get(AnalyticsCustomerRecommendation, (latest.id, customer_id))
    if row is not None:
        return list(row.products)
    return list(latest.payload.get("popular", []))


def next_best_offer(
    session: Session,
    *,
    customer_id: int,
    available_points: int,
    rewards: list[RewardOption],
    categories: dict[str, str] | None = None,
    limit: int = 5,
) -> list[Offer]:
    """Offers for a member: rewards on or near their recommended products that their
    ``available_points`` cover, then the recommended products themselves."""
    known = categories or {}
    recommended = [
        RecommendedProduct(p, known.get(p))
        for p in recommendations_for(session, customer_id=customer_id)
    ]
    return next_best_offers(recommended, rewards, available_points=available_points, limit=limit)
