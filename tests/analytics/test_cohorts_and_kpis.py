"""Cohort matrix and KPIs on a hand-built history with known answers, on every engine."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Connection

from fidela.analytics.cohorts import cohort_report
from fidela.analytics.kpis import kpi_report
from fidela.analytics.rules import Kpi, Period, SegmentBy, parse_as_of
from tests.analytics.conftest import SourcesFactory
from tests.analytics.seed import Seed

AS_OF = parse_as_of("2026-04-01")


def history() -> Seed:
    seed = Seed()
    for label in "abcde":
        seed.customer(label, "2025-06-01")
    return (
        seed.order("a", "2026-01-10T10:00", 100)
        .order("a", "2026-02-10T10:00", 200)
        .order("a", "2026-03-10T10:00", 300)
        .order("b", "2026-01-15T10:00", 1000)
        .order("b", "2026-03-15T10:00", 1000)
        .order("c", "2026-02-01T10:00", 50)
        .order("c", "2026-02-20T10:00", 50)
        .order("d", "2026-03-03T10:00", 400)
        .order("e", "2025-12-05T10:00", 500)
        .order("e", "2026-02-07T10:00", 100)
        .order("e", "2026-04-02T10:00", 999)  # after as_of
        .points("a", "earn", 100, "2026-01-10T10:00")
        .points("a", "spend", -40, "2026-02-01T10:00")
        .points("a", "cancel", 10, "2026-02-02T10:00")
        .points("a", "expire", -20, "2026-03-05T10:00")
        .points("b", "earn", 50, "2026-03-15T10:00")
        .event("a", "email.opened", "2026-03-01T10:00", "email")
        .event("a", "email.clicked", "2026-03-02T10:00", "email")
        .event("b", "email.opened", "2026-03-03T10:00", "email")
        .event("c", "page.viewed", "2026-03-04T10:00", "web")
    )


def test_cohort_matrix_counts_returning_customers_by_months_since_acquisition(
    connection: Connection, make_sources: SourcesFactory
) -> None:
    history().insert(connection)
    report = cohort_report(make_sources(), AS_OF)
    matrix = {
        c["cohort"]: (c["size"], [(r["customers"], r["rate"]) for r in c["retention"]])
        for c in report["cohorts"]
    }
    assert matrix == {
        "2025-12": (1, [(1, 1.0), (0, 0.0), (1, 1.0), (0, 0.0)]),
        "2026-01": (2, [(2, 1.0), (1, 0.5), (2, 1.0)]),
        "2026-02": (1, [(1, 1.0), (0, 0.0)]),
        "2026-03": (1, [(1, 1.0)]),
    }


def test_cohorts_since_leaves_out_earlier_cohorts(
    connection: Connection, make_sources: SourcesFactory
) -> None:
    history().insert(connection)
    report = cohort_report(make_sources(), AS_OF, since=date(2026, 2, 15))
    assert [c["cohort"] for c in report["cohorts"]] == ["2026-02", "2026-03"]


# The KPIs the expected tuples below list, in order (programme KPIs: test_programme_kpis).
SALES_AND_POINTS_KPIS = (
    Kpi.ACTIVE_CUSTOMERS,
    Kpi.ORDERS,
    Kpi.REVENUE,
    Kpi.AVERAGE_BASKET,
    Kpi.PURCHASE_FREQUENCY,
    Kpi.REPEAT_PURCHASE_RATE,
    Kpi.RETENTION_RATE,
    Kpi.CHURN_RATE,
    Kpi.HISTORICAL_CLV,
    Kpi.ACTIVE_MEMBER_RATE,
    Kpi.POINTS_ISSUED,
    Kpi.POINTS_REDEEMED,
    Kpi.POINTS_EXPIRED,
    Kpi.REDEMPTION_RATE,
    Kpi.BREAKAGE,
)


def test_monthly_kpis_match_the_hand_computed_answer(
    connection: Connection, make_sources: SourcesFactory
) -> None:
    history().insert(connection)
    report = kpi_report(make_sources(), AS_OF, period=Period.MONTH, periods=3)
    series = {row["period_start"]: row for row in report["series"]}
    assert list(series) == ["2026-01-01", "2026-02-01", "2026-03-01"]
    expected = {
        "2026-01-01": (2, 2, 1100, 550, 1.0, 0.0, 0.0, 1.0, 533, 0.4, 100, 0, 0, 0.0, 0.0),
        "2026-02-01": (3, 4, 400, 100, 1.333333, 0.666667, 0.5, 0.5, 500, 0.6, 0, 30, 0, None, 0.0),
        "2026-03-01": (
            3, 3, 1700, 567, 1.0, 0.666667, 0.333333, 0.666667, 740, 0.6, 50, 0, 20, 0.0, 0.133333,
        ),
    }  # fmt: skip
    for start, values in expected.items():
        assert tuple(series[start][kpi.value] for kpi in SALES_AND_POINTS_KPIS) == values, start
    email = next(
        e
        for e in report["engagement"]
        if e["channel"] == "email" and e["period_start"] == "2026-03-01"
    )
    assert (email["events"], email["customers"], email["click_to_open_rate"]) == (3, 2, 0.5)


def test_kpis_per_value_segment_keep_segments_apart(
    connection: Connection, make_sources: SourcesFactory
) -> None:
    history().insert(connection)
    report = kpi_report(
        make_sources(),
        AS_OF,
        periods=3,
        segment_by=SegmentBy.VALUE,
        kpis=[Kpi.REVENUE, Kpi.RETENTION_RATE],
    )
    vip = {r["period_start"]: r for r in report["series"] if r["segment"] == "vip"}
    assert {start: row["revenue_minor"] for start, row in vip.items()} == {
        "2026-01-01": 1000,
        "2026-02-01": 0,
        "2026-03-01": 1000,
    }
    # b bought nothing in February: no base to retain from in March.
    assert vip["2026-03-01"]["retention_rate"] is None
    assert set(vip["2026-03-01"]) == {"segment", "period_start", "revenue_minor", "retention_rate"}


@pytest.mark.parametrize(
    ("period", "start", "orders"),
    [(Period.WEEK, "2026-01-05", 1), (Period.DAY, "2026-01-10", 1), (Period.WEEK, "2026-01-12", 1)],
)
def test_weekly_and_daily_periods_start_on_monday_and_midnight(
    connection: Connection, make_sources: SourcesFactory, period: Period, start: str, orders: int
) -> None:
    history().insert(connection)
    report = kpi_report(make_sources(), AS_OF, period=period, periods=120, kpis=[Kpi.ORDERS])
    series = {row["period_start"]: row["orders"] for row in report["series"]}
    assert series[start] == orders
