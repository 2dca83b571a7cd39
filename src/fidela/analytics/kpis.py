"""KPIs per segment and per period (day, week, month), from orders, members, the points
ledger and events.

The engines return integer counts and sums per (segment, period index); the ratios and the
running totals are computed in Python by ``rules`` so every engine gives the same numbers.
Definitions (period P, segment S; a customer's segment is the one they hold at ``as_of``):

- ``active_customers``: customers with an order in P; ``orders``, ``revenue_minor`` in P.
- ``average_basket_minor`` = revenue / orders; ``purchase_frequency`` = orders / active.
- ``repeat_purchase_rate``: share of P's active customers who had purchased before P.
- ``retention_rate``: share of the previous period's active customers active again in P;
  ``churn_rate`` = 1 - retention.
- ``historical_clv_minor``: revenue up to the end of P / customers who purchased up to then.
- ``predicted_clv_minor``: the mean predicted CLV of S's buyers from one BG/NBD + Gamma-Gamma
  fit as of ``as_of`` (52 weeks, 10 % a year, margin 1.0 = revenue CLV; see ``kpi_clv``).
  A prediction looks forward from ``as_of``, so it is reported on the latest period's row
  only, null on earlier ones, and null everywhere when the models cannot be fitted.
- ``active_member_rate``: active customers / members who had joined by the end of P.
- ``points_issued`` (earn entries), ``points_redeemed`` (spends net of cancellations and give
  backs), ``points_expired``; ``redemption_rate`` = redeemed / issued in P; ``breakage`` =
  expired / issued, both counted up to the end of P.
- ``nps``: ``survey.answered`` events of survey ``nps`` with a score 0..10 in P:
  (promoters 9-10 - detractors 0-6) / ``nps_answers`` x 100, per answer (a customer who
  answers twice counts twice); null without answers.
- ``referral_rate``: share of P's active customers (an order in P) who sent a
  ``referral.invited`` in P; ``referrals_converted``: ``referral.converted`` events in P
  (in the segment of the customer the event names).
- ``enrolment_rate``: customers enrolled in a programme (see ``sources``: the earlier of
  their ledger account's opening and first entry) by the end of P / customers known by then
  (not merged); a member counts from the later of joining and enrolling.
- ``programme_roi`` = (``member_revenue_minor`` - ``member_active_customers`` x the
  non-members' revenue per active non-member - ``programme_cost_minor``) / programme cost.
  A member in P is a customer enrolled by the end of P; the non-members' revenue is
  ``non_member_revenue_minor`` over (``active_customers`` - ``member_active_customers``).
  The cost is the points issued in P x each programme's cost per point. Null, with
  ``programme_roi_reason``, without a configured cost, a cost, or active non-members.
  The comparison group is the non-members, which the issue allows ("a comparable
  non-member or holdout group"); it flatters the programme: people who join are already the
  keener buyers (self-selection), so part of the gap would exist without any programme. A
  holdout (members drawn at random and kept out of the programme, see ``experiment``) is
  the unbiased comparison and should be preferred where one runs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import ibis

from fidela.analytics import kpi_clv, rules
from fidela.analytics.rfm import orders_before, rfm_table
from fidela.analytics.sources import Sources
from fidela.kernel.errors import FieldProblem

_EPOCH = date(1970, 1, 1)
_MONDAY = date(1970, 1, 5)  # the first Monday after the epoch: week numbers count from it
NO_SEGMENT = "no_purchase"
ALL = "all"

_SEGMENT_COLUMN = {
    rules.SegmentBy.RFM: "segment",
    rules.SegmentBy.VALUE: "value_segment",
    rules.SegmentBy.CHANNEL: "preferred_channel",
}


def period_number(instant: ibis.Value, period: rules.Period) -> ibis.Value:
    """An integer per period, consecutive periods differing by one, on every engine."""
    if period is rules.Period.MONTH:
        return (instant.year() * 12 + instant.month() - 1).cast("int64")
    day = instant.date().delta(ibis.literal(_EPOCH), unit="day").cast("int64")
    if period is rules.Period.WEEK:
        return ((day - (_MONDAY - _EPOCH).days) // 7).cast("int64")
    return day


def period_start_of(number: int, period: rules.Period) -> date:
    if period is rules.Period.MONTH:
        return date(number // 12, number % 12 + 1, 1)
    if period is rules.Period.WEEK:
        return _MONDAY + timedelta(days=7 * number)
    return _EPOCH + timedelta(days=number)


def _python_period_number(day: date, period: rules.Period) -> int:
    if period is rules.Period.MONTH:
        return day.year * 12 + day.month - 1
    days = (day - _EPOCH).days
    if period is rules.Period.WEEK:
        return (days - (_MONDAY - _EPOCH).days) // 7
    return days


def _with_segment(table: ibis.Table, segments: ibis.Table | None) -> ibis.Table:
    if segments is None:
        return table.mutate(seg=ibis.literal(ALL))
    joined = table.left_join(segments, table.customer_id == segments.seg_customer_id)
    return joined.mutate(seg=joined.seg_name.fill_null(NO_SEGMENT)).drop(
        "seg_customer_id", "seg_name"
    )


def kpi_report(
    sources: Sources,
    as_of: datetime,
    *,
    period: rules.Period = rules.Period.MONTH,
    periods: int = 12,
    segment_by: rules.SegmentBy = rules.SegmentBy.ALL,
    kpis: Sequence[rules.Kpi] = tuple(rules.Kpi),
    currency: str | None = None,
) -> dict[str, Any]:
    if periods < 1:
        raise rules.InvalidPeriod(
            "periods must be at least 1", [FieldProblem("/periods", "at least 1")]
        )
    orders = orders_before(sources, as_of, currency)
    segments: ibis.Table | None = None
    if segment_by is not rules.SegmentBy.ALL:
        table = rfm_table(orders, as_of)
        segments = table.select(
            seg_customer_id=table.customer_id, seg_name=table[_SEGMENT_COLUMN[segment_by]]
        )
    cut = ibis.literal(as_of)

    o = _with_segment(orders, segments)
    o = o.mutate(p=period_number(o.ordered_at, period))
    o = o.mutate(first_p=o.p.min().over(group_by=o.customer_id))
    order_rows = sources.rows(
        o.group_by(["seg", "p"]).aggregate(
            orders=o.count().cast("int64"),
            revenue=o.total_minor.sum().cast("int64"),
            active=o.customer_id.nunique().cast("int64"),
            new=o.customer_id.nunique(where=o.p == o.first_p).cast("int64"),
        )
    )
    active_pairs = o.select("seg", "customer_id", "p").distinct()
    later = active_pairs.select(later_customer_id=active_pairs.customer_id, later_p=active_pairs.p)
    kept = active_pairs.inner_join(
        later,
        (active_pairs.customer_id == later.later_customer_id)
        & (later.later_p == active_pairs.p + 1),
    )
    retained_rows = sources.rows(
        kept.group_by(["seg", "p"]).aggregate(retained=kept.customer_id.nunique().cast("int64"))
    )

    customers = sources.customers
    members = customers.filter((customers.status != "merged") & (customers.joined_at < cut))
    members = _with_segment(members, segments)
    members = members.mutate(p=period_number(members.joined_at, period))
    member_rows = sources.rows(
        members.group_by(["seg", "p"]).aggregate(joined=members.count().cast("int64"))
    )

    ledger = sources.ledger.filter(sources.ledger.at < cut)
    ledger = _with_segment(ledger, segments)
    ledger = ledger.mutate(p=period_number(ledger.at, period))
    ledger_rows = sources.rows(
        ledger.group_by(["seg", "p", "kind"]).aggregate(points=ledger.points.sum().cast("int64"))
    )

    last = (as_of - timedelta(microseconds=1)).date()
    last_p = _python_period_number(last, period)
    first_p = last_p - periods + 1
    return _assemble(
        as_of=as_of,
        period=period,
        segment_by=segment_by,
        kpis=kpis,
        currency=currency,
        window=range(first_p, last_p + 1),
        order_rows=order_rows,
        retained_rows=retained_rows,
        member_rows=member_rows,
        ledger_rows=ledger_rows,
        engagement=engagement(sources, as_of, period, segments, first_p),
        programme=_programme_rows(sources, as_of, period, segments, first_p, o, active_pairs, kpis),
        predicted_clv=kpi_clv.predicted_clv_by_segment(
            sources,
            as_of,
            currency=currency,
            segments=segments,
            all_name=ALL,
            no_segment=NO_SEGMENT,
        )
        if rules.Kpi.PREDICTED_CLV in kpis
        else {},
    )


def engagement(
    sources: Sources,
    as_of: datetime,
    period: rules.Period,
    segments: ibis.Table | None,
    first_p: int,
) -> list[dict[str, Any]]:
    """Events and distinct customers per segment, period and channel, with email opens,
    clicks and the click-to-open rate where those events exist."""
    events = sources.events.filter(sources.events.occurred_at < ibis.literal(as_of))
    events = events.filter(events.customer_id.notnull())
    events = _with_segment(events, segments)
    events = events.mutate(
        p=period_number(events.occurred_at, period), channel=events.channel.fill_null("unknown")
    )
    events = events.filter(events.p >= first_p)
    rows = sources.rows(
        events.group_by(["seg", "p", "channel"]).aggregate(
            events=events.count().cast("int64"),
            customers=events.customer_id.nunique().cast("int64"),
            opens=(events.type == "email.opened").sum().cast("int64"),
            clicks=(events.type == "email.clicked").sum().cast("int64"),
        )
    )
    out = [
        {
            "segment": row["seg"],
            "period_start": period_start_of(row["p"], period).isoformat(),
            "channel": row["channel"],
            "events": row["events"],
            "customers": row["customers"],
            "email_opens": row["opens"],
            "email_clicks": row["clicks"],
            "click_to_open_rate": rules.rate(row["clicks"], row["opens"]),
        }
        for row in rows
    ]
    return sorted(out, key=lambda r: (r["segment"], r["period_start"], r["channel"]))


_PROGRAMME_EVENTS = ("survey.answered", "referral.invited", "referral.converted")
_K = rules.Kpi
# Which query each programme KPI needs: a report asking for none of them runs none.
_NEEDS_EVENTS = {_K.NPS, _K.NPS_ANSWERS, _K.REFERRALS_CONVERTED}
_NEEDS_MEMBER_ORDERS = {
    _K.PROGRAMME_ROI,
    _K.MEMBER_ACTIVE_CUSTOMERS,
    _K.MEMBER_REVENUE,
    _K.NON_MEMBER_REVENUE,
}
_NEEDS_COST = {_K.PROGRAMME_ROI, _K.PROGRAMME_COST}


@dataclass(frozen=True)
class _ProgrammeRows:
    """The counts and sums behind NPS, referrals, enrolment and programme ROI, per
    (segment, period number)."""

    events: dict[tuple[str, int], dict[str, int]]  # answers, promoters, detractors, converted
    referrers: dict[tuple[str, int], int]
    enrolled: dict[tuple[str, int], int]  # customers counted as members from that period on
    member_orders: dict[tuple[str, int], dict[str, int]]  # revenue, active
    issued: dict[tuple[str, int], dict[str, int]]  # programme -> points earned
    costs: dict[str, rules.ProgrammeCost]

    def keys(self) -> set[tuple[str, int]]:
        return {*self.events, *self.referrers, *self.enrolled, *self.member_orders, *self.issued}


def _keyed(rows: list[dict[str, Any]]) -> dict[tuple[str, int], dict[str, int]]:
    return {(r["seg"], r["p"]): r for r in rows}


def _programme_rows(
    sources: Sources,
    as_of: datetime,
    period: rules.Period,
    segments: ibis.Table | None,
    first_p: int,
    orders: ibis.Table,
    active_pairs: ibis.Table,
    kpis: Sequence[rules.Kpi],
) -> _ProgrammeRows:
    """``orders`` carry ``seg`` and ``p``; ``active_pairs`` are the distinct (seg,
    customer_id, p) with an order. Everything the engines return is an integer; only the
    queries ``kpis`` need are run."""
    wanted = set(kpis)
    cut = ibis.literal(as_of)
    events = sources.events
    events = events.filter(
        (events.occurred_at < cut)
        & events.customer_id.notnull()
        & events.type.isin(_PROGRAMME_EVENTS)
    )
    events = _with_segment(events, segments)
    events = events.mutate(p=period_number(events.occurred_at, period))
    events = events.filter(events.p >= first_p)
    answered = (
        (events.type == "survey.answered")
        & (events.survey == rules.NPS_SURVEY)
        & events.score.between(rules.NPS_LOWEST, rules.NPS_HIGHEST)
    ).fill_null(False)
    event_rows = (
        sources.rows(
            events.group_by(["seg", "p"]).aggregate(
                answers=answered.sum().cast("int64"),
                promoters=(answered & (events.score >= rules.PROMOTER_LOWEST)).sum().cast("int64"),
                detractors=(answered & (events.score <= rules.DETRACTOR_HIGHEST))
                .sum()
                .cast("int64"),
                converted=(events.type == "referral.converted").sum().cast("int64"),
            )
        )
        if wanted & _NEEDS_EVENTS
        else []
    )

    invites = events.filter(events.type == "referral.invited")
    invites = invites.select(inviter_id=invites.customer_id, invite_p=invites.p).distinct()
    referring = active_pairs.inner_join(
        invites,
        (active_pairs.customer_id == invites.inviter_id) & (active_pairs.p == invites.invite_p),
    )
    referrer_rows = (
        sources.rows(
            referring.group_by(["seg", "p"]).aggregate(
                referrers=referring.customer_id.nunique().cast("int64")
            )
        )
        if _K.REFERRAL_RATE in wanted
        else []
    )

    # A customer is a member from their earliest enrolment in any programme on.
    memberships = sources.memberships.filter(sources.memberships.enrolled_at < cut)
    first = memberships.group_by("customer_id").aggregate(enrolled_at=memberships.enrolled_at.min())
    first = first.select(member_id=first.customer_id, enrolled_at=first.enrolled_at)
    customers = sources.customers
    known = customers.filter((customers.status != "merged") & (customers.joined_at < cut))
    enrolled = known.inner_join(first, known.customer_id == first.member_id)
    enrolled = _with_segment(enrolled.select("customer_id", "joined_at", "enrolled_at"), segments)
    # Counted from the later of joining and enrolling, so members never outnumber customers.
    enrolled = enrolled.mutate(
        p=ibis.greatest(
            period_number(enrolled.joined_at, period), period_number(enrolled.enrolled_at, period)
        )
    )
    enrolled_rows = (
        sources.rows(
            enrolled.group_by(["seg", "p"]).aggregate(members=enrolled.count().cast("int64"))
        )
        if _K.ENROLMENT_RATE in wanted
        else []
    )

    member_since = first.select(
        member_id=first.member_id, member_p=period_number(first.enrolled_at, period)
    )
    member_orders = orders.filter(orders.p >= first_p).inner_join(
        member_since, orders.customer_id == member_since.member_id
    )
    member_orders = member_orders.filter(member_orders.member_p <= member_orders.p)
    member_rows = (
        sources.rows(
            member_orders.group_by(["seg", "p"]).aggregate(
                revenue=member_orders.total_minor.sum().cast("int64"),
                active=member_orders.customer_id.nunique().cast("int64"),
            )
        )
        if wanted & _NEEDS_MEMBER_ORDERS
        else []
    )

    ledger = sources.ledger
    earned = ledger.filter((ledger.at < cut) & (ledger.kind == "earn"))
    earned = _with_segment(earned, segments)
    earned = earned.mutate(p=period_number(earned.at, period))
    earned = earned.filter(earned.p >= first_p)
    issued: dict[tuple[str, int], dict[str, int]] = defaultdict(dict)
    costs: dict[str, rules.ProgrammeCost] = {}
    if wanted & _NEEDS_COST:
        for row in sources.rows(
            earned.group_by(["seg", "p", "programme"]).aggregate(
                points=earned.points.sum().cast("int64")
            )
        ):
            issued[(row["seg"], row["p"])][row["programme"]] = row["points"]
        costs = {
            row["programme"]: rules.ProgrammeCost(
                row["currency"], rules.parse_cost_per_point(row["cost_per_point_minor"])
            )
            for row in sources.rows(sources.programmes)
        }
    return _ProgrammeRows(
        events=_keyed(event_rows),
        referrers={(r["seg"], r["p"]): r["referrers"] for r in referrer_rows},
        enrolled={(r["seg"], r["p"]): r["members"] for r in enrolled_rows},
        member_orders=_keyed(member_rows),
        issued=dict(issued),
        costs=costs,
    )


def _programme_values(
    programme: _ProgrammeRows,
    key: tuple[str, int],
    *,
    active: int,
    revenue: int,
    enrolled_to_date: int,
    customers_to_date: int,
    currency: str | None,
) -> tuple[dict[rules.Kpi, Any], str | None]:
    """The programme KPIs of one (segment, period) and why the ROI has no value, if so."""
    events = programme.events.get(key, {})
    answers = events.get("answers", 0)
    members = programme.member_orders.get(key, {})
    member_revenue, member_active = members.get("revenue", 0), members.get("active", 0)
    cost = rules.programme_cost_minor(programme.issued.get(key, {}), programme.costs, currency)
    roi = rules.programme_roi(
        member_revenue_minor=member_revenue,
        member_active=member_active,
        non_member_revenue_minor=revenue - member_revenue,
        non_member_active=active - member_active,
        cost=cost,
    )
    values: dict[rules.Kpi, Any] = {
        rules.Kpi.NPS: rules.net_promoter_score(
            events.get("promoters", 0), events.get("detractors", 0), answers
        ),
        rules.Kpi.NPS_ANSWERS: answers,
        rules.Kpi.REFERRAL_RATE: rules.rate(programme.referrers.get(key, 0), active),
        rules.Kpi.REFERRALS_CONVERTED: events.get("converted", 0),
        rules.Kpi.ENROLMENT_RATE: rules.rate(enrolled_to_date, customers_to_date),
        rules.Kpi.PROGRAMME_ROI: roi.value,
        rules.Kpi.MEMBER_ACTIVE_CUSTOMERS: member_active,
        rules.Kpi.MEMBER_REVENUE: member_revenue,
        rules.Kpi.NON_MEMBER_REVENUE: revenue - member_revenue,
        rules.Kpi.PROGRAMME_COST: cost.value,
    }
    return values, roi.reason


def _assemble(
    *,
    as_of: datetime,
    period: rules.Period,
    segment_by: rules.SegmentBy,
    kpis: Sequence[rules.Kpi],
    currency: str | None,
    window: range,
    order_rows: list[dict[str, Any]],
    retained_rows: list[dict[str, Any]],
    member_rows: list[dict[str, Any]],
    ledger_rows: list[dict[str, Any]],
    engagement: list[dict[str, Any]],
    programme: _ProgrammeRows,
    predicted_clv: dict[str, int | None],
) -> dict[str, Any]:
    by_order: dict[tuple[str, int], dict[str, int]] = {(r["seg"], r["p"]): r for r in order_rows}
    retained = {(r["seg"], r["p"]): r["retained"] for r in retained_rows}
    joined = {(r["seg"], r["p"]): r["joined"] for r in member_rows}
    points: dict[tuple[str, int], dict[str, int]] = defaultdict(dict)
    for r in ledger_rows:
        points[(r["seg"], r["p"])][r["kind"]] = r["points"]
    names = sorted({key[0] for key in (*by_order, *joined, *points, *programme.keys())})
    series = []
    for seg in names:
        revenue_to_date = buyers_to_date = members_to_date = 0
        enrolled_to_date = 0
        issued_to_date = expired_to_date = 0
        numbers = sorted(
            {p for (s, p) in (*by_order, *joined, *points, *programme.keys()) if s == seg}
            | set(window)
        )
        for p in numbers:
            stats = by_order.get((seg, p), {})
            orders, revenue = stats.get("orders", 0), stats.get("revenue", 0)
            active, new = stats.get("active", 0), stats.get("new", 0)
            revenue_to_date += revenue
            buyers_to_date += new
            members_to_date += joined.get((seg, p), 0)
            enrolled_to_date += programme.enrolled.get((seg, p), 0)
            moves = points.get((seg, p), {})
            issued = moves.get("earn", 0)
            redeemed = -(moves.get("spend", 0) + moves.get("cancel", 0) + moves.get("give_back", 0))
            expired = -moves.get("expire", 0)
            issued_to_date += issued
            expired_to_date += expired
            if p not in window:
                continue
            previous = by_order.get((seg, p - 1), {}).get("active", 0)
            retention = rules.rate(retained.get((seg, p - 1), 0), previous)
            values: dict[rules.Kpi, Any] = {
                rules.Kpi.ACTIVE_CUSTOMERS: active,
                rules.Kpi.ORDERS: orders,
                rules.Kpi.REVENUE: revenue,
                rules.Kpi.AVERAGE_BASKET: rules.average_minor(revenue, orders),
                rules.Kpi.PURCHASE_FREQUENCY: rules.rate(orders, active),
                rules.Kpi.REPEAT_PURCHASE_RATE: rules.rate(active - new, active),
                rules.Kpi.RETENTION_RATE: retention,
                rules.Kpi.CHURN_RATE: None
                if retention is None
                else rules.rate(previous - retained.get((seg, p - 1), 0), previous),
                rules.Kpi.HISTORICAL_CLV: rules.average_minor(revenue_to_date, buyers_to_date),
                rules.Kpi.PREDICTED_CLV: predicted_clv.get(seg) if p == window[-1] else None,
                rules.Kpi.ACTIVE_MEMBER_RATE: rules.rate(active, members_to_date),
                rules.Kpi.POINTS_ISSUED: issued,
                rules.Kpi.POINTS_REDEEMED: redeemed,
                rules.Kpi.POINTS_EXPIRED: expired,
                rules.Kpi.REDEMPTION_RATE: rules.rate(redeemed, issued),
                rules.Kpi.BREAKAGE: rules.rate(expired_to_date, issued_to_date),
            }
            programme_values, roi_reason = _programme_values(
                programme,
                (seg, p),
                active=active,
                revenue=revenue,
                enrolled_to_date=enrolled_to_date,
                customers_to_date=members_to_date,
                currency=currency,
            )
            values.update(programme_values)
            row: dict[str, Any] = {
                "segment": seg,
                "period_start": period_start_of(p, period).isoformat(),
            }
            row.update({kpi.value: values[kpi] for kpi in kpis})
            if rules.Kpi.PROGRAMME_ROI in kpis:
                row["programme_roi_reason"] = roi_reason
            series.append(row)
    return {
        "as_of": rules.as_of_text(as_of),
        "period": period.value,
        "segment_by": segment_by.value,
        "currency": currency,
        "kpis": [kpi.value for kpi in kpis],
        "units": {
            "*_minor": "integer minor units of the currency",
            "*_rate, breakage": "fraction 0..1, 6 decimals; null when the base is empty",
            "nps": "net promoter score -100..100, 6 decimals; null without answers",
            "programme_roi": "programme return per unit of its cost (0.5 = 50 %), 6 decimals; "
            "null with the reason in programme_roi_reason",
            "purchase_frequency": "orders per active customer, 6 decimals",
            "predicted_clv_minor": "mean predicted CLV of the segment's buyers as of as_of, "
            "on the latest period only; null when the CLV models cannot be fitted",
            "points_*": "whole points",
            "period_start": "first day of the period (weeks start on Monday, UTC)",
        },
        "series": series,
        "engagement": [e for e in engagement if period_start_in(e, window, period)],
    }


def period_start_in(row: dict[str, Any], window: range, period: rules.Period) -> bool:
    return _python_period_number(date.fromisoformat(row["period_start"]), period) in window
