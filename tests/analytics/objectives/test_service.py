"""Objectives on the tests/analytics seed history (monthly KPIs computed by hand in
tests/analytics/test_cohorts_and_kpis.py): definition from stored KPI snapshots, evaluation
with hand-computed progress and forecast, history, archive and compare-and-set edits."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Connection, func, select

from fidela.analytics import service as analytics
from fidela.analytics import snapshots
from fidela.analytics.objectives import service
from fidela.analytics.objectives.models import AnalyticsObjectiveEvaluation
from fidela.analytics.objectives.rules import (
    ObjectiveArchived,
    ObjectiveDraft,
    ObjectiveInvalid,
    ObjectiveNotFound,
    ObjectiveVersionConflict,
)
from fidela.analytics.rules import parse_as_of
from fidela.platform.db import Database
from tests.analytics.test_cohorts_and_kpis import history

AS_OF = parse_as_of("2026-04-01")
NOW = datetime(2026, 4, 1, 3, tzinfo=UTC)

# Seed history, all customers, per month (Jan, Feb, Mar 2026):
#   active_member_rate 0.4, 0.6, 0.6;  churn_rate 1.0, 0.5, 0.666667
#   vip revenue_minor 1000, 0, 1000
MEMBERS = ObjectiveDraft(
    name="More active members",
    kpi="active_member_rate",
    baseline=0.3,
    target=0.8,
    start=date(2026, 1, 1),
    deadline=date(2026, 6, 30),
)


def create(database: Database, draft: ObjectiveDraft) -> int:
    with database.write() as session:
        return service.create_objective(session, draft=draft, now=NOW).id


def evaluate(database: Database, objective_id: int) -> AnalyticsObjectiveEvaluation:
    with analytics.open_sources(database, analytics.default_engine(database)) as sources:
        return service.evaluate_objective(
            database, sources, objective_id=objective_id, as_of=AS_OF, now=NOW
        )


def test_evaluation_on_the_seed_history_gives_the_hand_computed_progress_and_forecast(
    connection: Connection, database: Database
) -> None:
    history().insert(connection)
    objective_id = create(database, MEMBERS)
    result = evaluate(database, objective_id)
    # Value 0.6 (March) from 0.3 to 0.8: (0.6 - 0.3) / 0.5 = 60 % of the way.
    assert (result.value, result.value_period) == (0.6, date(2026, 3, 1))
    assert result.progress == pytest.approx(0.6)
    # Line through (0, .4), (1, .6), (2, .6): .433333 + .1 i; June (i = 5) .933333.
    assert result.forecast == pytest.approx(0.933333)
    assert result.status == "on_track"
    assert result.series == [
        {"period_start": "2026-01-01", "value": 0.4},
        {"period_start": "2026-02-01", "value": 0.6},
        {"period_start": "2026-03-01", "value": 0.6},
    ]


def test_a_decreasing_churn_target_and_a_segment_objective_evaluate_in_one_run(
    connection: Connection, database: Database
) -> None:
    history().insert(connection)
    churn = create(
        database,
        replace(MEMBERS, name="Less churn", kpi="churn_rate", baseline=0.9, target=0.3),
    )
    vip = create(
        database,
        replace(
            MEMBERS,
            name="VIP revenue",
            kpi="revenue_minor",
            segment_by="value",
            segment="vip",
            baseline=500,
            target=3000,
        ),
    )
    with analytics.open_sources(database, analytics.default_engine(database)) as sources:
        run = service.evaluate_due_objectives(database, sources, as_of=AS_OF, now=NOW)
    assert run.evaluated == {churn: "on_track", vip: "off_track"}
    assert (run.skipped, run.failed) == ([], {})
    with database.read() as session:
        (falling,) = service.evaluation_history(session, objective_id=churn)
        (revenue,) = service.evaluation_history(session, objective_id=vip)
    # Churn 0.666667 from 0.9 to 0.3: 0.233333 / 0.6. Trend .888889 - .166667 i -> June .055556.
    assert falling.progress == pytest.approx(0.388888)
    assert falling.forecast == pytest.approx(0.055556, abs=1e-6)
    # VIP revenue 1000 from 500 to 3000: 20 %; flat trend at 666.67 covers 6.7 %: off track.
    assert revenue.progress == pytest.approx(0.2)
    assert revenue.forecast == pytest.approx(666.666667)


def test_re_evaluating_the_same_as_of_replaces_the_row(
    connection: Connection, database: Database
) -> None:
    history().insert(connection)
    objective_id = create(database, MEMBERS)
    evaluate(database, objective_id)
    evaluate(database, objective_id)
    with database.read() as session:
        count = session.scalar(select(func.count()).select_from(AnalyticsObjectiveEvaluation))
    assert count == 1


def test_the_baseline_and_the_stretch_flag_come_from_the_stored_kpi_snapshot(
    connection: Connection, database: Database
) -> None:
    history().insert(connection)
    with analytics.open_sources(database, analytics.default_engine(database)) as sources:
        analytics.refresh_snapshot(
            database,
            sources,
            kind=snapshots.SnapshotKind.KPIS,
            as_of=AS_OF,
            params={"periods": 3},
            now=NOW,
        )
    march = replace(MEMBERS, baseline=None, start=date(2026, 3, 1))
    with database.write() as session:
        fair = service.create_objective(session, draft=replace(march, target=0.85), now=NOW)
        stretch = service.create_objective(session, draft=replace(march, target=0.95), now=NOW)
    # History before March: 0.4, 0.6; the baseline is February's 0.6.
    assert (fair.baseline, fair.baseline_date, fair.warnings) == (0.6, date(2026, 2, 1), [])
    assert stretch.warnings == ["stretch: target 0.95 is above 1.5 x the historical best 0.6"]


def test_without_a_baseline_or_a_snapshot_the_problem_points_at_the_baseline(
    database: Database,
) -> None:
    with database.write() as session, pytest.raises(ObjectiveInvalid) as error:
        service.create_objective(session, draft=replace(MEMBERS, baseline=None), now=NOW)
    assert [p.pointer for p in error.value.problems] == ["/baseline"]


def test_edits_are_compare_and_set_and_archived_objectives_are_frozen(
    database: Database,
) -> None:
    objective_id = create(database, MEMBERS)
    with database.write() as session:
        row = service.update_objective(
            session,
            objective_id=objective_id,
            expected_version=1,
            changes={"target": 0.2},
            now=NOW,
        )
        assert (row.version, row.target, row.direction) == (2, 0.2, "decrease")
    with database.write() as session, pytest.raises(ObjectiveVersionConflict):
        service.update_objective(
            session, objective_id=objective_id, expected_version=1, changes={}, now=NOW
        )
    with database.write() as session, pytest.raises(ObjectiveInvalid) as error:
        service.update_objective(
            session,
            objective_id=objective_id,
            expected_version=2,
            changes={"deadline": date(2026, 3, 1)},
            now=NOW,
        )
    assert error.value.problems[0].pointer == "/deadline"
    with database.write() as session:
        archived = service.archive_objective(session, objective_id=objective_id, now=NOW)
        assert (archived.archived, archived.version) == (True, 3)
        assert service.list_objectives(session) == []
    with database.write() as session, pytest.raises(ObjectiveArchived):
        service.update_objective(
            session, objective_id=objective_id, expected_version=3, changes={}, now=NOW
        )
    with database.read() as session, pytest.raises(ObjectiveNotFound):
        service.get_objective(session, objective_id=objective_id + 1000)
