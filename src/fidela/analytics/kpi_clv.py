"""The ``predicted_clv_minor`` KPI: the mean predicted CLV of each segment's customers.

One BG/NBD + Gamma-Gamma fit per report, as of the report's ``as_of`` (the CLV snapshot's
defaults: 52 weeks, 10 % a year, margin 1.0 = revenue CLV), not one per period: a prediction
is about the future from ``as_of``, so it belongs to the latest period only. Customers are the
buyers before ``as_of`` in the report's currency, grouped by the segment they hold at
``as_of`` (as every other KPI). No value (None) when the models cannot be fitted: too few
repeat buyers, no finite mean spend, no orders in the currency, or several currencies and
none chosen.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import ibis

from fidela.analytics import rules
from fidela.analytics.clv.errors import FitDidNotConverge, TooFewRepeatCustomers
from fidela.analytics.clv.operational import ClvCurrencyNotUsed, purchase_days
from fidela.analytics.clv.prediction import ClvSettings, ClvSpendUnbounded, predict_clv
from fidela.analytics.sources import Sources
from fidela.kernel.money import UnknownCurrency

_NOT_FITTED = (
    TooFewRepeatCustomers,
    FitDidNotConverge,
    ClvSpendUnbounded,
    ClvCurrencyNotUsed,
    UnknownCurrency,
    rules.AmbiguousCurrency,
)


def predicted_clv_by_segment(
    sources: Sources,
    as_of: datetime,
    *,
    currency: str | None,
    segments: ibis.Table | None,
    all_name: str,
    no_segment: str,
) -> dict[str, int | None]:
    """Segment name -> mean predicted CLV (minor units, half-even) of its buyers.

    ``segments`` maps ``seg_customer_id`` to ``seg_name`` (None: one segment ``all_name``);
    a buyer the table does not name is in ``no_segment``, as in the KPI report. An empty
    mapping when the models cannot be fitted."""
    try:
        days = purchase_days(sources, as_of, currency)
        prediction = predict_clv(days, as_of=as_of, settings=ClvSettings(), with_holdout=False)
    except _NOT_FITTED:
        return {}
    names: dict[int, str] = {}
    if segments is not None:
        for row in sources.rows(segments):
            names[int(row["seg_customer_id"])] = row["seg_name"] or no_segment
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    customers = prediction.summary.customer.tolist()
    for customer_id, value in zip(customers, prediction.clv_minor.tolist(), strict=True):
        name = all_name if segments is None else names.get(int(customer_id), no_segment)
        acc = sums[name]
        acc[0] += value
        acc[1] += 1
    return {name: rules.average_minor(total, count) for name, (total, count) in sums.items()}
