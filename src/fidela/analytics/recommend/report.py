"""Recommendations as of a date: the serving model and its held-out evaluation.

`evaluate_as_of` fits on purchases before ``as_of - horizon`` and scores the top-k against
what customers bought in ``[as_of - horizon, as_of)``: everything it looks at happened before
``as_of``, so a report for a past date never peeks at later data. `fit_as_of` fits on all
purchases before ``as_of`` for serving.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import ibis.expr.types as ir

from fidela.analytics.recommend.evaluation import RecommendationReport, evaluate
from fidela.analytics.recommend.interactions import (
    categories_for,
    interactions_from_pairs,
    product_categories,
    purchase_pairs,
)
from fidela.analytics.recommend.similarity import ItemSimilarity, fit_item_similarity

DEFAULT_HORIZON = timedelta(days=90)


def fit_as_of(orders: ir.Table, lines: ir.Table, *, as_of: datetime) -> ItemSimilarity:
    interactions = interactions_from_pairs(purchase_pairs(orders, lines, end=as_of).to_pandas())
    categories = categories_for(interactions.products, product_categories(lines).to_pandas())
    return fit_item_similarity(interactions, categories=categories)


def evaluate_as_of(
    orders: ir.Table,
    lines: ir.Table,
    *,
    as_of: datetime,
    horizon: timedelta = DEFAULT_HORIZON,
    k: int = 10,
) -> RecommendationReport:
    """precision@k / recall@k of the model and of popularity on the last ``horizon``."""
    cut = as_of - horizon
    model = fit_as_of(orders, lines, as_of=cut)
    heldout = interactions_from_pairs(
        purchase_pairs(orders, lines, start=cut, end=as_of).to_pandas(),
        products=model.interactions.products,
    )
    return evaluate(model, heldout, k=k)
