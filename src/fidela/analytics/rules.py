"""Analytics rules: the pure vocabulary shared by every engine.

Concepts and invariants:

- **as_of**: every analytic sees only data strictly before ``as_of`` (a naive UTC instant;
  a bare date means its midnight UTC). Day-resolution measures (recency, age) count whole
  UTC days between dates.
- **RFM scores** are quintiles 1..5 from a 0-based *minimum* rank among ``n`` customers:
  ``1 + 5 * rank // n``. Ties share a score on every engine (no arbitrary row order decides);
  higher is better (recent, frequent, high spend).
- **RFM segments**: the named segment is a lookup in a 5 x 5 grid of the recency score by the
  frequency-monetary score ``FM = ceil((F + M) / 2)``; every cell maps to one of the eleven
  names, so every scored customer has exactly one segment.
- **Ratios** are computed here, outside the engines, from integer counts and sums the engines
  return, so DuckDB, PostgreSQL and Spark give bit-identical results. Rates are rounded to
  ``RATE_DIGITS`` decimal places with ROUND_HALF_EVEN and serialised as JSON numbers; money
  stays in integer minor units (averages rounded half-even to a whole minor unit).
- **NPS** counts answers to ``nps`` surveys (scores 0..10): promoters score 9 or 10,
  detractors 0 to 6; the score is (promoters - detractors) / answers x 100.
- **Programme ROI** compares members with non-members (the revenue members would have made
  at the non-members' revenue per active customer) and nets out the cost of the points
  issued, each programme's points at its own cost per point; without a cost it has no value
  and says why, never a guessed one.
- **Objectives** (SMART): a target on a KPI for a segment by a deadline; progress is how much
  of the distance from the baseline to the target has been covered, and the forecast a
  least-squares line through the observed periods, read at the deadline.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

from fidela.kernel.errors import DomainError, ErrorKind, FieldProblem, InvalidInput

RATE_DIGITS = 6
_RATE_QUANTUM = Decimal(1).scaleb(-RATE_DIGITS)


class RfmSegment(StrEnum):
    CHAMPIONS = "champions"
    LOYAL = "loyal"
    POTENTIAL_LOYALIST = "potential_loyalist"
    NEW = "new"
    PROMISING = "promising"
    NEED_ATTENTION = "need_attention"
    ABOUT_TO_SLEEP = "about_to_sleep"
    AT_RISK = "at_risk"
    CANNOT_LOSE = "cannot_lose"
    HIBERNATING = "hibernating"
    LOST = "lost"


_S = RfmSegment
# Rows: recency score 5 (bought lately) down to 1; columns: FM score 1..5.
_GRID: dict[int, tuple[RfmSegment, ...]] = {
    5: (_S.NEW, _S.POTENTIAL_LOYALIST, _S.POTENTIAL_LOYALIST, _S.CHAMPIONS, _S.CHAMPIONS),
    4: (_S.PROMISING, _S.POTENTIAL_LOYALIST, _S.POTENTIAL_LOYALIST, _S.LOYAL, _S.CHAMPIONS),
    3: (_S.ABOUT_TO_SLEEP, _S.ABOUT_TO_SLEEP, _S.NEED_ATTENTION, _S.LOYAL, _S.LOYAL),
    2: (_S.HIBERNATING, _S.HIBERNATING, _S.AT_RISK, _S.AT_RISK, _S.CANNOT_LOSE),
    1: (_S.LOST, _S.HIBERNATING, _S.AT_RISK, _S.CANNOT_LOSE, _S.CANNOT_LOSE),
}


class ValueSegment(StrEnum):
    VIP = "vip"  # top decile of spend before as_of
    REGULAR = "regular"
    OCCASIONAL = "occasional"  # fewer than two orders in the year before as_of


VIP_SHARE_DENOMINATOR = 10  # VIP = the top 1/10th of customers by monetary value
OCCASIONAL_MAX_ORDERS_LAST_YEAR = 1
YEAR_DAYS = 365


DEFAULT_FUNNEL_STEPS = ("page.viewed", "cart.updated", "order.completed")


# The kinds of the model snapshots (stored by their services, read by the API without
# loading the model libraries).
CHURN_KIND = "churn"
CLV_KIND = "clv"
RECOMMEND_KIND = "recommend"
PERSONAS_KIND = "personas"


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"  # ISO weeks, starting on Monday on every engine
    MONTH = "month"


class Kpi(StrEnum):
    ACTIVE_CUSTOMERS = "active_customers"
    ORDERS = "orders"
    REVENUE = "revenue_minor"
    AVERAGE_BASKET = "average_basket_minor"
    PURCHASE_FREQUENCY = "purchase_frequency"
    REPEAT_PURCHASE_RATE = "repeat_purchase_rate"
    RETENTION_RATE = "retention_rate"
    CHURN_RATE = "churn_rate"
    HISTORICAL_CLV = "historical_clv_minor"
    PREDICTED_CLV = "predicted_clv_minor"
    ACTIVE_MEMBER_RATE = "active_member_rate"
    POINTS_ISSUED = "points_issued"
    POINTS_REDEEMED = "points_redeemed"
    POINTS_EXPIRED = "points_expired"
    REDEMPTION_RATE = "redemption_rate"
    BREAKAGE = "breakage"
    NPS = "nps"
    NPS_ANSWERS = "nps_answers"
    REFERRAL_RATE = "referral_rate"
    REFERRALS_CONVERTED = "referrals_converted"
    ENROLMENT_RATE = "enrolment_rate"
    PROGRAMME_ROI = "programme_roi"
    MEMBER_ACTIVE_CUSTOMERS = "member_active_customers"
    MEMBER_REVENUE = "member_revenue_minor"
    NON_MEMBER_REVENUE = "non_member_revenue_minor"
    PROGRAMME_COST = "programme_cost_minor"


class SegmentBy(StrEnum):
    ALL = "all"
    RFM = "rfm"
    VALUE = "value"
    CHANNEL = "channel"


class UnknownKpi(DomainError):
    code = "analytics_unknown_kpi"
    kind = ErrorKind.VALIDATION
    title = "Unknown KPI"


class InvalidPeriod(DomainError):
    code = "analytics_invalid_period"
    kind = ErrorKind.VALIDATION
    title = "Invalid period"


class InvalidAsOf(DomainError):
    code = "analytics_invalid_as_of"
    kind = ErrorKind.VALIDATION
    title = "Invalid as_of"


class InvalidFunnel(DomainError):
    code = "analytics_invalid_funnel"
    kind = ErrorKind.VALIDATION
    title = "Invalid funnel"


class AmbiguousCurrency(DomainError):
    code = "analytics_ambiguous_currency"
    kind = ErrorKind.INVALID
    title = "Orders in several currencies"


class SnapshotNotFound(DomainError):
    code = "analytics_snapshot_not_found"
    kind = ErrorKind.NOT_FOUND
    title = "No snapshot"


class UnknownEngine(DomainError):
    code = "analytics_unknown_engine"
    kind = ErrorKind.VALIDATION
    title = "Unknown analytics engine"


# --- scores and segments ---------------------------------------------------------------


def quintile(rank: int, count: int) -> int:
    """The 1..5 score of the customer at 0-based minimum ``rank`` (worst first) among
    ``count`` customers. The engines evaluate the same integer expression."""
    if count <= 0 or not 0 <= rank < count:
        raise ValueError(f"rank {rank} outside 0..{count - 1}")
    return 1 + (5 * rank) // count


def fm_score(frequency_score: int, monetary_score: int) -> int:
    """The combined frequency-monetary score: the mean of F and M, rounded up."""
    return (frequency_score + monetary_score + 1) // 2


def rfm_segment(recency_score: int, frequency_score: int, monetary_score: int) -> RfmSegment:
    for name, score in (
        ("recency", recency_score),
        ("frequency", frequency_score),
        ("monetary", monetary_score),
    ):
        if not 1 <= score <= 5:
            raise ValueError(f"{name} score {score} outside 1..5")
    return _GRID[recency_score][fm_score(frequency_score, monetary_score) - 1]


def segment_grid() -> dict[tuple[int, int], RfmSegment]:
    """Every (recency score, FM score) cell and its segment, for the engines to evaluate."""
    return {(r, fm + 1): name for r, row in _GRID.items() for fm, name in enumerate(row)}


# --- parameters --------------------------------------------------------------------------

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_as_of(value: str | date | datetime, *, pointer: str = "/as_of") -> datetime:
    """``as_of`` as a naive UTC datetime. Accepts ``YYYY-MM-DD`` (midnight UTC), an ISO
    datetime with an offset, a date or an aware datetime; rejects naive datetimes (whose zone
    would be a guess)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidAsOf(
                "as_of must carry a time zone", [FieldProblem(pointer, "add an offset or Z")]
            )
        return value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(value, date):
        return datetime.combine(value, time())
    text = value.strip()
    try:
        if _DATE.match(text):
            return datetime.combine(date.fromisoformat(text), time())
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise InvalidAsOf(
            f"as_of {value!r} is not a date (YYYY-MM-DD) or an ISO datetime with an offset",
            [FieldProblem(pointer, "expected YYYY-MM-DD or e.g. 2026-11-01T00:00:00Z")],
        )
    return parsed.astimezone(UTC).replace(tzinfo=None)


def as_of_text(as_of: datetime) -> str:
    """The canonical spelling of a naive-UTC ``as_of`` in payloads and keys."""
    if as_of.time() == time():
        return as_of.date().isoformat()
    return as_of.isoformat() + "Z"


def parse_period(value: str, *, pointer: str = "/period") -> Period:
    try:
        return Period(value)
    except ValueError:
        raise InvalidPeriod(
            f"unknown period {value!r}; expected one of {', '.join(p.value for p in Period)}",
            [FieldProblem(pointer, "day, week or month")],
        ) from None


def parse_kpis(values: Sequence[str], *, pointer: str = "/kpis") -> list[Kpi]:
    known = {k.value: k for k in Kpi}
    unknown = [v for v in values if v not in known]
    if unknown:
        raise UnknownKpi(
            f"unknown KPI(s): {', '.join(unknown)}; known: {', '.join(known)}",
            [FieldProblem(pointer, f"unknown: {', '.join(unknown)}")],
        )
    return [known[v] for v in values] or list(Kpi)


def parse_segment_by(value: str, *, pointer: str = "/segment_by") -> SegmentBy:
    try:
        return SegmentBy(value)
    except ValueError:
        raise InvalidInput(
            f"unknown segmentation {value!r}; expected one of "
            f"{', '.join(s.value for s in SegmentBy)}",
            [FieldProblem(pointer, "all, rfm, value or channel")],
        ) from None


def check_funnel_steps(steps: Sequence[str], *, pointer: str = "/steps") -> list[str]:
    cleaned = [step.strip() for step in steps if step.strip()]
    if len(cleaned) < 2:
        raise InvalidFunnel(
            "a funnel needs at least two steps (event types)",
            [FieldProblem(pointer, "give two or more event types, in order")],
        )
    if len(set(cleaned)) != len(cleaned):
        raise InvalidFunnel(
            "a funnel step appears twice", [FieldProblem(pointer, "steps must be distinct")]
        )
    return cleaned


def period_start(day: date, period: Period) -> date:
    if period is Period.DAY:
        return day
    if period is Period.WEEK:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def next_period(start: date, period: Period) -> date:
    if period is Period.DAY:
        return start + timedelta(days=1)
    if period is Period.WEEK:
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def period_starts(first: date, as_of: datetime, period: Period) -> list[date]:
    """The starts of every period from the one holding ``first`` to the one holding the last
    instant before ``as_of``."""
    last = (as_of - timedelta(microseconds=1)).date()
    starts: list[date] = []
    current = period_start(first, period)
    while current <= last:
        starts.append(current)
        current = next_period(current, period)
    return starts


def months_between(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month


# --- ratios ------------------------------------------------------------------------------


def rate(numerator: int, denominator: int) -> float | None:
    """``numerator / denominator`` rounded half-even to ``RATE_DIGITS`` places; None when the
    denominator is zero (a rate of nothing is unknown, not zero)."""
    if denominator == 0:
        return None
    value = (Decimal(numerator) / Decimal(denominator)).quantize(
        _RATE_QUANTUM, rounding=ROUND_HALF_EVEN
    )
    return float(value)


def average_minor(total_minor: int, count: int) -> int | None:
    """A mean amount in whole minor units (half-even), None for an empty set."""
    if count == 0:
        return None
    return int((Decimal(total_minor) / Decimal(count)).quantize(Decimal(1), ROUND_HALF_EVEN))


# --- surveys and the programme's return --------------------------------------------------

NPS_SURVEY = "nps"
NPS_LOWEST, NPS_HIGHEST = 0, 10
PROMOTER_LOWEST = 9  # 9 and 10 promote
DETRACTOR_HIGHEST = 6  # 0 to 6 detract; 7 and 8 are passives, counted in the answers only


def net_promoter_score(promoters: int, detractors: int, answers: int) -> float | None:
    """The net promoter score, -100..100: (promoters - detractors) / answers x 100, rounded
    half-even to ``RATE_DIGITS`` places; None without answers."""
    if promoters < 0 or detractors < 0 or promoters + detractors > answers:
        raise ValueError(
            f"{promoters} promoters and {detractors} detractors among {answers} answers"
        )
    if answers == 0:
        return None
    value = (Decimal(100 * (promoters - detractors)) / Decimal(answers)).quantize(
        _RATE_QUANTUM, rounding=ROUND_HALF_EVEN
    )
    return float(value)


@dataclass(frozen=True)
class ProgrammeCost:
    """What one point of a programme costs the business, in minor units of ``currency``
    (None: not configured, or not a decimal >= 0)."""

    currency: str
    cost_per_point_minor: Decimal | None


def parse_cost_per_point(text: str | None) -> Decimal | None:
    """A programme's configured cost per point (a decimal string), None when it is missing
    or unusable (the ROI then says why it has no value rather than inventing a cost)."""
    if text is None:
        return None
    try:
        value = Decimal(text.strip())
    except ArithmeticError:
        return None
    return value if value.is_finite() and value >= 0 else None


@dataclass(frozen=True)
class Explained:
    """A figure, or None and the reason it has no value."""

    value: int | float | None
    reason: str | None = None


def programme_cost_minor(
    issued: Mapping[str, int], costs: Mapping[str, ProgrammeCost], currency: str | None
) -> Explained:
    """The cost of the points issued (programme code -> points) in minor units: the sum of
    each programme's points x its own cost per point, rounded half-even once, on the total.

    No value when a programme that issued points has no cost configured or counts its cost
    in another currency than ``currency`` (the report's; None: no orders to compare with).
    """
    total = Decimal(0)
    for programme, points in sorted(issued.items()):
        if points == 0:
            continue
        cost = costs.get(programme)
        if cost is None or cost.cost_per_point_minor is None:
            return Explained(None, f"no cost per point configured for programme {programme!r}")
        if currency is not None and cost.currency != currency:
            return Explained(
                None,
                f"programme {programme!r} costs points in {cost.currency}, "
                f"the revenue is in {currency}",
            )
        total += points * cost.cost_per_point_minor
    return Explained(int(total.quantize(Decimal(1), rounding=ROUND_HALF_EVEN)))


def programme_roi(
    *,
    member_revenue_minor: int,
    member_active: int,
    non_member_revenue_minor: int,
    non_member_active: int,
    cost: Explained,
) -> Explained:
    """The programme's return on its cost in a period, as a fraction (0.5: the members
    brought 1.5 times what they cost):

        (member revenue - member_active x non-member revenue per active non-member - cost)
        / cost

    The middle term is what the active members would have spent at the non-members' rate,
    so the numerator is the revenue the programme added, net of its cost. Rounded half-even
    to ``RATE_DIGITS`` places. No value (with the reason) without a cost, with a cost of
    zero, or without active non-members to compare with.
    """
    if cost.value is None:
        return Explained(None, cost.reason or "no programme cost")
    if cost.value == 0:
        return Explained(None, "the programme cost nothing in the period (no points issued)")
    if non_member_active == 0:
        return Explained(None, "no active non-members to compare the members with")
    expected = Decimal(member_active) * Decimal(non_member_revenue_minor) / non_member_active
    spent = Decimal(cost.value)
    value = ((Decimal(member_revenue_minor) - expected - spent) / spent).quantize(
        _RATE_QUANTUM, rounding=ROUND_HALF_EVEN
    )
    return Explained(float(value))
