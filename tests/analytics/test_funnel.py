"""Funnels, touchpoints and cross-channel paths on known events, on every engine."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection

from fidela.analytics.funnel import funnel_report, journey_report
from fidela.analytics.rules import InvalidFunnel, parse_as_of
from tests.analytics.conftest import SourcesFactory
from tests.analytics.seed import Seed

AS_OF = parse_as_of("2026-04-01")


def journeys() -> Seed:
    seed = Seed()
    for label in "pqrstu":
        seed.customer(label, "2025-06-01")
    return (
        seed.event("p", "page.viewed", "2026-03-10T10:00")
        .event("p", "cart.updated", "2026-03-10T10:05")
        .event("p", "order.completed", "2026-03-10T10:15")
        .event("q", "page.viewed", "2026-03-11T09:00")
        .event("q", "cart.updated", "2026-03-11T10:00")
        .event("r", "cart.updated", "2026-03-12T08:00")  # before the first page view
        .event("r", "page.viewed", "2026-03-12T09:00")
        .event("s", "page.viewed", "2026-02-01T09:00")  # before the window
        .event("t", "page.viewed", "2026-03-20T12:00")
        .event("t", "page.viewed", "2026-03-21T11:00")
        .event("t", "cart.updated", "2026-03-21T12:00")
        .event("t", "order.completed", "2026-03-22T12:00")
        .order("p", "2026-03-10T12:00", 1000, channel="store")
        .order("t", "2026-03-22T13:00", 2000, channel="web")
        .order("u", "2026-03-15T13:00", 3000, channel="store")
    )


def test_funnel_reports_step_conversion_drop_off_and_time_between_steps(
    connection: Connection, make_sources: SourcesFactory
) -> None:
    journeys().insert(connection)
    report = funnel_report(make_sources(), AS_OF, days=30)
    steps = [
        (
            s["step"],
            s["customers"],
            s["conversion_from_previous"],
            s["drop_off"],
            s["mean_seconds_from_previous"],
        )
        for s in report["steps"]
    ]
    assert steps == [
        ("page.viewed", 4, None, None, None),
        ("cart.updated", 3, 0.75, 0.25, 30100.0),
        ("order.completed", 2, 0.666667, 0.333333, 43500.0),
    ]
    assert report["steps"][-1]["conversion_from_start"] == 0.5
    assert report["biggest_drop_off_at"] == "order.completed"


def test_journey_counts_touchpoints_and_web_browse_then_store_purchase(
    connection: Connection, make_sources: SourcesFactory
) -> None:
    journeys().insert(connection)
    report = journey_report(make_sources(), AS_OF, days=30, lookback_days=7)
    paths = {(p["browse_channel"], p["order_channel"]): p for p in report["paths"]}
    assert {key: p["orders"] for key, p in paths.items()} == {
        ("web", "store"): 1,
        ("web", "web"): 1,
        ("none", "store"): 1,
    }
    assert paths[("web", "store")]["cross_channel"] is True
    assert paths[("web", "web")]["cross_channel"] is False
    web = report["touchpoints"]["web"]
    assert web["types"]["page.viewed"] == {"events": 5, "customers": 4}
    assert (web["orders"], report["touchpoints"]["store"]["orders"]) == (1, 2)


@pytest.mark.parametrize("steps", [["page.viewed"], ["page.viewed", "page.viewed"], []])
def test_a_funnel_needs_two_distinct_steps(steps: list[str]) -> None:
    from fidela.analytics.rules import check_funnel_steps

    with pytest.raises(InvalidFunnel):
        check_funnel_steps(steps)
