"""CLV snapshots of the platform's own customers: compute from the analytics sources for an
explicit ``as_of``, store as an ``analytics_snapshot`` of kind ``clv`` with one
``analytics_customer_clv`` row per buyer, and read them back.

The fit reads only orders strictly before ``as_of`` (see ``operational`` for what counts as a
purchase and ``prediction`` for the units), so a past ``as_of`` reproduces what the model
would have said that day. Computing happens outside any transaction; storing is one short
unit of work the caller (or ``refresh_clv``) opens.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import insert
from sqlalchemy.orm import Session

from fidela.analytics import repository, rules
from fidela.analytics.churn.service import store_snapshot
from fidela.analytics.clv.errors import TooFewRepeatCustomers
from fidela.analytics.clv.models import AnalyticsCustomerClv
from fidela.analytics.clv.operational import naive_utc, purchase_days
from fidela.analytics.clv.prediction import ClvPrediction, ClvSettings, predict_clv
from fidela.analytics.models import AnalyticsSnapshot
from fidela.analytics.sources import Sources
from fidela.kernel.errors import NotFound
from fidela.platform.db import Database

CLV_KIND = rules.CLV_KIND
TOP_CUSTOMERS = 20
_CHUNK = 10_000
_DIGITS = 6


class ClvSnapshotNotFound(NotFound):
    code = "clv_snapshot_not_found"
    title = "No CLV snapshot"


def compute_clv(
    sources: Sources,
    *,
    as_of: datetime,
    currency: str | None = None,
    horizon_weeks: int = 52,
    discount_rate: float = 0.10,
    margin: float = 1.0,
) -> ClvPrediction:
    """Predicted CLV of every buyer before ``as_of`` (naive UTC, or aware) in ``currency``
    (default: the only currency orders use), with the holdout check on the last
    ``horizon_weeks``."""
    settings = ClvSettings(horizon_weeks, discount_rate, margin)
    when = naive_utc(as_of)
    return predict_clv(purchase_days(sources, when, currency), as_of=when, settings=settings)


def clv_params(prediction: ClvPrediction) -> dict[str, Any]:
    """The snapshot key's parameters: one snapshot per (as_of, currency, settings)."""
    settings = prediction.settings
    return {
        "currency": prediction.currency,
        "horizon_weeks": settings.horizon_weeks,
        "discount_rate": settings.discount_rate,
        "margin": settings.margin,
    }


def _round(value: float) -> float:
    return round(float(value), _DIGITS)


def clv_payload(prediction: ClvPrediction, *, top: int = TOP_CUSTOMERS) -> dict[str, Any]:
    settings = prediction.settings
    summary = prediction.summary
    count = prediction.customers
    clv_total = int(prediction.clv_minor.sum())
    historical_total = int(prediction.historical_minor.sum())
    # Highest CLV first; ties by customer id so the list is the same on every engine.
    ranked = np.lexsort((summary.customer, -prediction.clv_minor))[:top]
    return {
        "as_of": rules.as_of_text(prediction.as_of),
        "currency": prediction.currency,
        "time_unit": summary.time_unit,
        "observation_end": summary.observation_end.isoformat(),
        "horizon_weeks": settings.horizon_weeks,
        "discount_rate": settings.discount_rate,
        "weekly_discount_rate": _round(settings.weekly_discount_rate),
        "margin": settings.margin,
        "units": {
            "*_minor": "integer minor units of the currency (half-even)",
            "clv_minor": (
                "margin x expected spend x expected purchases per week over horizon_weeks, "
                "week i discounted by (1 + weekly_discount_rate)^i; margin 1.0 = revenue CLV"
            ),
            "expected_purchases": "repeat purchase days expected over horizon_weeks (BG/NBD)",
            "p_alive": "probability 0..1 the customer is still active (BG/NBD)",
            "recency_weeks, age_weeks": "BG/NBD t_x and T in weeks at day resolution",
            "historical_minor": "order totals net of returns before as_of",
        },
        "customers": count,
        "repeat_customers": summary.repeat_customers,
        "bgnbd": {
            "params": prediction.purchases.params,
            "log_likelihood": prediction.purchases.log_likelihood,
            "iterations": prediction.purchases.iterations,
        },
        "gamma_gamma": {
            "params": prediction.spend.params,
            "log_likelihood": prediction.spend.log_likelihood,
            "customers": prediction.spend.customers,
            "iterations": prediction.spend.iterations,
            "population_mean_spend_minor": _round(prediction.spend.population_mean_spend),
        },
        "totals": {
            "clv_sum_minor": clv_total,
            "clv_mean_minor": rules.average_minor(clv_total, count),
            "historical_sum_minor": historical_total,
            "historical_mean_minor": rules.average_minor(historical_total, count),
            "expected_purchases_sum": _round(prediction.expected_purchases.sum()),
            "mean_p_alive": _round(prediction.p_alive.mean()) if count else None,
        },
        "holdout": prediction.holdout,
        "holdout_problem": prediction.holdout_problem,
        "top": [
            {
                "customer_id": int(summary.customer[i]),
                "clv_minor": int(prediction.clv_minor[i]),
                "p_alive": _round(prediction.p_alive[i]),
                "expected_purchases": _round(prediction.expected_purchases[i]),
                "historical_minor": int(prediction.historical_minor[i]),
            }
            for i in ranked
        ],
    }


def customer_rows(prediction: ClvPrediction, snapshot_id: int) -> list[dict[str, Any]]:
    summary = prediction.summary
    return [
        {
            "snapshot_id": snapshot_id,
            "customer_id": customer_id,
            "frequency": frequency,
            "recency_weeks": recency,
            "age_weeks": age,
            "p_alive": p_alive,
            "expected_purchases": expected,
            "expected_spend_minor": spend,
            "clv_minor": clv,
            "historical_minor": historical,
        }
        for customer_id, frequency, recency, age, p_alive, expected, spend, clv, historical in zip(
            summary.customer.astype(np.int64).tolist(),
            summary.frequency.tolist(),
            summary.recency.tolist(),
            summary.T.tolist(),
            prediction.p_alive.tolist(),
            prediction.expected_purchases.tolist(),
            prediction.expected_spend_minor.tolist(),
            prediction.clv_minor.tolist(),
            prediction.historical_minor.tolist(),
            strict=True,
        )
    ]


def store_clv(
    session: Session,
    prediction: ClvPrediction,
    *,
    engine: str,
    now: datetime,
    duration_ms: int,
) -> AnalyticsSnapshot:
    """Store the snapshot (replacing the one with the same as_of and parameters) and one row
    per buyer."""
    snapshot = store_snapshot(
        session,
        kind=CLV_KIND,
        as_of=prediction.as_of,
        params=clv_params(prediction),
        engine=engine,
        payload=clv_payload(prediction),
        row_count=prediction.customers,
        now=now,
        duration_ms=duration_ms,
        child=AnalyticsCustomerClv,
    )
    rows = customer_rows(prediction, snapshot.id)
    for start in range(0, len(rows), _CHUNK):
        session.execute(insert(AnalyticsCustomerClv), rows[start : start + _CHUNK])
    return snapshot


def refresh_clv(
    database: Database,
    sources: Sources,
    *,
    as_of: datetime,
    now: datetime,
    engine_name: str,
) -> AnalyticsSnapshot | None:
    """The nightly step: compute with the defaults (the deployment's single currency, 52
    weeks, 10 % a year, revenue CLV) and store in its own unit of work.

    None, and nothing stored, while too few buyers have a repeat purchase to fit the models
    (a young deployment): that is a state of the data, not a failure of the night. Orders in
    several currencies raise ``AmbiguousCurrency``, as the RFM refresh does.
    """
    started = time.perf_counter()
    try:
        prediction = compute_clv(sources, as_of=as_of)
    except TooFewRepeatCustomers:
        return None
    duration_ms = round((time.perf_counter() - started) * 1000)
    with database.write() as session:
        return store_clv(session, prediction, engine=engine_name, now=now, duration_ms=duration_ms)


def get_customer_clv(
    session: Session, *, customer_id: int
) -> tuple[AnalyticsSnapshot, AnalyticsCustomerClv]:
    """A customer's row in the newest CLV snapshot that values them."""
    found = repository.find_latest_customer_clv(session, customer_id=customer_id)
    if found is None:
        raise ClvSnapshotNotFound(f"no CLV snapshot values customer {customer_id}")
    return found
