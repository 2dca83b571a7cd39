"""SMART objective rules on hand-computed series: validation, progress, forecast, status."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest

from fidela.analytics.objectives.rules import (
    Direction,
    Objective,
    ObjectiveDraft,
    ObjectiveInvalid,
    Status,
    check_objective,
    evaluate,
    kpi_bounds,
    least_squares,
    needs_evaluation,
    period_index,
    periods_to_compute,
    window,
)
from fidela.analytics.rules import Kpi, Period, SegmentBy, parse_as_of

TODAY = date(2026, 1, 10)


def at(day: str) -> datetime:
    """Midnight UTC of ``day``, naive like every analytics ``as_of``."""
    return parse_as_of(day)


def draft(**changes: object) -> ObjectiveDraft:
    base = ObjectiveDraft(
        name="More repeat buyers",
        kpi="repeat_purchase_rate",
        target=0.65,
        baseline=0.4,
        start=date(2026, 1, 1),
        deadline=date(2026, 6, 30),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def goal(**changes: object) -> Objective:
    return replace(check_objective(draft(), today=TODAY).objective, **changes)  # type: ignore[arg-type]


def churn_goal(target: float) -> Objective:
    return check_objective(
        draft(
            kpi="churn_rate",
            baseline=0.30,
            target=target,
            deadline=date(2026, 12, 31),
        ),
        today=TODAY,
    ).objective


def problems(error: pytest.ExceptionInfo[ObjectiveInvalid]) -> dict[str, str]:
    return {p.pointer: p.message for p in error.value.problems}


# --- definition ----------------------------------------------------------------------------


def test_a_valid_draft_becomes_an_objective_with_a_derived_direction() -> None:
    rising = check_objective(draft(), today=TODAY).objective
    assert (rising.kpi, rising.direction, rising.baseline_date) == (
        Kpi.REPEAT_PURCHASE_RATE,
        Direction.INCREASE,
        date(2026, 1, 1),
    )
    falling = churn_goal(0.2)
    assert falling.direction is Direction.DECREASE


@pytest.mark.parametrize(
    ("changes", "pointer"),
    [
        ({"kpi": "happiness"}, "/kpi"),
        ({"target": 0.4}, "/target"),
        ({"target": 1.5}, "/target"),
        ({"target": "lots"}, "/target"),
        ({"target": float("nan")}, "/target"),
        ({"baseline": None}, "/baseline"),
        ({"deadline": date(2025, 12, 31)}, "/deadline"),
        ({"deadline": date(2026, 1, 5)}, "/deadline"),
        ({"segment_by": "rfm", "segment": "winners"}, "/segment"),
        ({"segment": "champions"}, "/segment"),
        ({"segment_by": "zodiac"}, "/segment_by"),
        ({"period": "fortnight"}, "/period"),
        ({"currency": "euro"}, "/currency"),
        ({"name": "  "}, "/name"),
        ({"baseline_date": date(2026, 2, 1)}, "/baseline_date"),
    ],
)
def test_a_draft_that_is_not_smart_is_refused_pointing_at_the_field(
    changes: dict[str, object], pointer: str
) -> None:
    with pytest.raises(ObjectiveInvalid) as error:
        check_objective(draft(**changes), today=TODAY)
    assert pointer in problems(error)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ObjectiveInvalid) as error:
        check_objective(draft(kpi="nps_score", deadline=date(2025, 1, 1)), today=TODAY)
    assert set(problems(error)) == {"/kpi", "/deadline"}


def test_a_deadline_already_past_is_accepted_when_today_is_not_checked() -> None:
    late = check_objective(draft(deadline=date(2026, 1, 5)), today=None).objective
    assert late.deadline == date(2026, 1, 5)


def test_segments_follow_the_segmentation() -> None:
    assert (
        check_objective(
            draft(segment_by="rfm", segment="champions"), today=TODAY
        ).objective.segment_by
        is SegmentBy.RFM
    )
    assert check_objective(draft(segment_by="channel", segment="web"), today=TODAY)
    assert check_objective(draft(segment_by="value", segment="vip"), today=TODAY)


def test_a_target_beyond_the_stretch_multiple_of_the_best_is_flagged_not_refused() -> None:
    history = [0.3, 0.4, None]
    flagged = check_objective(draft(target=0.7), today=TODAY, history=history)
    assert flagged.warnings == ["stretch: target 0.7 is above 1.5 x the historical best 0.4"]
    assert check_objective(draft(target=0.55), today=TODAY, history=history).warnings == []
    # Decreasing: below best / 1.5 (0.2 / 1.5 = 0.1333) is a stretch.
    churn = draft(kpi="churn_rate", baseline=0.3)
    assert check_objective(replace(churn, target=0.1), today=TODAY, history=[0.2, 0.3]).warnings
    assert not check_objective(
        replace(churn, target=0.15), today=TODAY, history=[0.2, 0.3]
    ).warnings
    assert "no KPI history" in check_objective(draft(), today=TODAY).warnings[0]


# --- periods -------------------------------------------------------------------------------


def test_period_index_counts_whole_periods_from_the_start() -> None:
    assert period_index(date(2026, 1, 15), date(2026, 6, 30), Period.MONTH) == 5
    assert period_index(date(2026, 1, 7), date(2026, 1, 20), Period.WEEK) == 2  # Mondays 5 -> 19
    assert period_index(date(2026, 1, 7), date(2026, 1, 20), Period.DAY) == 13


def test_the_window_holds_complete_periods_up_to_the_deadline() -> None:
    objective = goal(deadline=date(2026, 2, 28))
    assert window(objective, at("2026-01-31")) == []
    assert window(objective, at("2026-02-10")) == [date(2026, 1, 1)]
    assert window(objective, at("2026-05-01")) == [date(2026, 1, 1), date(2026, 2, 1)]
    assert periods_to_compute(objective, at("2026-04-01")) == 3


def test_evaluation_is_needed_from_the_start_until_the_deadline_period_is_judged() -> None:
    objective = goal(deadline=date(2026, 3, 31))
    assert not needs_evaluation(objective, at("2026-01-01"), None)
    assert needs_evaluation(objective, at("2026-02-01"), None)
    assert needs_evaluation(objective, at("2026-04-01"), at("2026-03-31"))
    # A skipped night: one late final evaluation, then no more.
    assert needs_evaluation(objective, at("2026-04-03"), at("2026-03-31"))
    assert not needs_evaluation(objective, at("2026-04-03"), at("2026-04-01"))


# --- evaluation ----------------------------------------------------------------------------

RISING = {
    date(2026, 1, 1): 0.45,
    date(2026, 2, 1): 0.5,
    date(2026, 3, 1): 0.55,
    date(2026, 4, 1): 0.9,  # incomplete on 2026-04-10: not judged yet
}


def test_least_squares_fits_the_line() -> None:
    line = least_squares([(0, 1.0), (1, 3.0), (2, 5.0)])
    assert line == pytest.approx((1.0, 2.0))
    assert least_squares([(1, 2.0), (1, 3.0)]) is None


def test_rising_kpi_progress_and_forecast_on_track() -> None:
    # Baseline 0.4, target 0.65: value 0.55 is 0.15 / 0.25 = 60% of the way. The line
    # through (0, .45), (1, .5), (2, .55) is .45 + .05 i; June is i = 5: .70 >= .65.
    result = evaluate(goal(), RISING, as_of=at("2026-04-10"))
    assert (result.value, result.value_period) == (0.55, date(2026, 3, 1))
    assert result.progress == pytest.approx(0.6)
    assert result.progress_clamped == pytest.approx(0.6)
    assert result.forecast == pytest.approx(0.7)
    assert result.forecast_reason is None
    assert result.status is Status.ON_TRACK
    assert [p.value for p in result.points] == [0.45, 0.5, 0.55]


@pytest.mark.parametrize(
    ("target", "progress", "status"),
    [
        # Line through (0, .29), (2, .27), (3, .26) (February unknown): .29 - .01 i, so
        # December (i = 11) forecasts .18. Value .26 from baseline .30.
        (0.20, 0.4, Status.ON_TRACK),  # forecast covers .12 / .10 = 120%
        (0.16, 0.04 / 0.14, Status.AT_RISK),  # .12 / .14 = 86%
        (0.10, 0.2, Status.OFF_TRACK),  # .12 / .20 = 60%
    ],
)
def test_a_decreasing_kpi_with_a_missing_period_is_forecast_from_the_known_ones(
    target: float, progress: float, status: Status
) -> None:
    series: dict[date, float | None] = {
        date(2026, 1, 1): 0.29,
        date(2026, 2, 1): None,
        date(2026, 3, 1): 0.27,
        date(2026, 4, 1): 0.26,
    }
    result = evaluate(churn_goal(target), series, as_of=at("2026-05-01"))
    assert result.value == 0.26
    assert result.progress == pytest.approx(progress, abs=1e-6)
    assert result.forecast == pytest.approx(0.18)
    assert result.status is status
    assert [p.value for p in result.points] == [0.29, None, 0.27, 0.26]


def test_a_decreasing_kpi_at_or_below_its_target_is_achieved() -> None:
    series = {date(2026, 1, 1): 0.25, date(2026, 2, 1): 0.19}
    result = evaluate(churn_goal(0.2), series, as_of=at("2026-03-01"))
    assert result.status is Status.ACHIEVED
    assert result.progress == pytest.approx(1.1)
    assert result.progress_clamped == 1.0


def test_progress_away_from_the_target_is_negative_raw_and_zero_clamped() -> None:
    series = {date(2026, 1, 1): 0.38, date(2026, 2, 1): 0.35}
    result = evaluate(goal(), series, as_of=at("2026-03-01"))
    assert result.progress == pytest.approx(-0.2)
    assert result.progress_clamped == 0.0
    assert result.status is Status.OFF_TRACK


def test_without_three_points_the_forecast_is_null_and_the_status_follows_the_pace() -> None:
    objective = goal(deadline=date(2026, 12, 31))
    # Two months: 59 of 365 days elapsed (16.2%). Progress 0.1 / 0.25 = 40% is ahead.
    ahead = evaluate(
        objective, {date(2026, 1, 1): 0.45, date(2026, 2, 1): 0.5}, as_of=at("2026-03-01")
    )
    assert ahead.forecast is None
    assert ahead.forecast_reason is not None
    assert "at least 3 periods" in ahead.forecast_reason
    assert ahead.status is Status.ON_TRACK
    # Progress 0.005 / 0.25 = 2% is below 80% of the pace (12.9%).
    behind = evaluate(
        objective, {date(2026, 1, 1): 0.41, date(2026, 2, 1): 0.405}, as_of=at("2026-03-01")
    )
    assert behind.status is Status.OFF_TRACK
    # Progress 0.035 / 0.25 = 14% is between 80% of the pace and the pace.
    close = evaluate(
        objective, {date(2026, 1, 1): 0.41, date(2026, 2, 1): 0.435}, as_of=at("2026-03-01")
    )
    assert close.status is Status.AT_RISK


def test_with_no_value_at_all_there_is_no_progress_and_the_objective_is_at_risk() -> None:
    result = evaluate(goal(), {date(2026, 1, 1): None}, as_of=at("2026-03-01"))
    assert (result.value, result.progress, result.progress_clamped, result.forecast) == (
        None,
        None,
        None,
        None,
    )
    assert (result.status, result.status_reason) == (Status.AT_RISK, "no KPI value yet")


def test_past_the_deadline_the_objective_is_missed_on_the_deadline_periods_only() -> None:
    objective = goal(deadline=date(2026, 2, 28))
    # March (0.9) would reach the target but lies after the deadline.
    result = evaluate(objective, RISING, as_of=at("2026-05-01"))
    assert [p.period_start for p in result.points] == [date(2026, 1, 1), date(2026, 2, 1)]
    assert result.value == 0.5
    assert result.status is Status.MISSED
    reached = evaluate(
        objective, {date(2026, 1, 1): 0.5, date(2026, 2, 1): 0.7}, as_of=at("2026-03-01")
    )
    assert reached.status is Status.ACHIEVED


def test_the_forecast_stays_inside_the_kpi_range() -> None:
    # .45 + .2 i reaches 1.45 in June: a rate stops at 1.
    steep = {date(2026, 1, 1): 0.45, date(2026, 2, 1): 0.65, date(2026, 3, 1): 0.85}
    assert evaluate(goal(target=0.9), steep, as_of=at("2026-04-01")).forecast == 1.0


def test_kpi_ranges_bound_targets_and_forecasts_by_their_kind() -> None:
    assert kpi_bounds(Kpi("churn_rate")) == (0.0, 1.0)
    assert kpi_bounds(Kpi("nps")) == (-100.0, 100.0)
    assert kpi_bounds(Kpi("programme_roi")) == (None, None)
    assert kpi_bounds(Kpi("orders")) == (0.0, None)
    loss = check_objective(draft(kpi="programme_roi", baseline=-0.5, target=0.2), today=TODAY)
    assert loss.objective.direction is Direction.INCREASE
    with pytest.raises(ObjectiveInvalid) as error:
        check_objective(draft(kpi="orders", baseline=-1, target=10), today=TODAY)
    assert problems(error) == {"/baseline": "orders is >= 0"}
