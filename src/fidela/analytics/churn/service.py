"""Churn snapshots: score every buyer as of a date, with reasons, warnings and a held-out
report, and store the result where the API and the segments read it.

Everything is computed from data strictly before ``as_of``: the held-out report trains as of
``as_of - 2 x horizon`` and is scored on ``[as_of - horizon, as_of)``; the serving model
trains as of ``as_of - horizon`` (labels up to ``as_of``) and scores the customers as of
``as_of``. A past ``as_of`` therefore reproduces what the model would have said that day.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from fidela.analytics import repository, rules
from fidela.analytics.churn.features import (
    FEATURES,
    BehaviourTables,
    behaviour_features,
    churn_labels,
)
from fidela.analytics.churn.model import (
    CustomerRisk,
    HoldoutReport,
    explain,
    holdout_report,
    train_model,
)
from fidela.analytics.churn.models import AnalyticsCustomerChurn
from fidela.analytics.churn.rules import DEFAULT_RULES, parse_rules
from fidela.analytics.models import AnalyticsSnapshot
from fidela.kernel.errors import FieldProblem, InvalidInput, NotFound

CHURN_KIND = rules.CHURN_KIND
_CHUNK = 10_000


class ChurnDataInsufficient(InvalidInput):
    code = "churn_data_insufficient"
    title = "Not enough history to train the churn model"


class ChurnSnapshotNotFound(NotFound):
    code = "churn_snapshot_not_found"
    title = "No churn snapshot"


def aware(as_of: datetime) -> datetime:
    """``as_of`` as an aware UTC instant (the analytics shells pass naive UTC)."""
    return as_of.replace(tzinfo=UTC) if as_of.tzinfo is None else as_of.astimezone(UTC)


def params_key(params: dict[str, Any]) -> str:
    text = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def store_snapshot(
    session: Session,
    *,
    kind: str,
    as_of: datetime,
    params: dict[str, Any],
    engine: str,
    payload: dict[str, Any],
    row_count: int,
    now: datetime,
    duration_ms: int,
    child: Any = None,
) -> AnalyticsSnapshot:
    """Store a snapshot, replacing the one with the same (kind, as_of, params); ``child`` is
    a per-customer table whose rows of the replaced snapshot go first (SQLite and PostgreSQL
    both cascade, but deleting them explicitly does not depend on the pragma)."""
    key = params_key(params)
    if child is not None:
        session.execute(
            delete(child).where(
                child.snapshot_id.in_(
                    select(AnalyticsSnapshot.id).where(
                        AnalyticsSnapshot.kind == kind,
                        AnalyticsSnapshot.as_of == aware(as_of),
                        AnalyticsSnapshot.params_key == key,
                    )
                )
            )
        )
    return repository.replace_snapshot(
        session,
        AnalyticsSnapshot(
            kind=kind,
            as_of=aware(as_of),
            params_key=key,
            params=params,
            engine=engine,
            payload=payload,
            row_count=row_count,
            computed_at=now,
            duration_ms=duration_ms,
        ),
    )


@dataclass(frozen=True)
class ChurnResult:
    as_of: datetime
    horizon_days: int
    risks: list[CustomerRisk]
    holdout: HoldoutReport | None
    holdout_problem: str | None


def compute_churn(
    tables: BehaviourTables,
    *,
    as_of: datetime,
    horizon_days: int = 90,
    rules_document: Any = None,
    seed: int = 0,
) -> ChurnResult:
    """Risks with reasons for every buyer as of ``as_of``, and the held-out report."""
    if horizon_days < 7:
        raise InvalidInput(
            "the churn horizon must be at least 7 days", [FieldProblem("/horizon_days", ">= 7")]
        )
    rules = parse_rules(DEFAULT_RULES if rules_document is None else rules_document, facts=FEATURES)
    when = aware(as_of)
    horizon = timedelta(days=horizon_days)
    report: HoldoutReport | None = None
    problem: str | None = None
    try:
        _, report = holdout_report(
            tables,
            train_as_of=when - 2 * horizon,
            test_as_of=when - horizon,
            rules=rules,
            horizon=horizon,
            seed=seed,
        )
    except ValueError as error:
        problem = str(error)
    train = behaviour_features(tables, as_of=when - horizon)
    labels = churn_labels(tables, train, horizon=horizon)
    try:
        model = train_model(train, labels, horizon=horizon, seed=seed)
    except ValueError as error:
        raise ChurnDataInsufficient(
            f"cannot train as of {(when - horizon).date()}: {error}",
            [FieldProblem("/as_of", "a date with at least one horizon of purchase history")],
        ) from None
    risks = explain(model, behaviour_features(tables, as_of=when), rules=rules, top=3)
    return ChurnResult(when, horizon_days, risks, report, problem)


def _holdout(report: HoldoutReport | None) -> dict[str, Any] | None:
    if report is None:
        return None
    return {
        "train_as_of": report.train_as_of.date().isoformat(),
        "test_as_of": report.test_as_of.date().isoformat(),
        "train_customers": report.train_customers,
        "customers": report.model.count,
        "auc": round(report.model.auc, 4),
        "rules_auc": round(report.rules_auc, 4),
        "brier": round(report.model.brier, 4),
        "ece": round(report.model.ece, 4),
        "base_rate": round(report.model.base_rate, 4),
        "reliability": [dataclasses.asdict(b) for b in report.model.bins],
        "feature_importance": {k: round(v, 4) for k, v in report.feature_importance.items()},
    }


def _reasons(risk: CustomerRisk) -> list[dict[str, Any]]:
    return [
        {
            "feature": r.feature,
            "value": None if r.value is None else round(r.value, 2),
            "contribution": round(r.contribution, 4),
        }
        for r in risk.reasons
    ]


def churn_payload(result: ChurnResult, *, top: int = 20) -> dict[str, Any]:
    risks = result.risks
    warned: dict[str, int] = {}
    for risk in risks:
        for reason in risk.warnings:
            warned[reason] = warned.get(reason, 0) + 1
    riskiest = sorted(risks, key=lambda r: (-r.risk, str(r.customer_id)))[:top]
    return {
        "as_of": result.as_of.date().isoformat(),
        "horizon_days": result.horizon_days,
        "customers": len(risks),
        "mean_risk": round(sum(r.risk for r in risks) / len(risks), 4) if risks else None,
        "at_risk": sum(1 for r in risks if r.risk >= 0.5),
        "warnings": warned,
        "holdout": _holdout(result.holdout),
        "holdout_problem": result.holdout_problem,
        "riskiest": [
            {
                "customer_id": r.customer_id,
                "risk": round(r.risk, 4),
                "reasons": _reasons(r),
                "warnings": list(r.warnings),
            }
            for r in riskiest
        ],
    }


def store_churn(
    session: Session,
    result: ChurnResult,
    *,
    params: dict[str, Any],
    engine: str,
    now: datetime,
    duration_ms: int,
) -> AnalyticsSnapshot:
    """Store the snapshot and one row per customer (integer customer ids only: those are the
    operational ones a segment can join)."""
    snapshot = store_snapshot(
        session,
        kind=CHURN_KIND,
        as_of=result.as_of,
        params=params,
        engine=engine,
        payload=churn_payload(result),
        row_count=len(result.risks),
        now=now,
        duration_ms=duration_ms,
        child=AnalyticsCustomerChurn,
    )
    rows = [
        {
            "snapshot_id": snapshot.id,
            "customer_id": int(r.customer_id),  # type: ignore[call-overload]
            "risk": r.risk,
            "warning_score": r.warning_score,
            "reasons": _reasons(r),
            "warnings": list(r.warnings),
        }
        for r in result.risks
    ]
    for start in range(0, len(rows), _CHUNK):
        session.execute(insert(AnalyticsCustomerChurn), rows[start : start + _CHUNK])
    return snapshot


def get_customer_churn(
    session: Session, *, customer_id: int
) -> tuple[AnalyticsSnapshot, AnalyticsCustomerChurn]:
    """A customer's row in the latest churn snapshot."""
    found = session.execute(
        select(AnalyticsSnapshot, AnalyticsCustomerChurn)
        .join(AnalyticsCustomerChurn, AnalyticsCustomerChurn.snapshot_id == AnalyticsSnapshot.id)
        .where(AnalyticsCustomerChurn.customer_id == customer_id)
        .order_by(AnalyticsSnapshot.as_of.desc(), AnalyticsSnapshot.id.desc())
        .limit(1)
    ).first()
    if found is None:
        raise ChurnSnapshotNotFound(f"no churn snapshot scores customer {customer_id}")
    return found[0], found[1]


class PredictionSnapshotNotFound(NotFound):
    code = "snapshot_not_found"
    title = "No snapshot"


def latest_snapshot(
    session: Session, *, kind: str, as_of: datetime | None = None
) -> AnalyticsSnapshot:
    """The snapshot of ``kind`` for ``as_of`` (the newest one when None)."""
    query = select(AnalyticsSnapshot).where(AnalyticsSnapshot.kind == kind)
    if as_of is not None:
        query = query.where(AnalyticsSnapshot.as_of == aware(as_of))
    found = session.scalars(
        query.order_by(AnalyticsSnapshot.as_of.desc(), AnalyticsSnapshot.id.desc()).limit(1)
    ).first()
    if found is None:
        raise PredictionSnapshotNotFound(
            f"no {kind} snapshot {'yet' if as_of is None else 'for that as_of'}; "
            f"'fidela analytics {kind} --as-of DATE' computes one"
        )
    return found
