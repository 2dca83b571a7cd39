"""The cohort retention matrix: customers by acquisition month (the month of their first
purchase) and months since, counting who purchased again in each later month."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import ibis

from fidela.analytics import rules
from fidela.analytics.rfm import orders_before
from fidela.analytics.sources import Sources


def _month_number(value: ibis.Value) -> ibis.Value:
    return (value.year() * 12 + value.month() - 1).cast("int64")


def cohort_counts(orders: ibis.Table) -> ibis.Table:
    """``cohort_month`` (year*12 + month - 1), ``months_since`` and ``customers``: how many of
    the cohort purchased in that month. Month 0 is the cohort's size."""
    monthly = orders.select("customer_id", month=_month_number(orders.ordered_at)).distinct()
    firsts = monthly.group_by("customer_id").aggregate(cohort_month=monthly.month.min())
    joined = monthly.inner_join(firsts, "customer_id")
    return joined.group_by(
        [joined.cohort_month, (joined.month - joined.cohort_month).name("months_since")]
    ).aggregate(customers=joined.customer_id.nunique().cast("int64"))


def _month_start(number: int) -> date:
    return date(number // 12, number % 12 + 1, 1)


def cohort_report(
    sources: Sources,
    as_of: datetime,
    *,
    currency: str | None = None,
    since: date | None = None,
) -> dict[str, Any]:
    """The matrix as rows: each cohort's size, and per month since acquisition the number of
    its customers who purchased and their share of the cohort. Cohorts before ``since``
    (a month) are left out; later months of the last cohorts are absent, not zero."""
    rows = sources.rows(cohort_counts(orders_before(sources, as_of, currency)))
    cells: dict[int, dict[int, int]] = {}
    for row in rows:
        cells.setdefault(row["cohort_month"], {})[row["months_since"]] = row["customers"]
    last = as_of - timedelta(microseconds=1)  # the month of the last instant counted
    last_month = last.year * 12 + last.month - 1
    cohorts = []
    for month in sorted(cells):
        start = _month_start(month)
        if since is not None and start < since.replace(day=1):
            continue
        size = cells[month].get(0, 0)
        retention = []
        for months_since in range(last_month - month + 1):
            count = cells[month].get(months_since, 0)
            retention.append(
                {
                    "months_since": months_since,
                    "customers": count,
                    "rate": rules.rate(count, size),
                }
            )
        cohorts.append({"cohort": start.isoformat()[:7], "size": size, "retention": retention})
    return {
        "as_of": rules.as_of_text(as_of),
        "currency": currency,
        "units": {
            "cohort": "month of first purchase, YYYY-MM (UTC)",
            "rate": "fraction of the cohort who purchased in that month, 6 decimals",
        },
        "cohorts": cohorts,
    }
