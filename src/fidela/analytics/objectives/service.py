"""SMART objective use cases: define, change (compare-and-set), archive, evaluate, read.

Definitions are checked by ``rules.check_objective``; the KPI's history for the baseline and
the achievability check is read from the newest stored KPI snapshot with the objective's
period and segmentation (a read: defining an objective never runs an engine). Evaluation
computes the KPI series with ``kpis.kpi_report`` on the caller's sources (one report per
period, segmentation and currency, however many objectives share them) and stores one row
per objective and as_of, replacing an earlier one.

The engine modules (Ibis, DuckDB) are imported by the functions that compute, so the API and
the worker start without them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from fidela.analytics import repository as snapshot_repository
from fidela.analytics.objectives import repository
from fidela.analytics.objectives.models import AnalyticsObjective, AnalyticsObjectiveEvaluation
from fidela.analytics.objectives.rules import (
    Direction,
    Evaluation,
    Objective,
    ObjectiveArchived,
    ObjectiveDraft,
    ObjectiveVersionConflict,
    check_objective,
    evaluate,
    needs_evaluation,
    periods_to_compute,
)
from fidela.analytics.rules import Kpi, Period, SegmentBy, next_period, period_start
from fidela.kernel.errors import DomainError
from fidela.platform.db import Database

if TYPE_CHECKING:
    from fidela.analytics.sources import Sources

KPIS_KIND = "kpis"
HISTORY_LIMIT = 100
_SNAPSHOTS_SCANNED = 200


# --- reading -------------------------------------------------------------------------------


def objective_of(row: AnalyticsObjective) -> Objective:
    """The rules' value of a stored objective."""
    return Objective(
        name=row.name,
        description=row.description,
        kpi=Kpi(row.kpi),
        segment_by=SegmentBy(row.segment_by),
        segment=row.segment,
        period=Period(row.period),
        baseline=row.baseline,
        baseline_date=row.baseline_date,
        target=row.target,
        direction=Direction(row.direction),
        start=row.start_date,
        deadline=row.deadline,
        currency=row.currency,
    )


def get_objective(session: Session, *, objective_id: int) -> AnalyticsObjective:
    return repository.get_objective(session, objective_id)


def list_objectives(
    session: Session, *, include_archived: bool = False, after_id: int = 0, limit: int = 50
) -> Sequence[AnalyticsObjective]:
    return repository.list_objectives(
        session, include_archived=include_archived, after_id=after_id, limit=limit
    )


def evaluation_history(
    session: Session, *, objective_id: int, limit: int = HISTORY_LIMIT
) -> Sequence[AnalyticsObjectiveEvaluation]:
    """The objective's evaluations, newest first (raises if the objective does not exist)."""
    repository.get_objective(session, objective_id)
    return repository.list_evaluations(session, objective_id=objective_id, limit=limit)


# --- KPI history from the stored snapshots -------------------------------------------------


@dataclass(frozen=True)
class KpiHistory:
    """Complete periods of a KPI for a segment before an objective's start."""

    values: list[tuple[date, float | None]] = field(default_factory=list)
    snapshot_as_of: datetime | None = None

    def latest(self) -> tuple[date, float] | None:
        known = [(day, value) for day, value in self.values if value is not None]
        return known[-1] if known else None


def kpi_history(session: Session, draft: ObjectiveDraft) -> KpiHistory:
    """The draft's KPI per complete period before its start, from the newest KPI snapshot
    computed with its period and segmentation (and currency, when the draft names one).
    Empty when no such snapshot exists or the draft names an unknown KPI."""
    try:
        period = Period(draft.period)
    except ValueError:
        return KpiHistory()
    first = period_start(draft.start, period)
    for snapshot in snapshot_repository.list_snapshots(
        session, kind=KPIS_KIND, limit=_SNAPSHOTS_SCANNED
    ):
        params, payload = snapshot.params, snapshot.payload
        if (
            params.get("period") != draft.period
            or params.get("segment_by") != draft.segment_by
            or draft.kpi not in params.get("kpis", [])
            or (draft.currency is not None and payload.get("currency") != draft.currency)
        ):
            continue
        cut = snapshot.as_of.astimezone(UTC).date()
        values = sorted(
            (day, row.get(draft.kpi))
            for row in payload.get("series", [])
            if row.get("segment") == draft.segment
            for day in [date.fromisoformat(row["period_start"])]
            if day < first and next_period(day, period) <= cut
        )
        return KpiHistory(values, snapshot.as_of)
    return KpiHistory()


def _with_history(session: Session, draft: ObjectiveDraft) -> tuple[ObjectiveDraft, KpiHistory]:
    """The draft with its baseline taken from the KPI history when none was given."""
    history = kpi_history(session, draft)
    if draft.baseline is None:
        latest = history.latest()
        if latest is not None:
            draft = replace(draft, baseline=latest[1], baseline_date=latest[0])
    return draft, history


# --- writing -------------------------------------------------------------------------------


def create_objective(
    session: Session, *, draft: ObjectiveDraft, now: datetime
) -> AnalyticsObjective:
    """Check and store an objective. Without a baseline, the KPI's last complete period
    before the start in the newest matching KPI snapshot is the baseline."""
    draft, history = _with_history(session, draft)
    checked = check_objective(draft, today=now.astimezone(UTC).date(), history=_values(history))
    goal = checked.objective
    return repository.add_objective(
        session,
        AnalyticsObjective(
            name=goal.name,
            description=goal.description,
            kpi=goal.kpi.value,
            segment_by=goal.segment_by.value,
            segment=goal.segment,
            period=goal.period.value,
            baseline=goal.baseline,
            baseline_date=goal.baseline_date,
            target=goal.target,
            direction=goal.direction.value,
            start_date=goal.start,
            deadline=goal.deadline,
            currency=goal.currency,
            warnings=checked.warnings,
            version=1,
            archived=False,
            created_at=now,
            updated_at=now,
        ),
    )


def _values(history: KpiHistory) -> list[float | None]:
    return [value for _, value in history.values]


EDITABLE = ("name", "description", "target", "deadline", "baseline", "baseline_date")


def update_objective(
    session: Session,
    *,
    objective_id: int,
    expected_version: int,
    changes: dict[str, Any],
    now: datetime,
) -> AnalyticsObjective:
    """Change the editable fields (``EDITABLE``) if the objective is still at
    ``expected_version``; the whole objective is checked again (the deadline against today
    only when it changes). The KPI, segment, period and start are fixed: changing them would
    make the evaluation history about something else, so that is a new objective."""
    row = repository.get_objective(session, objective_id)
    if row.archived:
        raise ObjectiveArchived(f"objective {objective_id} is archived")
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise ValueError(f"not editable: {', '.join(unknown)}")  # the schemas forbid them
    draft = ObjectiveDraft(
        name=changes.get("name", row.name),
        description=changes.get("description", row.description),
        kpi=row.kpi,
        segment_by=row.segment_by,
        segment=row.segment,
        period=row.period,
        target=changes.get("target", row.target),
        baseline=changes.get("baseline", row.baseline),
        baseline_date=changes.get("baseline_date", row.baseline_date),
        start=row.start_date,
        deadline=changes.get("deadline", row.deadline),
        currency=row.currency,
    )
    history = kpi_history(session, draft)
    today = now.astimezone(UTC).date() if "deadline" in changes else None
    checked = check_objective(draft, today=today, history=_values(history))
    goal = checked.objective
    values = {
        "name": goal.name,
        "description": goal.description,
        "target": goal.target,
        "baseline": goal.baseline,
        "baseline_date": goal.baseline_date,
        "direction": goal.direction.value,
        "deadline": goal.deadline,
        "warnings": checked.warnings,
        "updated_at": now,
    }
    if not repository.update_objective_if_version(
        session, objective_id=objective_id, expected_version=expected_version, values=values
    ):
        raise ObjectiveVersionConflict(
            f"objective {objective_id} is at version {row.version}, not {expected_version}"
        )
    session.refresh(row)
    return row


def archive_objective(session: Session, *, objective_id: int, now: datetime) -> AnalyticsObjective:
    """Archive: the objective and its history stay readable; the nightly job stops
    evaluating it. Archiving twice changes nothing."""
    row = repository.get_objective(session, objective_id)
    if not row.archived:
        row.archived = True
        row.version += 1
        row.updated_at = now
        session.flush()
    return row


# --- evaluating ----------------------------------------------------------------------------


def _report_currency(sources: Sources, as_of: datetime, currency: str | None) -> str | None:
    # One place decides the currency of a KPI report (the only one orders use, or a clear
    # error naming them): the same rule as the stored KPI snapshots.
    from fidela.analytics.service import _currency

    return _currency(sources, as_of, currency)


def compute_evaluations(
    sources: Sources, objectives: dict[int, Objective], *, as_of: datetime
) -> dict[int, Evaluation | DomainError]:
    """Evaluate ``objectives`` as of ``as_of`` (naive UTC): one KPI report per (period,
    segmentation, currency) group. A domain error (orders in several currencies and no
    currency named) is that group's answer; the other groups still run."""
    from fidela.analytics.kpis import kpi_report
    from fidela.analytics.snapshots import series_of

    groups: dict[tuple[Period, SegmentBy, str | None], list[int]] = defaultdict(list)
    for objective_id, goal in objectives.items():
        groups[(goal.period, goal.segment_by, goal.currency)].append(objective_id)
    results: dict[int, Evaluation | DomainError] = {}
    for (period, segment_by, currency), ids in groups.items():
        members = [objectives[i] for i in ids]
        try:
            report = kpi_report(
                sources,
                as_of,
                period=period,
                periods=max(periods_to_compute(goal, as_of) for goal in members),
                segment_by=segment_by,
                kpis=sorted({goal.kpi for goal in members}, key=lambda k: k.value),
                currency=_report_currency(sources, as_of, currency),
            )
        except DomainError as error:
            results.update(dict.fromkeys(ids, error))
            continue
        for objective_id, goal in zip(ids, members, strict=True):
            series = series_of(report, goal.kpi, goal.segment)
            results[objective_id] = evaluate(goal, series, as_of=as_of)
    return results


def store_evaluation(
    session: Session,
    *,
    objective_id: int,
    evaluation: Evaluation,
    engine: str,
    now: datetime,
) -> AnalyticsObjectiveEvaluation:
    return repository.replace_evaluation(
        session,
        AnalyticsObjectiveEvaluation(
            objective_id=objective_id,
            as_of=evaluation.as_of.replace(tzinfo=UTC),
            value=evaluation.value,
            value_period=evaluation.value_period,
            progress=evaluation.progress,
            progress_clamped=evaluation.progress_clamped,
            forecast=evaluation.forecast,
            forecast_reason=evaluation.forecast_reason,
            status=evaluation.status.value,
            status_reason=evaluation.status_reason[:300],
            series=[
                {"period_start": p.period_start.isoformat(), "value": p.value}
                for p in evaluation.points
            ],
            engine=engine,
            computed_at=now,
        ),
    )


def evaluate_objective(
    database: Database,
    sources: Sources,
    *,
    objective_id: int,
    as_of: datetime,
    now: datetime,
) -> AnalyticsObjectiveEvaluation:
    """Evaluate one objective as of ``as_of`` (naive UTC) and store the result (replacing
    an evaluation with the same as_of). Computes outside any transaction, stores in a short
    one; a domain error (unknown objective, archived, ambiguous currency) is raised."""
    with database.read() as session:
        row = repository.get_objective(session, objective_id)
        if row.archived:
            raise ObjectiveArchived(f"objective {objective_id} is archived")
        goal = objective_of(row)
    result = compute_evaluations(sources, {objective_id: goal}, as_of=as_of)[objective_id]
    if isinstance(result, DomainError):
        raise result
    with database.write() as session:
        return store_evaluation(
            session,
            objective_id=objective_id,
            evaluation=result,
            engine=sources.engine.value,
            now=now,
        )


@dataclass(frozen=True)
class EvaluationRun:
    evaluated: dict[int, str]  # objective id -> status
    skipped: list[int]  # not started, or its deadline's period already judged
    failed: dict[int, str]  # objective id -> the problem


def evaluate_due_objectives(
    database: Database, sources: Sources, *, as_of: datetime, now: datetime
) -> EvaluationRun:
    """The nightly evaluation of every active objective that ``needs_evaluation``; one
    objective's domain error is recorded in the run, the others are stored."""
    with database.read() as session:
        rows = repository.list_objectives(session, include_archived=False)
        goals = {row.id: objective_of(row) for row in rows}
        last = repository.last_evaluated(session, list(goals))
    due = {
        i: goal
        for i, goal in goals.items()
        if needs_evaluation(
            goal, as_of, None if i not in last else last[i].astimezone(UTC).replace(tzinfo=None)
        )
    }
    skipped = sorted(set(goals) - set(due))
    results = compute_evaluations(sources, due, as_of=as_of) if due else {}
    evaluated: dict[int, str] = {}
    failed: dict[int, str] = {}
    with database.write() as session:
        for objective_id, result in sorted(results.items()):
            if isinstance(result, DomainError):
                failed[objective_id] = f"{result.code}: {result.detail}"
                continue
            store_evaluation(
                session,
                objective_id=objective_id,
                evaluation=result,
                engine=sources.engine.value,
                now=now,
            )
            evaluated[objective_id] = result.status.value
    return EvaluationRun(evaluated, skipped, failed)
