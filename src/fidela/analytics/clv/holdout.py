"""Calibration/holdout check: what the model predicted for the holdout against what happened.

Customers are grouped by their calibration frequency (0, 1, ..., 6, 7+ as in the CDNOW
studies); per group the report gives the mean actual and the mean predicted number of purchase
days in the holdout (purchase models) or the mean actual and predicted spend per purchase day
(Gamma-Gamma, customers who bought in both periods).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fidela.analytics.clv.gammagamma import GammaGammaFit
from fidela.analytics.clv.optimise import FloatArray
from fidela.analytics.clv.summary import CustomerSummary, Holdout
from fidela.analytics.clv.value import PurchaseModel

TOP_BUCKET = 7


@dataclass(frozen=True)
class HoldoutBucket:
    frequency: str  # calibration frequency: "0".."6" or "7+"
    customers: int
    actual: float
    predicted: float


@dataclass(frozen=True)
class HoldoutReport:
    measure: str  # "purchases" (per customer over the holdout) or "spend" (per purchase day)
    holdout_length: float
    time_unit: str
    holdout_end: str
    customers: int
    actual: float
    predicted: float
    buckets: list[HoldoutBucket]

    def as_dict(self) -> dict[str, Any]:
        return {
            "measure": self.measure,
            "holdout_length": self.holdout_length,
            "time_unit": self.time_unit,
            "holdout_end": self.holdout_end,
            "customers": self.customers,
            "actual_mean": self.actual,
            "predicted_mean": self.predicted,
            "buckets": [
                {
                    "frequency": b.frequency,
                    "customers": b.customers,
                    "actual_mean": b.actual,
                    "predicted_mean": b.predicted,
                }
                for b in self.buckets
            ],
        }


def _buckets(
    frequency: FloatArray, actual: FloatArray, predicted: FloatArray
) -> list[HoldoutBucket]:
    group = np.minimum(frequency, TOP_BUCKET).astype(np.int64)
    rows = []
    for value in range(TOP_BUCKET + 1):
        members = group == value
        count = int(members.sum())
        if count == 0:
            continue
        rows.append(
            HoldoutBucket(
                f"{value}+" if value == TOP_BUCKET else str(value),
                count,
                float(actual[members].mean()),
                float(predicted[members].mean()),
            )
        )
    return rows


def purchases_report(
    model: PurchaseModel, calibration: CustomerSummary, holdout: Holdout
) -> HoldoutReport:
    """Predicted (conditional expectation over the holdout length) vs actual purchase days."""
    x = calibration.frequency.astype(np.float64)
    predicted = model.expected_purchases(holdout.length, x, calibration.recency, calibration.T)
    actual = holdout.frequency.astype(np.float64)
    return HoldoutReport(
        "purchases",
        holdout.length,
        calibration.time_unit,
        holdout.end.isoformat(),
        calibration.size,
        float(actual.mean()) if actual.size else 0.0,
        float(predicted.mean()) if predicted.size else 0.0,
        _buckets(x, actual, predicted),
    )


def spend_report(
    model: GammaGammaFit, calibration: CustomerSummary, holdout: Holdout
) -> HoldoutReport:
    """Predicted (Gamma-Gamma conditional mean) vs actual mean spend per holdout purchase day,
    for customers with a paid repeat purchase in calibration and a purchase in the holdout."""
    both = (calibration.frequency > 0) & (calibration.monetary > 0) & (holdout.frequency > 0)
    x = calibration.frequency[both].astype(np.float64)
    predicted = model.expected_spend(x, calibration.monetary[both])
    actual = holdout.monetary[both]
    return HoldoutReport(
        "spend",
        holdout.length,
        calibration.time_unit,
        holdout.end.isoformat(),
        int(both.sum()),
        float(actual.mean()) if actual.size else 0.0,
        float(predicted.mean()) if predicted.size else 0.0,
        _buckets(x, actual, predicted),
    )
