"""The CLV models' input from the analytics sources: one row per (customer, purchase day).

An order's value is what the customer kept: ``total_minor - returned_minor`` (integer minor
units). A fully returned order (value 0) is not a purchase: counting it would add a repeat
purchase day worth nothing. Days are UTC calendar days of ``ordered_at``; only orders strictly
before ``as_of`` are read, in one currency (mixing currencies would add euros to yen).

The engine groups the orders per (customer, day) and sums their values, so what crosses into
Python is at most one row per purchase day; the sums are integers, so every engine hands over
the same arrays and the fit that follows is identical.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from fidela.analytics import rules
from fidela.analytics.rfm import orders_before
from fidela.analytics.sources import Sources
from fidela.kernel.errors import FieldProblem, InvalidInput
from fidela.kernel.money import parse_currency


class ClvCurrencyNotUsed(InvalidInput):
    """A currency was asked for that no order before ``as_of`` uses."""

    code = "clv_currency_not_used"
    title = "No orders in that currency"


@dataclass(frozen=True)
class PurchaseDays:
    """Per (customer, UTC day) with a kept purchase: its total value in minor units.

    Sorted by customer then day; ``currency`` is None only when there are no orders at all.
    """

    customer: npt.NDArray[np.int64]
    day: npt.NDArray[np.datetime64]
    value_minor: npt.NDArray[np.int64]
    currency: str | None

    @property
    def size(self) -> int:
        return int(self.customer.size)


def naive_utc(as_of: datetime) -> datetime:
    """``as_of`` as the analytics compare it: naive UTC (an aware instant is converted)."""
    return as_of if as_of.tzinfo is None else as_of.astimezone(UTC).replace(tzinfo=None)


def order_currency(sources: Sources, as_of: datetime, currency: str | None) -> str | None:
    """The currency to model: the one given (which orders before ``as_of`` must use), or the
    only one they use (``AmbiguousCurrency`` when they use several, as for RFM and KPIs).
    None when there are no orders at all."""
    as_of = naive_utc(as_of)
    orders = orders_before(sources, as_of)
    found = sorted(row["currency"] for row in sources.rows(orders.select("currency").distinct()))
    if currency is not None:
        code = parse_currency(currency)
        if code not in found:
            used = ", ".join(found) if found else "none"
            raise ClvCurrencyNotUsed(
                f"no order before {rules.as_of_text(as_of)} is in {code} (orders use: {used})",
                [FieldProblem("/currency", f"one of: {used}")],
            )
        return code
    if len(found) > 1:
        raise rules.AmbiguousCurrency(
            f"orders before {rules.as_of_text(as_of)} use {', '.join(found)}; choose one",
            [FieldProblem("/currency", f"one of {', '.join(found)}")],
        )
    return found[0] if found else None


def purchase_days(sources: Sources, as_of: datetime, currency: str | None) -> PurchaseDays:
    """Every kept purchase day before ``as_of`` in ``currency`` (resolved by
    ``order_currency``), grouped and summed by the engine."""
    as_of = naive_utc(as_of)
    code = order_currency(sources, as_of, currency)
    if code is None:
        empty = np.zeros(0, dtype=np.int64)
        return PurchaseDays(empty, empty.astype("datetime64[D]"), empty, None)
    orders = orders_before(sources, as_of, code)
    kept = orders.mutate(
        value=(orders.total_minor - orders.returned_minor).cast("int64"),
        day=orders.ordered_at.date(),
    )
    kept = kept.filter(kept.value > 0)
    daily = (
        kept.group_by(["customer_id", "day"])
        .aggregate(value_minor=kept.value.sum().cast("int64"))
        .order_by(["customer_id", "day"])
    )
    table: pa.Table = sources.arrow(daily)
    customer = np.asarray(table["customer_id"].to_numpy(), dtype=np.int64)
    day = np.asarray(table["day"].to_numpy(), dtype="datetime64[D]")
    value = np.asarray(table["value_minor"].to_numpy(), dtype=np.int64)
    # Engines may hand the rows back in any order despite the sort (Spark's collect of a
    # sorted frame keeps it, but nothing promises it); one stable sort makes them canonical.
    order = np.lexsort((day.astype(np.int64), customer))
    return PurchaseDays(customer[order], day[order], value[order], code)
