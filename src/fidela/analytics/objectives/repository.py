"""Objective storage: compare-and-set edits, replace-on-re-evaluation history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from fidela.analytics.objectives.models import AnalyticsObjective, AnalyticsObjectiveEvaluation
from fidela.analytics.objectives.rules import ObjectiveNotFound


def add_objective(session: Session, objective: AnalyticsObjective) -> AnalyticsObjective:
    session.add(objective)
    session.flush()
    return objective


def get_objective(session: Session, objective_id: int) -> AnalyticsObjective:
    found = session.get(AnalyticsObjective, objective_id)
    if found is None:
        raise ObjectiveNotFound(f"no objective {objective_id}")
    return found


def list_objectives(
    session: Session, *, include_archived: bool, after_id: int = 0, limit: int | None = None
) -> Sequence[AnalyticsObjective]:
    query = select(AnalyticsObjective).where(AnalyticsObjective.id > after_id)
    if not include_archived:
        query = query.where(AnalyticsObjective.archived.is_(False))
    query = query.order_by(AnalyticsObjective.id)
    if limit is not None:
        query = query.limit(limit)
    return session.scalars(query).all()


def update_objective_if_version(
    session: Session, *, objective_id: int, expected_version: int, values: dict[str, Any]
) -> bool:
    """Apply ``values`` and bump the version if the row is still at ``expected_version``."""
    result = session.execute(
        update(AnalyticsObjective)
        .where(
            AnalyticsObjective.id == objective_id,
            AnalyticsObjective.version == expected_version,
        )
        .values(**values, version=AnalyticsObjective.version + 1)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def replace_evaluation(
    session: Session, evaluation: AnalyticsObjectiveEvaluation
) -> AnalyticsObjectiveEvaluation:
    """Store ``evaluation``, replacing the one of the same objective and as_of."""
    session.execute(
        delete(AnalyticsObjectiveEvaluation).where(
            AnalyticsObjectiveEvaluation.objective_id == evaluation.objective_id,
            AnalyticsObjectiveEvaluation.as_of == evaluation.as_of,
        )
    )
    session.add(evaluation)
    session.flush()
    return evaluation


def list_evaluations(
    session: Session, *, objective_id: int, limit: int
) -> Sequence[AnalyticsObjectiveEvaluation]:
    """Newest first."""
    return session.scalars(
        select(AnalyticsObjectiveEvaluation)
        .where(AnalyticsObjectiveEvaluation.objective_id == objective_id)
        .order_by(AnalyticsObjectiveEvaluation.as_of.desc())
        .limit(limit)
    ).all()


def last_evaluated(session: Session, objective_ids: Sequence[int]) -> dict[int, datetime]:
    """The newest evaluation as_of of each objective that has one."""
    if not objective_ids:
        return {}
    rows = session.execute(
        select(
            AnalyticsObjectiveEvaluation.objective_id,
            func.max(AnalyticsObjectiveEvaluation.as_of),
        )
        .where(AnalyticsObjectiveEvaluation.objective_id.in_(list(objective_ids)))
        .group_by(AnalyticsObjectiveEvaluation.objective_id)
    )
    return {int(objective_id): as_of for objective_id, as_of in rows}
