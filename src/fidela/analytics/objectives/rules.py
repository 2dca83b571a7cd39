"""SMART objectives: a target on a KPI for a segment by a deadline, with progress and forecast.

Concepts and invariants:

- **Objective**: reach ``target`` on one KPI (``analytics.rules.Kpi``) for one segment
  (``segment_by`` + segment name, or ``all``), measured per period (day, week, month), from
  ``start`` to ``deadline`` (inclusive). SMART is checked at definition time:
  *Specific* a known KPI and segment; *Measurable* a finite numeric target inside the KPI's
  range (rates 0..1, NPS -100..100, programme ROI any sign, counts and amounts >= 0);
  *Achievable* a target beyond ``STRETCH_MULTIPLE`` times the historical best is
  **flagged** (a warning), never refused;
  *Relevant* the free description; *Time-bound* the deadline after the start and after today.
- **Direction** is derived, never given: ``increase`` when target > baseline, ``decrease``
  when target < baseline (a churn rate to bring down); target = baseline is refused.
- **Series**: one KPI value per *complete* period (a period counts once it has ended by
  ``as_of``) from the period holding ``start`` to the period holding ``deadline``. A null
  value (a rate of nothing) is unknown: it is skipped by the current value and the fit.
- **Value** is the latest non-null value of the series. **Progress** is
  ``(value - baseline) / (target - baseline)``, reported raw (negative when moving away,
  above 1 past the target) and clamped to 0..1.
- **Forecast**: the least-squares line ``value = a + b * i`` over the non-null points, ``i``
  the period's index counted from the start's period, read at the deadline's period index.
  It needs ``MIN_FORECAST_POINTS`` (3) points, else it is null with the reason; it is
  clamped to the KPI's range (a line does not know a rate stops at 1).
- **Status**, in this order: ``achieved`` when the value is at or beyond the target;
  ``missed`` when the deadline has passed (``as_of`` after the deadline day) without it;
  otherwise from the forecast's progress: ``on_track`` >= 1, ``at_risk`` >= ``AT_RISK_FLOOR``
  (0.8), ``off_track`` below. Without a forecast the progress is compared with the share of
  the start..deadline time elapsed (the pace): >= the pace ``on_track``, >= 0.8 x pace
  ``at_risk``, below ``off_track``; with no value at all ``at_risk`` ("no KPI value yet").
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from fidela.analytics.rules import (
    RATE_DIGITS,
    Kpi,
    Period,
    RfmSegment,
    SegmentBy,
    ValueSegment,
    next_period,
    period_start,
)
from fidela.kernel.errors import Conflict, FieldProblem, InvalidInput, NotFound

STRETCH_MULTIPLE = 1.5  # a target past 1.5x the historical best is flagged as a stretch
AT_RISK_FLOOR = 0.8  # forecast (or pace) covering >= 80% of the distance: at risk, not off
MIN_FORECAST_POINTS = 3
ALL_SEGMENT = "all"
NO_PURCHASE_SEGMENT = "no_purchase"  # kpis.py's bucket for customers without a purchase
NAME_MAX = 200
DESCRIPTION_MAX = 2000
SEGMENT_MAX = 64
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class Direction(StrEnum):
    INCREASE = "increase"
    DECREASE = "decrease"


class Status(StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OFF_TRACK = "off_track"
    ACHIEVED = "achieved"
    MISSED = "missed"


class ObjectiveInvalid(InvalidInput):
    code = "objective_invalid"
    title = "The objective is not SMART"


class ObjectiveNotFound(NotFound):
    code = "objective_not_found"
    title = "No such objective"


class ObjectiveVersionConflict(Conflict):
    code = "objective_version_conflict"
    title = "The objective was changed by someone else"


class ObjectiveArchived(Conflict):
    code = "objective_archived"
    title = "The objective is archived"


# --- definition ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectiveDraft:
    """What a marketer asks for, as given (strings from the shells, validated here)."""

    name: str
    kpi: str
    target: object
    start: date
    deadline: date
    baseline: object
    baseline_date: date | None = None  # default: the start
    segment_by: str = SegmentBy.ALL.value
    segment: str = ALL_SEGMENT
    period: str = Period.MONTH.value
    description: str = ""
    currency: str | None = None


@dataclass(frozen=True)
class Objective:
    """A checked objective: every field valid, the direction derived."""

    name: str
    description: str
    kpi: Kpi
    segment_by: SegmentBy
    segment: str
    period: Period
    baseline: float
    baseline_date: date
    target: float
    direction: Direction
    start: date
    deadline: date
    currency: str | None = None


@dataclass(frozen=True)
class Checked:
    objective: Objective
    warnings: list[str] = field(default_factory=list)


def _is_rate(kpi: Kpi) -> bool:
    # Fractions 0..1 by the KPI report's naming: every "*_rate" and breakage.
    return kpi.value.endswith("_rate") or kpi.value == "breakage"


# By value, not member: the KPI list grows, and a KPI missing here is only bounded below.
_SIGNED_KPIS = frozenset({"programme_roi"})  # a programme can lose money


def kpi_bounds(kpi: Kpi) -> tuple[float | None, float | None]:
    """The values ``kpi`` can take: rates 0..1, NPS -100..100, ROI any, the rest >= 0."""
    if _is_rate(kpi):
        return 0.0, 1.0
    if kpi.value == "nps":
        return -100.0, 100.0
    if kpi.value in _SIGNED_KPIS:
        return None, None
    return 0.0, None


def clamp_to_kpi(kpi: Kpi, value: float) -> float:
    """``value`` within the values ``kpi`` can take (a trend never forecasts a rate of 1.3)."""
    low, high = kpi_bounds(kpi)
    if low is not None:
        value = max(low, value)
    return value if high is None else min(high, value)


def _number(value: object, pointer: str, problems: list[FieldProblem]) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.append(FieldProblem(pointer, "a number"))
        return None
    number = float(value)
    if not math.isfinite(number):
        problems.append(FieldProblem(pointer, "a finite number"))
        return None
    return number


def _segment_problem(segment_by: SegmentBy, segment: str) -> str | None:
    if segment_by is SegmentBy.ALL:
        return None if segment == ALL_SEGMENT else "with segment_by 'all' the segment is 'all'"
    if segment == NO_PURCHASE_SEGMENT:
        return None
    if segment_by is SegmentBy.RFM and segment not in {s.value for s in RfmSegment}:
        return f"an RFM segment: {', '.join(s.value for s in RfmSegment)}"
    if segment_by is SegmentBy.VALUE and segment not in {s.value for s in ValueSegment}:
        return f"a value segment: {', '.join(s.value for s in ValueSegment)}"
    if segment_by is SegmentBy.CHANNEL and not 1 <= len(segment) <= SEGMENT_MAX:
        return f"a channel name of 1 to {SEGMENT_MAX} characters"
    return None


def check_objective(
    draft: ObjectiveDraft,
    *,
    today: date | None,
    history: Sequence[float | None] = (),
    stretch_multiple: float = STRETCH_MULTIPLE,
) -> Checked:
    """Validate ``draft`` (every problem at once, each with its JSON pointer) and flag an
    unachievable-looking target against ``history`` (the KPI's past values for the segment).

    ``today`` is the shell's date: the deadline must be after it. ``None`` skips that check
    (an edit that does not touch the deadline of an objective already past it).
    """
    problems: list[FieldProblem] = []
    name = draft.name.strip()
    if not 1 <= len(name) <= NAME_MAX:
        problems.append(FieldProblem("/name", f"1 to {NAME_MAX} characters"))
    if len(draft.description) > DESCRIPTION_MAX:
        problems.append(FieldProblem("/description", f"at most {DESCRIPTION_MAX} characters"))
    kpi = next((k for k in Kpi if k.value == draft.kpi), None)
    if kpi is None:
        problems.append(FieldProblem("/kpi", f"one of {', '.join(k.value for k in Kpi)}"))
    segment_by = next((s for s in SegmentBy if s.value == draft.segment_by), None)
    if segment_by is None:
        problems.append(FieldProblem("/segment_by", "all, rfm, value or channel"))
    else:
        problem = _segment_problem(segment_by, draft.segment)
        if problem is not None:
            problems.append(FieldProblem("/segment", problem))
    period = next((p for p in Period if p.value == draft.period), None)
    if period is None:
        problems.append(FieldProblem("/period", "day, week or month"))
    if draft.currency is not None and not _CURRENCY.match(draft.currency):
        problems.append(FieldProblem("/currency", "an ISO 4217 code such as EUR"))

    target = _number(draft.target, "/target", problems)
    baseline = _number(draft.baseline, "/baseline", problems)
    if kpi is not None:
        low, high = kpi_bounds(kpi)
        for pointer, value in (("/target", target), ("/baseline", baseline)):
            if value is not None and (
                (low is not None and value < low) or (high is not None and value > high)
            ):
                span = " and ".join(
                    text
                    for text in (
                        None if low is None else f">= {low:g}",
                        None if high is None else f"<= {high:g}",
                    )
                    if text is not None
                )
                problems.append(FieldProblem(pointer, f"{kpi.value} is {span}"))
    if target is not None and baseline is not None and target == baseline:
        problems.append(
            FieldProblem("/target", "differs from the baseline (nothing to reach otherwise)")
        )

    if draft.deadline <= draft.start:
        problems.append(FieldProblem("/deadline", "after the start"))
    elif today is not None and draft.deadline <= today:
        problems.append(FieldProblem("/deadline", f"after today ({today.isoformat()})"))
    baseline_date = draft.baseline_date or draft.start
    if baseline_date > draft.start:
        problems.append(FieldProblem("/baseline_date", "on or before the start"))

    if (
        problems
        or kpi is None
        or segment_by is None
        or period is None
        or target is None
        or baseline is None
    ):
        fields = ", ".join(dict.fromkeys(p.pointer.strip("/") for p in problems))
        raise ObjectiveInvalid(f"the objective is not valid: {fields}", problems)
    direction = Direction.INCREASE if target > baseline else Direction.DECREASE
    objective = Objective(
        name=name,
        description=draft.description,
        kpi=kpi,
        segment_by=segment_by,
        segment=draft.segment,
        period=period,
        baseline=baseline,
        baseline_date=baseline_date,
        target=target,
        direction=direction,
        start=draft.start,
        deadline=draft.deadline,
        currency=draft.currency,
    )
    return Checked(objective, achievability_warnings(objective, history, stretch_multiple))


def achievability_warnings(
    objective: Objective, history: Sequence[float | None], multiple: float = STRETCH_MULTIPLE
) -> list[str]:
    """Warnings (never errors) for a target beyond ``multiple`` x the best value in
    ``history``: above ``multiple x max`` when increasing, below ``min / multiple`` when
    decreasing. No history, no judgement (said as a warning too)."""
    known = [v for v in history if v is not None]
    if not known:
        return ["no KPI history for this segment to judge whether the target is achievable"]
    if objective.direction is Direction.INCREASE:
        best = max(known)
        if objective.target > multiple * best:
            return [
                f"stretch: target {objective.target:g} is above {multiple:g} x the historical "
                f"best {best:g}"
            ]
        return []
    best = min(known)
    if objective.target < best / multiple:
        return [
            f"stretch: target {objective.target:g} is below the historical best {best:g} "
            f"/ {multiple:g}"
        ]
    return []


# --- periods -------------------------------------------------------------------------------


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time())


def period_index(first: date, day: date, period: Period) -> int:
    """How many periods separate the period holding ``first`` from the one holding ``day``."""
    a, b = period_start(first, period), period_start(day, period)
    if period is Period.MONTH:
        return (b.year - a.year) * 12 + b.month - a.month
    if period is Period.WEEK:
        return (b - a).days // 7
    return (b - a).days


def window(objective: Objective, as_of: datetime) -> list[date]:
    """Starts of the periods the objective is judged on that are complete by ``as_of``
    (naive UTC): from the start's period to the deadline's, in order."""
    last = period_start(objective.deadline, objective.period)
    starts: list[date] = []
    current = period_start(objective.start, objective.period)
    while current <= last and _midnight(next_period(current, objective.period)) <= as_of:
        starts.append(current)
        current = next_period(current, objective.period)
    return starts


def final_as_of(objective: Objective) -> datetime:
    """The instant the deadline's period is complete: later evaluations add nothing."""
    end = next_period(period_start(objective.deadline, objective.period), objective.period)
    return _midnight(end)


def needs_evaluation(
    objective: Objective, as_of: datetime, last_evaluated: datetime | None
) -> bool:
    """Whether the nightly job should evaluate ``objective`` as of ``as_of``: once it has
    started, until its deadline's period is complete, and once late if that moment was
    missed (a skipped night)."""
    if as_of <= _midnight(objective.start):
        return False
    final = final_as_of(objective)
    if as_of <= final:
        return True
    return last_evaluated is None or last_evaluated < final


def periods_to_compute(objective: Objective, as_of: datetime) -> int:
    """How many periods up to ``as_of`` the KPI report needs to cover the start's period."""
    last = (as_of - timedelta(microseconds=1)).date()
    return max(1, period_index(objective.start, last, objective.period) + 1)


# --- evaluation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    period_start: date
    value: float | None


@dataclass(frozen=True)
class Evaluation:
    as_of: datetime
    value: float | None
    value_period: date | None  # the period the value is of
    progress: float | None  # raw: < 0 moving away, > 1 past the target
    progress_clamped: float | None  # 0..1
    forecast: float | None  # the linear trend read at the deadline's period
    forecast_reason: str | None  # why there is no forecast
    status: Status
    status_reason: str
    points: tuple[Point, ...]


def least_squares(points: Sequence[tuple[float, float]]) -> tuple[float, float] | None:
    """(intercept, slope) of the least-squares line through ``points``; None for fewer than
    two distinct x."""
    if len({x for x, _ in points}) < 2:
        return None
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in points)
    slope = sxy / sxx
    return mean_y - slope * mean_x, slope


def progress_of(objective: Objective, value: float) -> float:
    return (value - objective.baseline) / (objective.target - objective.baseline)


def reached(objective: Objective, value: float) -> bool:
    if objective.direction is Direction.INCREASE:
        return value >= objective.target
    return value <= objective.target


def _rounded(value: float) -> float:
    return round(value, RATE_DIGITS)


def _elapsed_share(objective: Objective, as_of: datetime) -> float:
    total = (_midnight(objective.deadline + timedelta(days=1)) - _midnight(objective.start)).days
    elapsed = (as_of - _midnight(objective.start)).total_seconds() / 86_400
    return min(1.0, max(0.0, elapsed / total))


def _graded(share: float, expected: float) -> Status:
    if share >= expected:
        return Status.ON_TRACK
    if share >= AT_RISK_FLOOR * expected:
        return Status.AT_RISK
    return Status.OFF_TRACK


def evaluate(
    objective: Objective, series: Mapping[date, float | None], *, as_of: datetime
) -> Evaluation:
    """Value, progress, forecast and status of ``objective`` as of ``as_of`` (naive UTC) from
    the KPI ``series`` (period start -> value for the objective's segment; periods outside
    the window are ignored, missing ones are unknown)."""
    starts = window(objective, as_of)
    points = tuple(Point(start, series.get(start)) for start in starts)
    known = [(i, p) for i, p in enumerate(points) if p.value is not None]
    value = known[-1][1].value if known else None
    value_period = known[-1][1].period_start if known else None
    progress = None if value is None else progress_of(objective, value)

    forecast: float | None = None
    forecast_reason: str | None = None
    if len(known) < MIN_FORECAST_POINTS:
        forecast_reason = (
            f"a forecast needs at least {MIN_FORECAST_POINTS} periods with a value; "
            f"{len(known)} so far"
        )
    else:
        # Indices of distinct periods are distinct, so three points always define a line.
        line = least_squares([(float(i), p.value) for i, p in known if p.value is not None])
        if line is not None:
            at = period_index(objective.start, objective.deadline, objective.period)
            forecast = clamp_to_kpi(objective.kpi, line[0] + line[1] * at)

    deadline_passed = as_of >= _midnight(objective.deadline + timedelta(days=1))
    status, reason = _status(objective, as_of, value, progress, forecast, deadline_passed)
    return Evaluation(
        as_of=as_of,
        value=value,
        value_period=value_period,
        progress=None if progress is None else _rounded(progress),
        progress_clamped=None if progress is None else _rounded(min(1.0, max(0.0, progress))),
        forecast=None if forecast is None else _rounded(forecast),
        forecast_reason=forecast_reason,
        status=status,
        status_reason=reason,
        points=points,
    )


def _status(
    objective: Objective,
    as_of: datetime,
    value: float | None,
    progress: float | None,
    forecast: float | None,
    deadline_passed: bool,
) -> tuple[Status, str]:
    if value is not None and reached(objective, value):
        return Status.ACHIEVED, f"the value {value:g} reached the target {objective.target:g}"
    if deadline_passed:
        seen = "no value" if value is None else f"the value {value:g}"
        return Status.MISSED, f"the deadline passed with {seen}, target {objective.target:g}"
    if forecast is not None:
        share = progress_of(objective, forecast)
        status = _graded(share, 1.0)
        return status, (
            f"the trend reaches {forecast:.6g} by the deadline, {share:.0%} of the way "
            f"(on track >= 100%, at risk >= {AT_RISK_FLOOR:.0%})"
        )
    if progress is None:
        return Status.AT_RISK, "no KPI value yet"
    pace = _elapsed_share(objective, as_of)
    return _graded(progress, pace), (
        f"no forecast yet: progress {progress:.0%} against {pace:.0%} of the time elapsed "
        f"(on track >= the pace, at risk >= {AT_RISK_FLOOR:.0%} of it)"
    )
