"""Scoring a probabilistic classifier: ROC AUC, Brier score and reliability bins."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.metrics import roc_auc_score


@dataclass(frozen=True)
class ReliabilityBin:
    """Customers whose predicted risk fell in ``[low, high)``: mean prediction vs outcome."""

    low: float
    high: float
    count: int
    mean_predicted: float
    observed_rate: float


@dataclass(frozen=True)
class Calibration:
    auc: float
    brier: float
    ece: float  # expected calibration error: bin-size weighted mean |predicted - observed|
    base_rate: float
    count: int
    bins: tuple[ReliabilityBin, ...]


def auc(labels: npt.NDArray[np.int64], scores: npt.NDArray[np.float64]) -> float:
    """ROC AUC; ties count half (so a constant score is 0.5). Needs both classes."""
    if len(np.unique(labels)) < 2:
        raise ValueError("AUC needs both churned and retained customers in the evaluation set")
    return float(roc_auc_score(labels, scores))


def calibration(
    labels: npt.NDArray[np.int64], probabilities: npt.NDArray[np.float64], *, bins: int = 10
) -> Calibration:
    """AUC, Brier score and ``bins`` equal-width reliability bins (empty bins are left out)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.searchsorted(edges, probabilities, side="right") - 1, 0, bins - 1)
    rows = []
    for b in range(bins):
        mask = index == b
        if mask.any():
            rows.append(
                ReliabilityBin(
                    low=float(edges[b]),
                    high=float(edges[b + 1]),
                    count=int(mask.sum()),
                    mean_predicted=float(probabilities[mask].mean()),
                    observed_rate=float(labels[mask].mean()),
                )
            )
    return Calibration(
        auc=auc(labels, probabilities),
        brier=float(np.mean((probabilities - labels) ** 2)),
        ece=float(
            sum(b.count * abs(b.mean_predicted - b.observed_rate) for b in rows)
            / max(labels.size, 1)
        ),
        base_rate=float(labels.mean()),
        count=int(labels.size),
        bins=tuple(rows),
    )
