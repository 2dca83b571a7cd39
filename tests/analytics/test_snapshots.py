"""Snapshots: computed once (by the job or the CLI), stored by as_of and parameters, served
by the API without recomputing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, func, select

from fidela.analytics import service, snapshots
from fidela.analytics.jobs import REFRESH_TOPIC, nightly_as_of, refresh_all
from fidela.analytics.models import AnalyticsCustomerRfm, AnalyticsSnapshot
from fidela.analytics.rules import SnapshotNotFound, parse_as_of
from fidela.platform.db import Database
from fidela.platform.outbox.registry import JobContext
from fidela.platform.settings import Settings
from fidela.worker.registry import build_registry
from tests.analytics.seed import Seed
from tests.analytics.test_cohorts_and_kpis import history
from tests.api.keys import issue
from tests.conftest import Clock

AS_OF = parse_as_of("2026-04-01")
NOW = datetime(2026, 4, 1, 3, tzinfo=UTC)


def store(
    database: Database, kind: snapshots.SnapshotKind, **params: object
) -> snapshots.SnapshotView:
    engine = service.default_engine(database)
    with service.open_sources(database, engine) as sources:
        return service.refresh_snapshot(
            database, sources, kind=kind, as_of=AS_OF, params=dict(params), now=NOW
        )


def test_recomputing_a_snapshot_replaces_it_and_its_customer_rows(
    connection: Connection, database: Database
) -> None:
    ids = history().insert(connection)
    first = store(database, snapshots.SnapshotKind.RFM)
    Seed(ids=ids).order("c", "2026-03-30T10:00", 5000).insert(connection)
    second = store(database, snapshots.SnapshotKind.RFM)
    assert first.payload != second.payload
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(AnalyticsSnapshot)) == 1
        assert session.scalar(select(func.count()).select_from(AnalyticsCustomerRfm)) == 5
        view, row = snapshots.get_customer_rfm(session, customer_id=ids["c"], as_of=AS_OF)
    assert view.row_count == 5
    assert (row.orders, row.total_minor) == (3, 5100)


def test_snapshots_are_kept_apart_by_parameters_and_as_of(
    connection: Connection, database: Database
) -> None:
    history().insert(connection)
    store(database, snapshots.SnapshotKind.KPIS, period="month")
    store(database, snapshots.SnapshotKind.KPIS, period="week", periods=4)
    with database.read() as session:
        weekly = snapshots.get_snapshot(
            session, kind=snapshots.SnapshotKind.KPIS, params={"period": "week", "periods": "4"}
        )
        assert weekly.payload["period"] == "week"
        assert len(weekly.payload["series"]) == 4
        with pytest.raises(SnapshotNotFound, match="for as_of 2026-03-01"):
            snapshots.get_snapshot(
                session, kind=snapshots.SnapshotKind.KPIS, as_of=parse_as_of("2026-03-01")
            )


def test_the_nightly_job_stores_every_analytic_for_the_last_midnight(
    connection: Connection, database: Database
) -> None:
    history().insert(connection)
    assert REFRESH_TOPIC in build_registry(Settings()).topics
    context = JobContext(1, REFRESH_TOPIC, "k", 1, NOW, database)
    refresh_all(context, {})
    refresh_all(context, {})  # at least once delivery: a replay replaces, never duplicates
    assert nightly_as_of(NOW) == AS_OF
    with database.read() as session:
        views = snapshots.list_snapshots(session, kind=None)
    # Every snapshot kind, once each (the predictive analytics: tests/analytics/test_jobs.py).
    kinds = [v.kind for v in views if v.kind in set(snapshots.SnapshotKind)]
    assert sorted(kinds) == sorted(k.value for k in snapshots.SnapshotKind)
    assert {v.as_of for v in views} == {AS_OF.replace(tzinfo=UTC)}


@pytest.fixture
def reader(make_client: Callable[..., TestClient], database: Database, clock: Clock) -> TestClient:
    client = make_client()
    client.headers.update(issue(database, clock, "analytics:read"))
    return client


def test_api_serves_the_stored_snapshot_without_recomputing(
    connection: Connection, database: Database, reader: TestClient
) -> None:
    ids = history().insert(connection)
    store(database, snapshots.SnapshotKind.RFM)
    store(database, snapshots.SnapshotKind.COHORTS)
    # New orders after the snapshot: the API still shows what was stored.
    Seed(ids=ids).order("a", "2026-03-31T10:00", 700).insert(connection)
    response = reader.get("/v1/analytics/rfm", params={"as_of": "2026-04-01"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["kind"], body["as_of"], body["row_count"]) == ("rfm", "2026-04-01", 5)
    assert body["payload"]["customers"] == 5
    assert body["payload"]["currency"] == "EUR"
    customer = reader.get(f"/v1/analytics/rfm/customers/{ids['a']}").json()
    assert (customer["orders"], customer["total_minor"]) == (3, 600)
    cohorts = reader.get("/v1/analytics/cohorts").json()
    assert cohorts["payload"]["cohorts"][0]["cohort"] == "2025-12"
    listed = reader.get("/v1/analytics/snapshots").json()["items"]
    assert {item["kind"] for item in listed} == {"rfm", "cohorts"}


@pytest.mark.parametrize(
    ("path", "params", "status", "pointer"),
    [
        ("/v1/analytics/rfm", {"as_of": "01/04/2026"}, 422, "/as_of"),
        ("/v1/analytics/kpis", {"kpis": "orders,nps_score"}, 422, "/kpis"),
        ("/v1/analytics/kpis", {"period": "fortnight"}, 422, "/period"),
        ("/v1/analytics/kpis", {"periods": "-2"}, 422, "/periods"),
        ("/v1/analytics/funnel", {"steps": "page.viewed"}, 422, "/steps"),
        ("/v1/analytics/snapshots", {"kind": "horoscope"}, 422, "/kind"),
    ],
)
def test_api_bad_parameters_are_problem_details_pointing_at_the_field(
    reader: TestClient, path: str, params: dict[str, str], status: int, pointer: str
) -> None:
    response = reader.get(path, params=params)
    assert response.status_code == status, response.text
    body = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert body["errors"][0]["pointer"] == pointer


def test_api_without_a_snapshot_is_a_404_that_says_how_to_get_one(reader: TestClient) -> None:
    response = reader.get("/v1/analytics/funnel", params={"as_of": "2026-04-01"})
    assert response.status_code == 404
    assert response.json()["code"] == "analytics_snapshot_not_found"
    assert "fidela analytics funnel" in response.json()["detail"]


def test_api_needs_the_analytics_scope(
    make_client: Callable[..., TestClient], database: Database, clock: Clock
) -> None:
    client = make_client()
    client.headers.update(issue(database, clock, "customers:read"))
    assert client.get("/v1/analytics/rfm").status_code == 403


def test_the_nightly_job_on_an_empty_database_stores_empty_snapshots(database: Database) -> None:
    refresh_all(JobContext(1, REFRESH_TOPIC, "k", 1, NOW, database), {"kinds": ["kpis", "funnel"]})
    with database.read() as session:
        kpis = snapshots.get_snapshot(session, kind=snapshots.SnapshotKind.KPIS)
        funnel = snapshots.get_snapshot(session, kind=snapshots.SnapshotKind.FUNNEL)
    assert kpis.payload["series"] == []
    assert [step["customers"] for step in funnel.payload["steps"]] == [0, 0, 0]
    assert funnel.payload["biggest_drop_off_at"] is None
