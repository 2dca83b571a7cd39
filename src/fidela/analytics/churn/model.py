"""The churn model: gradient boosting on behaviour features, time-based training and reasons.

Training is time-based, never a random split: features as of ``T`` (everything before it) and
the label "no order in ``[T, T + horizon)``". The model is then judged on a *later* period,
features as of ``T2 >= T + horizon`` and the label of ``[T2, T2 + horizon)``, so no training
label overlaps anything the model is scored on, and the score is the one an operator would
see next quarter (`holdout_report`).

Reasons (`explain`): the contribution of feature ``j`` to a customer's risk is the risk minus
the risk with ``j`` set to its population baseline (the training median, "a typical
customer"), other features kept. It is exact for the model (no surrogate), costs one
prediction per feature, and reads as "this much of the risk comes from 240 days without an
order". Interactions are attributed to each feature taking part, so contributions need not
add up to the risk; the top reasons are the largest positive ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from fidela.analytics.churn.evaluation import Calibration, auc, calibration
from fidela.analytics.churn.features import (
    FEATURES,
    BehaviourTables,
    FeatureFrame,
    behaviour_features,
    churn_labels,
)
from fidela.analytics.churn.rules import WarningRule, evaluate_warnings

DEFAULT_HORIZON = timedelta(days=90)
# OpenMP threads for fitting and predicting. One by default: the models are small, and on a
# machine whose cores are busy (a worker next to the API) OpenMP's spin-waiting made a fit
# on 2,000 customers take 14.6 s instead of 0.7 s. Raise it for big batch runs.
THREADS = 1


@dataclass(frozen=True)
class Reason:
    feature: str
    value: float | None
    contribution: float  # risk points (0..1) this feature adds over the baseline


@dataclass(frozen=True)
class CustomerRisk:
    customer_id: object
    risk: float
    reasons: tuple[Reason, ...]
    warnings: tuple[str, ...]
    warning_score: float


@dataclass
class ChurnModel:
    """A fitted model with the baseline the reasons are measured from."""

    classifier: HistGradientBoostingClassifier
    baseline: npt.NDArray[np.float64]
    trained_as_of: datetime
    horizon: timedelta
    names: tuple[str, ...] = FEATURES
    train_size: int = 0
    train_churn_rate: float = 0.0
    threads: int = THREADS
    # Features with no value at all in training (no surveys in the source): fed as 0 so the
    # binning has something to cut; they then carry no information, as they should.
    blank: npt.NDArray[np.bool_] | None = None

    def predict(self, features: FeatureFrame) -> npt.NDArray[np.float64]:
        return self.predict_values(features.values)

    def predict_values(self, values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        if values.shape[0] == 0:
            return np.empty(0)
        values = _fill_blank(values, self.blank)
        with threadpool_limits(limits=self.threads, user_api="openmp"):
            return np.asarray(self.classifier.predict_proba(values)[:, 1], dtype=np.float64)


def _fill_blank(
    values: npt.NDArray[np.float64], blank: npt.NDArray[np.bool_] | None
) -> npt.NDArray[np.float64]:
    if blank is None or not blank.any():
        return values
    filled = values.copy()
    filled[:, blank] = 0.0
    return filled


def train_model(
    features: FeatureFrame,
    labels: npt.NDArray[np.int64],
    *,
    horizon: timedelta = DEFAULT_HORIZON,
    seed: int = 0,
    threads: int = THREADS,
) -> ChurnModel:
    """Fit the classifier on ``features`` (as of T) and ``labels`` (churned in the horizon)."""
    if len(np.unique(labels)) < 2:
        raise ValueError(
            "the training period needs both customers who bought again and customers who did "
            "not; pick an earlier as-of date or a longer horizon"
        )
    # Shallow trees, few leaves and a fixed seed: a small, stable model that cannot memorise a
    # few thousand customers; early stopping off so a fit is reproducible bit for bit.
    classifier = HistGradientBoostingClassifier(
        learning_rate=0.05,
        max_iter=200,
        max_leaf_nodes=15,
        min_samples_leaf=40,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=seed,
    )
    blank = np.all(np.isnan(features.values), axis=0)
    with threadpool_limits(limits=threads, user_api="openmp"):
        classifier.fit(_fill_blank(features.values, blank), labels)
    with np.errstate(all="ignore"):
        baseline = np.nanmedian(_fill_blank(features.values, blank), axis=0)
    return ChurnModel(
        classifier=classifier,
        baseline=baseline,
        trained_as_of=features.as_of,
        horizon=horizon,
        names=features.names,
        train_size=int(labels.size),
        train_churn_rate=float(labels.mean()),
        threads=threads,
        blank=blank,
    )


def contributions(model: ChurnModel, features: FeatureFrame) -> npt.NDArray[np.float64]:
    """(customers, features): risk minus risk with that feature at its baseline."""
    risk = model.predict(features)
    out = np.zeros_like(features.values)
    for j in range(features.values.shape[1]):
        altered = features.values.copy()
        altered[:, j] = model.baseline[j]
        out[:, j] = risk - model.predict_values(altered)
    return out


def explain(
    model: ChurnModel,
    features: FeatureFrame,
    *,
    rules: tuple[WarningRule, ...] = (),
    top: int = 3,
) -> list[CustomerRisk]:
    """Risk, top reasons (largest positive contributions) and early warnings per customer."""
    risk = model.predict(features)
    if risk.size == 0:
        return []
    contrib = contributions(model, features)
    order = np.argsort(-contrib, axis=1, kind="stable")[:, :top]
    results = []
    for row in range(risk.size):
        facts = features.facts(row)
        reasons = tuple(
            Reason(model.names[j], facts[model.names[j]], float(contrib[row, j]))
            for j in order[row]
            if contrib[row, j] > 0
        )
        warning = evaluate_warnings(rules, facts)
        results.append(
            CustomerRisk(
                customer_id=features.customer_ids[row],
                risk=float(risk[row]),
                reasons=reasons,
                warnings=warning.reasons,
                warning_score=warning.score,
            )
        )
    return results


def warning_scores(
    rules: tuple[WarningRule, ...], features: FeatureFrame
) -> npt.NDArray[np.float64]:
    """The rules-only score of every customer."""
    return np.fromiter(
        (
            evaluate_warnings(rules, features.facts(row)).score
            for row in range(len(features.values))
        ),
        dtype=np.float64,
        count=len(features.values),
    )


@dataclass(frozen=True)
class HoldoutReport:
    """How the model trained as of ``train_as_of`` does on the later period ``test_as_of``."""

    train_as_of: datetime
    test_as_of: datetime
    horizon_days: int
    train_customers: int
    model: Calibration
    rules_auc: float
    feature_importance: dict[str, float] = field(default_factory=dict)


def holdout_report(
    tables: BehaviourTables,
    *,
    train_as_of: datetime,
    test_as_of: datetime,
    rules: tuple[WarningRule, ...],
    horizon: timedelta = DEFAULT_HORIZON,
    seed: int = 0,
) -> tuple[ChurnModel, HoldoutReport]:
    """Train as of ``train_as_of``, evaluate as of ``test_as_of`` (a later period whose
    features and labels the training never saw), and score the rules on the same customers."""
    if test_as_of < train_as_of + horizon:
        raise ValueError(
            "the held-out period must start after the training labels end: "
            f"test as-of {test_as_of.date()} < train as-of {train_as_of.date()} + "
            f"{horizon.days} days"
        )
    train = behaviour_features(tables, as_of=train_as_of)
    model = train_model(
        train, churn_labels(tables, train, horizon=horizon), horizon=horizon, seed=seed
    )
    test = behaviour_features(tables, as_of=test_as_of)
    labels = churn_labels(tables, test, horizon=horizon)
    risk = model.predict(test)
    contrib = np.abs(contributions(model, test)).mean(axis=0)
    report = HoldoutReport(
        train_as_of=train_as_of,
        test_as_of=test_as_of,
        horizon_days=horizon.days,
        train_customers=model.train_size,
        model=calibration(labels, risk),
        rules_auc=auc(labels, warning_scores(rules, test)),
        feature_importance={
            name: float(value)
            for name, value in sorted(
                zip(model.names, contrib, strict=True), key=lambda item: -item[1]
            )
        },
    )
    return model, report
