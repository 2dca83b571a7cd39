"""Who bought what, as of a date: the implicit customer x product matrix.

The purchase pairs are an Ibis expression (orders joined with their lines, portable across
engines); the matrix is a scipy CSR of purchase counts built in memory from those pairs, with
the id <-> index maps needed to read recommendations back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import ibis.expr.types as ir
import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse


def _epoch(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("instants must be timezone-aware")
    return int(moment.timestamp())


def purchase_pairs(
    orders: ir.Table, lines: ir.Table, *, start: datetime | None = None, end: datetime
) -> ir.Table:
    """(customer_id, product_id, purchases) for orders placed in ``[start, end)``: how many
    orders of the customer held the product (quantity is ignored: six yoghurts in one basket
    are one decision). Instants compare as epoch seconds, so naive-UTC and zoned timestamp
    columns behave the same on every engine."""
    at = orders.ordered_at.epoch_seconds().cast("int64")
    window = at < _epoch(end)
    if start is not None:
        window &= at >= _epoch(start)
    chosen = orders.filter(window).select("order_id", "customer_id")
    joined = chosen.inner_join(lines.select("order_id", "product_id"), "order_id")
    pairs = joined.select("customer_id", "order_id", "product_id").distinct()
    return pairs.group_by(["customer_id", "product_id"]).aggregate(purchases=pairs.count())


def product_categories(lines: ir.Table) -> ir.Table:
    """(product_id, category): the category a product was sold under (the smallest name if
    lines disagree, so the answer does not depend on row order)."""
    return lines.group_by("product_id").aggregate(category=lines.category.min())


def categories_for(
    products: npt.NDArray[np.object_], frame: pd.DataFrame
) -> npt.NDArray[np.object_]:
    """The category of each product of ``products`` from a (product_id, category) frame
    ("" where unknown, which groups the unknowns together)."""
    known = dict(zip(frame["product_id"].tolist(), frame["category"].tolist(), strict=True))
    return np.asarray([known.get(p) or "" for p in products.tolist()], dtype=object)


@dataclass(frozen=True)
class Interactions:
    """A customer x product count matrix and its id maps."""

    matrix: sparse.csr_matrix
    customers: npt.NDArray[np.object_]
    products: npt.NDArray[np.object_]

    def customer_index(self) -> dict[object, int]:
        return {c: i for i, c in enumerate(self.customers.tolist())}

    def product_index(self) -> dict[object, int]:
        return {p: i for i, p in enumerate(self.products.tolist())}


def interactions_from_pairs(
    pairs: pd.DataFrame, *, products: npt.NDArray[np.object_] | None = None
) -> Interactions:
    """The matrix of a (customer_id, product_id, purchases) frame. ``products`` fixes the
    item axis (pairs naming other products are dropped), so a train and a test matrix line up."""
    customers, rows = np.unique(pairs["customer_id"].to_numpy(dtype=object), return_inverse=True)
    if products is None:
        products, cols = np.unique(pairs["product_id"].to_numpy(dtype=object), return_inverse=True)
        keep = np.ones(len(pairs), dtype=bool)
    else:
        index = {p: i for i, p in enumerate(products.tolist())}
        cols = np.fromiter(
            (index.get(p, -1) for p in pairs["product_id"].tolist()),
            dtype=np.int64,
            count=len(pairs),
        )
        keep = cols >= 0
    counts = pairs["purchases"].to_numpy(dtype=np.float64)
    matrix = sparse.csr_matrix(
        (counts[keep], (rows[keep], cols[keep])), shape=(len(customers), len(products))
    )
    return Interactions(matrix, customers.astype(object), np.asarray(products, dtype=object))
