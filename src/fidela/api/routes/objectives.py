"""SMART objectives: a target on a KPI for a segment by a deadline, evaluated with progress,
a linear forecast and a status (the nightly job evaluates every active objective)."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from fidela.access.rules import Principal
from fidela.analytics import rules
from fidela.analytics.objectives import service
from fidela.analytics.objectives.rules import ObjectiveDraft
from fidela.analytics.objectives.schemas import (
    Objective,
    ObjectiveCreate,
    ObjectiveDetail,
    ObjectiveEvaluation,
    ObjectivePage,
    ObjectiveUpdate,
)
from fidela.api.deps import DatabaseDep, NowDep, scoped
from fidela.api.errors import PROBLEM_RESPONSES
from fidela.api.pagination import decode_cursor, encode_cursor

router = APIRouter(
    prefix="/v1/analytics/objectives", tags=["Analytics"], responses=PROBLEM_RESPONSES
)
Read = Annotated[Principal, Depends(scoped("analytics:read"))]
Write = Annotated[Principal, Depends(scoped("analytics:write"))]
Limit = Annotated[int, Query(ge=1, le=500)]


def _after(cursor: str | None) -> int:
    if not cursor:
        return 0
    value = decode_cursor(cursor).get("after", 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


@router.post("", status_code=201, response_model=Objective, summary="Define a SMART objective")
def create_objective(
    payload: ObjectiveCreate, _: Write, database: DatabaseDep, now: NowDep
) -> Objective:
    """Checked for SMART-ness: a known KPI and segment, a target inside the KPI's range and
    different from the baseline, a deadline after the start and after today (problems point
    at the fields). A target far beyond the historical best is accepted with a warning."""
    draft = ObjectiveDraft(
        name=payload.name,
        description=payload.description,
        kpi=payload.kpi,
        segment_by=payload.segment_by,
        segment=payload.segment,
        period=payload.period,
        target=payload.target,
        baseline=payload.baseline,
        baseline_date=payload.baseline_date,
        start=payload.start or now.astimezone(UTC).date(),
        deadline=payload.deadline,
        currency=payload.currency,
    )
    with database.write() as session:
        return Objective.model_validate(service.create_objective(session, draft=draft, now=now))


@router.get("", response_model=ObjectivePage, summary="List objectives")
def list_objectives(
    _: Read,
    database: DatabaseDep,
    include_archived: bool = False,
    cursor: str | None = None,
    limit: Limit = 50,
) -> ObjectivePage:
    with database.read() as session:
        rows = service.list_objectives(
            session, include_archived=include_archived, after_id=_after(cursor), limit=limit
        )
        items = [Objective.model_validate(row) for row in rows]
    next_cursor = encode_cursor({"after": items[-1].id}) if len(items) == limit else None
    return ObjectivePage(items=items, next_cursor=next_cursor)


@router.get(
    "/{objective_id}",
    response_model=ObjectiveDetail,
    summary="An objective with its latest evaluation and history",
)
def get_objective(
    objective_id: int, _: Read, database: DatabaseDep, history: Limit = 100
) -> ObjectiveDetail:
    with database.read() as session:
        row = service.get_objective(session, objective_id=objective_id)
        evaluations = [
            ObjectiveEvaluation.model_validate(e)
            for e in service.evaluation_history(session, objective_id=objective_id, limit=history)
        ]
        objective = Objective.model_validate(row)
    return ObjectiveDetail(
        **objective.model_dump(),
        latest=evaluations[0] if evaluations else None,
        history=evaluations,
    )


@router.patch("/{objective_id}", response_model=Objective, summary="Change an objective")
def update_objective(
    objective_id: int, payload: ObjectiveUpdate, _: Write, database: DatabaseDep, now: NowDep
) -> Objective:
    """Compare-and-set on ``version``: 409 if the objective changed since you read it."""
    changes = payload.model_dump(exclude_unset=True, exclude={"version"})
    changes = {key: value for key, value in changes.items() if value is not None}
    with database.write() as session:
        row = service.update_objective(
            session,
            objective_id=objective_id,
            expected_version=payload.version,
            changes=changes,
            now=now,
        )
        return Objective.model_validate(row)


@router.delete("/{objective_id}", response_model=Objective, summary="Archive an objective")
def archive_objective(objective_id: int, _: Write, database: DatabaseDep, now: NowDep) -> Objective:
    """The objective and its history stay readable; it is no longer evaluated nightly."""
    with database.write() as session:
        row = service.archive_objective(session, objective_id=objective_id, now=now)
        return Objective.model_validate(row)


@router.post(
    "/{objective_id}/evaluate",
    response_model=ObjectiveEvaluation,
    summary="Evaluate an objective now",
)
def evaluate_objective(
    objective_id: int,
    _: Write,
    database: DatabaseDep,
    now: NowDep,
    as_of: Annotated[
        str | None,
        Query(
            description="YYYY-MM-DD (midnight UTC) or an ISO datetime with offset; "
            "default: the last midnight UTC",
            examples=["2026-11-22"],
        ),
    ] = None,
) -> ObjectiveEvaluation:
    """Computes the KPI series on the deployment's engine (this request runs the analytic,
    unlike the snapshot reads) and stores the evaluation, replacing one with the same as_of."""
    # The engines load on first use: the API starts without them.
    from fidela.analytics import service as analytics

    when = (
        datetime.combine(now.astimezone(UTC).date(), time())
        if as_of is None
        else rules.parse_as_of(as_of, pointer="/as_of")
    )
    with database.read() as session:
        service.get_objective(session, objective_id=objective_id)  # 404 before any export
    engine = analytics.default_engine(database)
    with analytics.open_sources(database, engine) as sources:
        stored = service.evaluate_objective(
            database, sources, objective_id=objective_id, as_of=when, now=now
        )
    return ObjectiveEvaluation.model_validate(stored)
