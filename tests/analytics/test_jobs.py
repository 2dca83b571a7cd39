"""The nightly refresh: every snapshot kind, the predictive analytics and the objectives'
evaluations for the last midnight; an analytic that lacks data is recorded, never fatal."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Connection, select

from fidela.analytics import snapshots
from fidela.analytics.jobs import (
    ANALYTICS,
    REFRESH_KIND,
    REFRESH_TOPIC,
    nightly_as_of,
    refresh_all,
)
from fidela.analytics.models import AnalyticsSnapshot
from fidela.analytics.objectives import service as objectives
from fidela.analytics.objectives.models import AnalyticsObjectiveEvaluation
from fidela.analytics.objectives.rules import ObjectiveDraft
from fidela.kernel.errors import InvalidInput
from fidela.platform.db import Database
from fidela.platform.outbox.registry import JobContext
from tests.analytics.seed import Seed
from tests.analytics.test_cohorts_and_kpis import history

NOW = datetime(2026, 4, 1, 3, tzinfo=UTC)
AS_OF = datetime(2026, 4, 1, tzinfo=UTC)
OBJECTIVE = ObjectiveDraft(
    name="More active members",
    kpi="active_member_rate",
    baseline=0.3,
    target=0.8,
    start=date(2026, 1, 1),
    deadline=date(2026, 6, 30),
)


def run(database: Database, payload: dict[str, object] | None = None) -> None:
    refresh_all(JobContext(1, REFRESH_TOPIC, "k", 1, NOW, database), payload or {})


def stored(database: Database) -> dict[str, AnalyticsSnapshot]:
    with database.read() as session:
        rows = session.scalars(select(AnalyticsSnapshot)).all()
    assert {row.as_of for row in rows} == {AS_OF}
    return {row.kind: row for row in rows}


def buyers(count: int) -> Seed:
    """``count`` customers with varied purchase rates, lifetimes and baskets over 2025 and
    early 2026 (seeded): enough history and variation for churn, personas,
    recommendations and CLV to fit."""
    rng = random.Random(7)
    seed = Seed()
    end = datetime(2026, 3, 31, tzinfo=UTC)
    for n in range(count):
        label = f"b{n}"
        seed.customer(label, "2024-12-01")
        interval = rng.choice([12, 25, 40, 70, 120])
        basket = rng.gammavariate(2.0, 1500.0)  # spend varies between customers
        day = datetime(2025, 1, 1, 10, tzinfo=UTC) + timedelta(days=rng.randint(0, 200))
        stop = day + timedelta(days=rng.randint(30, 480))
        while day < min(stop, end):
            seed.order(
                label,
                day.isoformat(timespec="minutes"),
                round(basket * rng.uniform(0.7, 1.3)) + 100,
            )
            day += timedelta(days=max(1, round(interval * rng.uniform(0.3, 1.7))))
    return seed


def test_the_night_stores_every_analytic_and_evaluates_the_objectives(
    connection: Connection, database: Database
) -> None:
    buyers(40).insert(connection)
    with database.write() as session:
        objective = objectives.create_objective(session, draft=OBJECTIVE, now=NOW)
    run(database)
    run(database)  # at least once delivery: a replay replaces, never duplicates
    kinds = stored(database)
    assert set(kinds) == {*(k.value for k in snapshots.SnapshotKind), "churn", "recommend",
                          "personas", "clv", REFRESH_KIND}  # fmt: skip
    outcomes = kinds[REFRESH_KIND].payload["analytics"]
    assert set(outcomes) == set(ANALYTICS)  # JSONB keeps no key order
    assert {name: o["status"] for name, o in outcomes.items()} == dict.fromkeys(ANALYTICS, "stored")
    with database.read() as session:
        evaluations = session.scalars(select(AnalyticsObjectiveEvaluation)).all()
    assert [(e.objective_id, e.as_of) for e in evaluations] == [(objective.id, AS_OF)]


def test_a_night_without_enough_history_for_churn_still_stores_the_rest(
    connection: Connection, database: Database
) -> None:
    history().insert(connection)  # five customers over three months
    with database.write() as session:
        objective = objectives.create_objective(session, draft=OBJECTIVE, now=NOW)
    run(database)
    kinds = stored(database)
    outcomes = kinds[REFRESH_KIND].payload["analytics"]
    assert outcomes["churn"]["status"] == "skipped"
    assert outcomes["churn"]["code"] == "churn_data_insufficient"
    assert "churn" not in kinds
    assert {k.value for k in snapshots.SnapshotKind} <= set(kinds)
    assert outcomes["objectives"]["status"] == "stored"
    with database.read() as session:
        (evaluation,) = objectives.evaluation_history(session, objective_id=objective.id)
    assert evaluation.progress == pytest.approx(0.6)  # (0.6 - 0.3) / (0.8 - 0.3)


def test_the_night_evaluates_only_objectives_that_are_due(
    connection: Connection, database: Database
) -> None:
    history().insert(connection)
    with database.write() as session:
        later = objectives.create_objective(
            session,
            draft=replace(OBJECTIVE, start=date(2026, 5, 1), deadline=date(2026, 9, 30)),
            now=NOW,
        )
        gone = objectives.create_objective(session, draft=OBJECTIVE, now=NOW)
        objectives.archive_objective(session, objective_id=gone.id, now=NOW)
    run(database, {"kinds": ["objectives"]})
    with database.read() as session:
        assert session.scalars(select(AnalyticsObjectiveEvaluation)).all() == []
    assert later.id != gone.id


def test_an_unknown_analytic_in_the_payload_is_refused(database: Database) -> None:
    with pytest.raises(InvalidInput, match="horoscope"):
        run(database, {"kinds": ["horoscope"]})
    assert nightly_as_of(NOW) == AS_OF.replace(tzinfo=None)
