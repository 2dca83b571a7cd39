from __future__ import annotations

from datetime import UTC, datetime

import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pytest

from fidela.analytics.recommend.evaluation import evaluate
from fidela.analytics.recommend.interactions import interactions_from_pairs
from fidela.analytics.recommend.report import evaluate_as_of, fit_as_of
from fidela.analytics.recommend.similarity import (
    fit_item_similarity,
    recommend,
    recommend_indices,
)

AS_OF = datetime(2026, 10, 1, tzinfo=UTC)


@pytest.mark.slow
def test_precision_at_10_beats_popularity_on_held_out_demo_purchases(
    demo_orders: tuple[ir.Table, ir.Table],
) -> None:
    orders, lines = demo_orders
    report = evaluate_as_of(orders, lines, as_of=AS_OF)
    # Measured: 0.0621 vs 0.0534 precision, 0.153 vs 0.134 recall on 1,052 customers.
    assert report.customers > 800
    assert report.model.precision > report.popularity.precision
    assert report.model.recall > report.popularity.recall


def _pairs(rows: list[tuple[str, str, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "product_id", "purchases"])


# Two tastes: a, b, c go together; x, y go together; p is bought by everyone.
HISTORY = _pairs(
    [
        ("c1", "a", 1), ("c1", "b", 1), ("c1", "p", 1),
        ("c2", "a", 1), ("c2", "b", 1), ("c2", "c", 1), ("c2", "p", 1),
        ("c3", "b", 1), ("c3", "c", 1), ("c3", "p", 1),
        ("c4", "x", 1), ("c4", "y", 1), ("c4", "p", 1),
        ("c5", "x", 2), ("c5", "p", 1),
        ("c6", "y", 1), ("c6", "p", 1),
    ]
)  # fmt: skip


def test_item_item_recommends_what_similar_buyers_bought_and_skips_what_you_own() -> None:
    model = fit_item_similarity(interactions_from_pairs(HISTORY))
    assert recommend(model, "c1", k=1) == ["c"]
    assert recommend(model, "c5", k=1) == ["y"]
    assert "p" not in recommend(model, "c1", k=3)


def test_new_customers_get_the_most_popular_products() -> None:
    model = fit_item_similarity(interactions_from_pairs(HISTORY))
    assert recommend(model, "stranger", k=2) == ["p", "b"]


def test_slots_the_similarity_cannot_fill_are_filled_by_popularity() -> None:
    model = fit_item_similarity(interactions_from_pairs(HISTORY))
    row = model.interactions.customer_index()["c5"]
    ranked = recommend_indices(model, row, k=4)
    assert len(ranked) == 4
    assert len(set(ranked.tolist())) == 4
    owned = set(model.interactions.matrix.getrow(row).indices.tolist())
    assert not owned & set(ranked.tolist())


def test_category_affinity_ranks_unseen_products_of_the_customers_categories() -> None:
    pairs = _pairs([("c1", "a", 1), ("c2", "b", 1), ("c3", "z", 1), ("c4", "z", 1)])
    interactions = interactions_from_pairs(pairs)
    categories = np.array(
        [{"a": "shoes", "b": "shoes", "z": "books"}[p] for p in interactions.products],
        dtype=object,
    )
    model = fit_item_similarity(interactions, categories=categories)
    # no co-purchase links a to anything; b shares its category, z is more popular
    assert recommend(model, "c1", k=1) == ["b"]


def test_metrics_count_hits_among_new_products_only() -> None:
    train = interactions_from_pairs(HISTORY)
    model = fit_item_similarity(train)
    heldout = interactions_from_pairs(
        _pairs([("c1", "c", 1), ("c1", "a", 1), ("c4", "q", 1), ("new", "a", 1)]),
        products=train.products,
    )
    report = evaluate(model, heldout, k=2)
    # c1: "a" is a re-buy, "c" is new and recommended first; c4 bought nothing new we know;
    # "new" has no history.
    assert report.customers == 1
    assert report.model.precision == pytest.approx(0.5)
    assert report.model.recall == pytest.approx(1.0)


def test_the_serving_model_only_knows_purchases_before_as_of(
    demo_orders: tuple[ir.Table, ir.Table],
) -> None:
    orders, lines = demo_orders
    early = fit_as_of(orders, lines, as_of=datetime(2024, 1, 1, tzinfo=UTC))
    late = fit_as_of(orders, lines, as_of=AS_OF)
    assert early.interactions.matrix.sum() < late.interactions.matrix.sum()
