"""NPS, referrals, enrolment and programme ROI on a hand-built history with known answers, on
every engine (DuckDB always; PostgreSQL in place and Spark with FIDELA_TEST_DATABASE_URL)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Connection

from fidela.analytics import service, snapshots
from fidela.analytics.kpis import kpi_report
from fidela.analytics.rules import Kpi, Period, SegmentBy, parse_as_of
from fidela.platform.db import Database
from tests.analytics.conftest import SourcesFactory
from tests.analytics.seed import Seed
from tests.api.keys import issue
from tests.conftest import Clock

AS_OF = parse_as_of("2026-04-01")
JAN, FEB, MAR = "2026-01-01", "2026-02-01", "2026-03-01"


def programme_history(*, costs: bool = True) -> Seed:
    """Five customers; a, b and e become members (a in December, b on its first earning in
    February though its account was opened in March, e in programme ``partner`` in March).

    Revenue per month (members starred): Jan a*1000 b300 c200; Feb a*500 b*700 d400;
    Mar a*800 b*400 c300 d100 e*600. Points issued: Jan 100 main; Feb 120 main;
    Mar 120 main + 60 partner. Costs per point: main 0.5, partner 1.5 (EUR).
    """
    seed = Seed()
    for label in "abc":
        seed.customer(label, "2025-06-01")
    seed.customer("d", "2026-02-10").customer("e", "2026-03-15")
    if costs:
        seed.programme("main", "0.5").programme("partner", "1.5")
    for label, when, minor in (
        ("a", "2026-01-05T10:00", 1000),
        ("b", "2026-01-06T10:00", 300),
        ("c", "2026-01-07T10:00", 200),
        ("a", "2026-02-05T10:00", 500),
        ("b", "2026-02-06T10:00", 700),
        ("d", "2026-02-11T10:00", 400),
        ("a", "2026-03-05T10:00", 800),
        ("b", "2026-03-06T10:00", 400),
        ("c", "2026-03-07T10:00", 300),
        ("d", "2026-03-08T10:00", 100),
        ("e", "2026-03-25T10:00", 600),
    ):
        seed.order(label, when, minor)
    return (
        seed.enrol("a", "2025-12-20T09:00")
        .enrol("b", "2026-03-01T00:00")  # opened by a backfill after its first entry
        .enrol("e", "2026-03-20T10:00", programme="partner")
        .points("a", "earn", 100, "2026-01-05T10:00")
        .points("b", "earn", 70, "2026-02-06T10:00")
        .points("a", "earn", 50, "2026-02-05T10:00")
        .points("a", "spend", -30, "2026-02-20T10:00")  # not issued: costs nothing here
        .points("a", "earn", 80, "2026-03-05T10:00")
        .points("b", "earn", 40, "2026-03-06T10:00")
        .points("e", "earn", 60, "2026-03-20T10:00", programme="partner")
        # NPS: January 2 promoters, 1 detractor of 3; February 1 detractor, 1 passive of 2.
        .survey("a", 10, "2026-01-08T10:00")
        .survey("b", 9, "2026-01-09T10:00")
        .survey("c", 3, "2026-01-10T10:00")
        .survey("a", 7, "2026-02-08T10:00")
        .survey("b", 6, "2026-02-09T10:00")
        .survey("c", 5, "2026-02-10T10:00", survey="csat")  # another survey: left out
        .survey("d", 11, "2026-02-12T10:00")  # outside 0..10: left out
        .survey("e", 10, "2026-04-02T10:00")  # after as_of
        # Referrals: January a (twice) and c of 3 active; February b of 3 active (c invites
        # but bought nothing in February); conversions name the referee.
        .event("a", "referral.invited", "2026-01-11T10:00")
        .event("a", "referral.invited", "2026-01-12T10:00")
        .event("c", "referral.invited", "2026-01-13T10:00")
        .event("b", "referral.invited", "2026-02-13T10:00")
        .event("c", "referral.invited", "2026-02-14T10:00")
        .event("d", "referral.converted", "2026-02-15T10:00")
        .event("e", "referral.converted", "2026-03-26T10:00")
    )


PROGRAMME_KPIS = (
    Kpi.NPS,
    Kpi.NPS_ANSWERS,
    Kpi.REFERRAL_RATE,
    Kpi.REFERRALS_CONVERTED,
    Kpi.ENROLMENT_RATE,
    Kpi.MEMBER_ACTIVE_CUSTOMERS,
    Kpi.MEMBER_REVENUE,
    Kpi.NON_MEMBER_REVENUE,
    Kpi.PROGRAMME_COST,
    Kpi.PROGRAMME_ROI,
)


def monthly(make_sources: SourcesFactory, **options: Any) -> dict[str, dict[str, Any]]:
    report = kpi_report(make_sources(), AS_OF, period=Period.MONTH, periods=3, **options)
    return {row["period_start"]: row for row in report["series"] if row["segment"] == "all"}


def test_programme_kpis_match_the_hand_computed_answer(
    connection: Connection, make_sources: SourcesFactory
) -> None:
    programme_history().insert(connection)
    series = monthly(make_sources)
    # ROI: Jan (1000 - 1 x 500/2 - 50) / 50; Feb (1200 - 2 x 400/1 - 60) / 60;
    # Mar (1800 - 3 x 400/2 - (60 + 90)) / 150.
    expected = {
        JAN: (33.333333, 3, 0.666667, 0, 0.333333, 1, 1000, 500, 50, 14.0),
        FEB: (-50.0, 2, 0.333333, 1, 0.5, 2, 1200, 400, 60, 5.666667),
        MAR: (None, 0, 0.0, 1, 0.6, 3, 1800, 400, 150, 7.0),
    }
    for start, values in expected.items():
        assert tuple(series[start][kpi.value] for kpi in PROGRAMME_KPIS) == values, start
        assert series[start]["programme_roi_reason"] is None


def test_roi_without_a_configured_cost_is_null_with_the_reason(
    connection: Connection, make_sources: SourcesFactory
) -> None:
    programme_history(costs=False).insert(connection)
    series = monthly(make_sources, kpis=[Kpi.PROGRAMME_ROI, Kpi.PROGRAMME_COST])
    assert {start: row["programme_roi"] for start, row in series.items()} == {
        JAN: None,
        FEB: None,
        MAR: None,
    }
    assert series[JAN]["programme_cost_minor"] is None
    assert (
        series[JAN]["programme_roi_reason"] == "no cost per point configured for programme 'main'"
    )


def test_roi_refuses_a_programme_costing_points_in_another_currency(
    connection: Connection, make_sources: SourcesFactory
) -> None:
    seed = programme_history(costs=False).programme("main", "0.5").programme("partner", "1", "USD")
    seed.insert(connection)
    series = monthly(make_sources, kpis=[Kpi.PROGRAMME_ROI], currency="EUR")
    assert series[FEB]["programme_roi"] == 5.666667  # partner issued nothing in February
    assert series[MAR]["programme_roi"] is None
    assert series[MAR]["programme_roi_reason"] == (
        "programme 'partner' costs points in USD, the revenue is in EUR"
    )


def test_programme_kpis_per_value_segment_keep_segments_apart(
    connection: Connection, make_sources: SourcesFactory
) -> None:
    """a spends most (2300 of 6300): the top decile of five customers is a alone."""
    programme_history().insert(connection)
    report = kpi_report(
        make_sources(),
        AS_OF,
        periods=3,
        segment_by=SegmentBy.VALUE,
        kpis=[Kpi.NPS, Kpi.ENROLMENT_RATE, Kpi.PROGRAMME_ROI, Kpi.PROGRAMME_COST],
    )
    vip = {r["period_start"]: r for r in report["series"] if r["segment"] == "vip"}
    assert {start: row["nps"] for start, row in vip.items()} == {JAN: 100.0, FEB: 0.0, MAR: None}
    assert {start: row["enrolment_rate"] for start, row in vip.items()} == {
        JAN: 1.0,
        FEB: 1.0,
        MAR: 1.0,
    }
    # Only members among the VIPs: no non-members to compare with.
    assert vip[JAN]["programme_cost_minor"] == 50
    assert vip[JAN]["programme_roi"] is None
    assert vip[JAN]["programme_roi_reason"] == "no active non-members to compare the members with"


def test_enrolment_counts_a_member_from_the_period_they_became_a_customer(
    connection: Connection, make_sources: SourcesFactory
) -> None:
    """f's account was opened in January, before the signup date its profile carries."""
    seed = Seed().customer("a", "2025-06-01").customer("f", "2026-02-15")
    seed.enrol("f", "2026-01-20T10:00").insert(connection)
    series = monthly(make_sources, kpis=[Kpi.ENROLMENT_RATE])
    assert {start: row["enrolment_rate"] for start, row in series.items()} == {
        JAN: 0.0,
        FEB: 0.5,
        MAR: 0.5,
    }


def test_snapshots_hold_the_programme_kpis_and_the_api_serves_them(
    connection: Connection,
    database: Database,
    make_client: Callable[..., TestClient],
    clock: Clock,
) -> None:
    programme_history().insert(connection)
    engine = service.default_engine(database)
    now = datetime(2026, 4, 1, 3, tzinfo=UTC)
    with service.open_sources(database, engine) as sources:
        everything = service.refresh_snapshot(
            database, sources, kind=snapshots.SnapshotKind.KPIS, as_of=AS_OF, params={}, now=now
        )
        service.refresh_snapshot(
            database,
            sources,
            kind=snapshots.SnapshotKind.KPIS,
            as_of=AS_OF,
            params={"periods": "3", "kpis": "nps,programme_roi"},
            now=now,
        )
    assert {kpi.value for kpi in PROGRAMME_KPIS} <= set(everything.payload["kpis"])
    client = make_client()
    client.headers.update(issue(database, clock, "analytics:read"))
    response = client.get(
        "/v1/analytics/kpis",
        params={"as_of": "2026-04-01", "periods": "3", "kpis": "nps,programme_roi"},
    )
    assert response.status_code == 200, response.text
    rows = response.json()["payload"]["series"]
    assert [(r["nps"], r["programme_roi"]) for r in rows] == [
        (33.333333, 14.0),
        (-50.0, 5.666667),
        (None, 7.0),
    ]
