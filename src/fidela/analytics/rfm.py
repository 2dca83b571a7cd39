"""Per-customer purchase summary, RFM scores and segments, as Ibis expressions.

The summary follows the published CDNOW convention (and lifetimes'
``summary_data_from_transaction_data``): purchases are counted per UTC day, ``frequency`` is
the number of days with a purchase after the first, ``recency`` the days from the first to
the last purchase day, ``T`` the days from the first purchase day to ``as_of``'s date, and
``monetary_value`` the mean value of the repeat purchase days (minor units, float64; 0 without
repeats). RFM uses orders, not days: R = days since the last purchase, F = orders, M = total
value, each scored in quintiles (see ``rules``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import ibis

from fidela.analytics import rules
from fidela.analytics.sources import Sources


def orders_before(sources: Sources, as_of: datetime, currency: str | None = None) -> ibis.Table:
    orders = sources.orders
    orders = orders.filter(orders.ordered_at < ibis.literal(as_of))
    if currency is not None:
        orders = orders.filter(orders.currency == currency)
    return orders


def customer_summary(orders: ibis.Table, as_of: datetime) -> ibis.Table:
    """One row per customer with a purchase: ``customer_id, orders, purchase_days, first_day,
    last_day, frequency, recency, T, days_since_last, total_minor, repeat_value_minor,
    monetary_value, orders_last_year``. ``orders`` must already be cut at ``as_of``."""
    as_of_day = ibis.literal(as_of.date())
    # A date literal computed here, compared with each day as it is: no per-row day arithmetic.
    year_ago = ibis.literal(as_of.date() - timedelta(days=rules.YEAR_DAYS))
    per_order = orders.mutate(day=orders.ordered_at.date())
    # Each customer's orders in day order: an order starts a purchase day when the previous
    # one fell on another day (orders of one day are adjacent, whatever their order among
    # themselves), and the smallest day over the customer's orders is the first. Ordering by
    # the day rather than the instant sorts 4-byte dates, a little cheaper. One window and one
    # grouping by customer, instead of grouping nearly every order into its own (customer,
    # day) row and grouping those again: less CPU on DuckDB, and the window's partitions
    # spread over threads (docs/benchmarks.md).
    by_day = ibis.window(group_by=per_order.customer_id, order_by=per_order.day)
    marked = per_order.mutate(
        previous_day=per_order.day.lag().over(by_day),
        first_day=per_order.day.min().over(by_day),
    )
    new_day = marked.previous_day.isnull() | (marked.previous_day != marked.day)
    summary = marked.group_by("customer_id").aggregate(
        orders=marked.count().cast("int64"),
        purchase_days=ibis.ifelse(new_day, 1, 0).sum().cast("int64"),
        first_day=marked.day.min(),
        last_day=marked.day.max(),
        total_minor=marked.total_minor.sum().cast("int64"),
        first_value=ibis.ifelse(marked.day == marked.first_day, marked.total_minor, 0).sum(),
        orders_last_year=ibis.ifelse(marked.day >= year_ago, 1, 0).sum(),
    )
    frequency = summary.purchase_days - 1
    repeat_value = (summary.total_minor - summary.first_value).cast("int64")
    return summary.select(
        "customer_id",
        "orders",
        "purchase_days",
        "first_day",
        "last_day",
        frequency=frequency.cast("int64"),
        recency=summary.last_day.delta(summary.first_day, unit="day").cast("int64"),
        T=as_of_day.delta(summary.first_day, unit="day").cast("int64"),
        days_since_last=as_of_day.delta(summary.last_day, unit="day").cast("int64"),
        total_minor="total_minor",
        repeat_value_minor=repeat_value,
        monetary_value=ibis.ifelse(
            frequency > 0, repeat_value.cast("float64") / frequency.cast("float64"), 0.0
        ),
        orders_last_year=summary.orders_last_year.cast("int64"),
    )


def _score(rank: ibis.Value, count: ibis.Value) -> ibis.Value:
    # rules.quintile, evaluated by the engine: integer arithmetic only.
    return ((rank * 5) // count + 1).cast("int64")


def _segment_case(r: ibis.Value, fm: ibis.Value) -> ibis.Value:
    return ibis.cases(
        *(
            ((r == cell[0]) & (fm == cell[1]), name.value)
            for cell, name in rules.segment_grid().items()
        )
    )


def preferred_channels(orders: ibis.Table) -> ibis.Table:
    """Each customer's most used purchase channel (ties go to the alphabetically first)."""
    counts = orders.group_by(["customer_id", "channel"]).aggregate(n=orders.count())
    ranked = counts.mutate(
        position=ibis.row_number().over(
            group_by=counts.customer_id, order_by=[ibis.desc(counts.n), counts.channel]
        )
    )
    return ranked.filter(ranked.position == 0).select("customer_id", preferred_channel="channel")


def rfm_table(orders: ibis.Table, as_of: datetime) -> ibis.Table:
    """The summary plus ``r, f, m, fm`` scores, ``segment``, ``value_segment`` and
    ``preferred_channel`` for every customer with a purchase before ``as_of``."""
    summary = customer_summary(orders, as_of)
    everyone = ibis.window()
    scored = summary.mutate(
        n=summary.customer_id.count().over(everyone),
        r_rank=ibis.rank().over(order_by=ibis.desc(summary.days_since_last)),
        f_rank=ibis.rank().over(order_by=summary.orders),
        m_rank=ibis.rank().over(order_by=summary.total_minor),
        top_rank=ibis.rank().over(order_by=ibis.desc(summary.total_minor)),
    )
    scored = scored.mutate(
        r=_score(scored.r_rank, scored.n),
        f=_score(scored.f_rank, scored.n),
        m=_score(scored.m_rank, scored.n),
    )
    scored = scored.mutate(fm=((scored.f + scored.m + 1) // 2).cast("int64"))
    value_segment = ibis.cases(
        (scored.top_rank * rules.VIP_SHARE_DENOMINATOR < scored.n, rules.ValueSegment.VIP.value),
        (
            scored.orders_last_year <= rules.OCCASIONAL_MAX_ORDERS_LAST_YEAR,
            rules.ValueSegment.OCCASIONAL.value,
        ),
        else_=rules.ValueSegment.REGULAR.value,
    )
    scored = scored.mutate(segment=_segment_case(scored.r, scored.fm), value_segment=value_segment)
    channels = preferred_channels(orders)
    joined = scored.left_join(channels, scored.customer_id == channels.customer_id)
    return joined.select(
        scored.customer_id,
        *(
            scored[name]
            for name in (
                "orders",
                "frequency",
                "recency",
                "T",
                "days_since_last",
                "total_minor",
                "repeat_value_minor",
                "monetary_value",
                "r",
                "f",
                "m",
                "segment",
                "value_segment",
            )
        ),
        preferred_channel=channels.preferred_channel,
    )


def rfm_report(
    sources: Sources, as_of: datetime, *, currency: str | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The snapshot payload (counts and means per segment) and the per-customer rows."""
    orders = orders_before(sources, as_of, currency)
    table = rfm_table(orders, as_of)
    rows = sorted(sources.rows(table), key=lambda row: row["customer_id"])
    payload = summarise(rows, as_of=as_of, currency=currency)
    return payload, rows


def summarise(
    rows: list[dict[str, Any]], *, as_of: datetime, currency: str | None
) -> dict[str, Any]:
    """Segment sizes and means from the per-customer rows (integers summed in Python, so the
    payload is identical whichever engine produced the rows)."""
    total = len(rows)
    # One pass over the rows (a nightly snapshot holds every buyer): sums per group.
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for row in rows:
        for key in ("segment", "value_segment", "preferred_channel"):
            acc = sums[(key, row[key])]
            acc[0] += 1
            acc[1] += row["days_since_last"]
            acc[2] += row["orders"]
            acc[3] += row["total_minor"]

    def group(key: str, names: list[str]) -> list[dict[str, Any]]:
        out = []
        for name in names:
            count, days, orders, value = sums.get((key, name), [0, 0, 0, 0])
            out.append(
                {
                    "name": name,
                    "customers": count,
                    "share": rules.rate(count, total),
                    "mean_days_since_last": rules.rate(days, count),
                    "mean_orders": rules.rate(orders, count),
                    "total_minor": value,
                    "mean_total_minor": rules.average_minor(value, count),
                }
            )
        return out

    channels = sorted({name for key, name in sums if key == "preferred_channel" and name})
    return {
        "as_of": rules.as_of_text(as_of),
        "currency": currency,
        "units": {
            "total_minor": "integer minor units of the currency",
            "share": "fraction 0..1, 6 decimals",
            "days": "whole UTC days before as_of",
        },
        "customers": total,
        "segments": group("segment", [s.value for s in rules.RfmSegment]),
        "value_segments": group("value_segment", [v.value for v in rules.ValueSegment]),
        "channel_segments": group("preferred_channel", channels),
    }
