"""Item-item recommendations on the implicit purchase matrix, blended with category affinity.

Two products are similar when the same customers buy them (asymmetric cosine, see
`fit_item_similarity`). A customer's item-item score for a product is the sum of the
similarities from what they bought, weighted by log(1 + purchases) so a weekly staple does not
drown everything else; only the ``neighbours`` most similar items of each product count.

Purchase histories are short (a handful of orders), so co-purchases alone leave most of the
catalogue unscored. The score is therefore blended with a **category affinity** term: the
customer's purchases per category times each product's share of its category's buyers, i.e.
"popular in the categories you buy". Measured on the demo data (6,000 customers, six months
held out, three seeds) precision@10 was, against popularity 0.0811 / 0.0754 / 0.0695:
item-item alone 0.0822 / 0.0798 / 0.0769, category affinity alone 0.0739 / 0.0750 / 0.0798,
the 50/50 blend 0.0844 / 0.0824 / 0.0814 (the default).

Products already bought are left out (cross-sell and upsell are about something new).
Customers without history get the popularity ranking (products bought by the most distinct
customers), which also fills slots the scores cannot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse

from fidela.analytics.recommend.interactions import Interactions


@dataclass(frozen=True)
class ItemSimilarity:
    interactions: Interactions
    similarity: sparse.csr_matrix  # (products, products), zero diagonal, top-k per row
    popularity: npt.NDArray[np.float64]  # distinct buyers per product
    # (products, categories) one-hot, or None to use item-item alone
    categories: sparse.csr_matrix | None = None
    category_weight: float = 0.0
    category_share: npt.NDArray[np.float64] | None = None  # buyers / buyers of the category


def fit_item_similarity(
    interactions: Interactions,
    *,
    categories: npt.NDArray[np.object_] | None = None,
    category_weight: float = 0.5,
    neighbours: int = 200,
    alpha: float = 0.8,
) -> ItemSimilarity:
    """Asymmetric cosine between products, pruned to ``neighbours`` per product, and the
    category affinity term when ``categories`` (one per product of the interactions) is given.

    ``sim(j -> i) = co(i, j) / (buyers(j) ** alpha * buyers(i) ** (1 - alpha))`` where
    ``co`` counts customers who bought both (Aiolli 2013). ``alpha = 0.5`` is the plain
    cosine; ``alpha = 1`` is P(i | j), which favours popular products. On the demo data plain
    cosine lost to popularity (it ranks rare co-purchases first); 0.8 did best (8,000
    customers: 0.0823 at 0.6, 0.0835 at 0.8, 0.0829 at 1.0, popularity 0.0769).
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if not 0.0 <= category_weight <= 1.0:
        raise ValueError(f"category_weight must be in [0, 1], got {category_weight}")
    bought = (interactions.matrix > 0).astype(np.float64).tocsc()
    buyers = np.asarray(bought.sum(axis=0), dtype=np.float64).ravel()
    safe = np.where(buyers > 0, buyers, 1.0)
    co = (bought.T @ bought).tocsr()
    co.setdiag(0.0)
    co.eliminate_zeros()
    similarity = (
        sparse.diags(1.0 / safe**alpha) @ co @ sparse.diags(1.0 / safe ** (1.0 - alpha))
    ).tocsr()
    similarity = _top_per_row(similarity, neighbours)
    if categories is None:
        return ItemSimilarity(interactions, similarity, buyers)
    if len(categories) != len(interactions.products):
        raise ValueError("categories must give one category per product")
    labels = np.asarray([str(c) for c in categories.tolist()], dtype=object)
    _names, index = np.unique(labels, return_inverse=True)
    one_hot = sparse.csr_matrix(
        (np.ones(index.size), (np.arange(index.size), index)), shape=(index.size, _names.size)
    )
    category_buyers = np.asarray(one_hot.T @ buyers).ravel()
    share = buyers / np.where(category_buyers[index] > 0, category_buyers[index], 1.0)
    return ItemSimilarity(interactions, similarity, buyers, one_hot, category_weight, share)


def _top_per_row(matrix: sparse.csr_matrix, k: int) -> sparse.csr_matrix:
    rows, cols, vals = [], [], []
    for row in range(matrix.shape[0]):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        data = matrix.data[start:end]
        keep = np.argpartition(-data, k - 1)[:k] if data.size > k else np.arange(data.size)
        rows.append(np.full(keep.size, row))
        cols.append(matrix.indices[start:end][keep])
        vals.append(data[keep])
    if not rows:
        return matrix
    return sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=matrix.shape
    )


def _top(scores: npt.NDArray[np.float64], k: int) -> npt.NDArray[np.int64]:
    """Indices of the ``k`` best scores, best first; ties by lower index (deterministic)."""
    k = min(k, scores.size)
    order = np.lexsort((np.arange(scores.size), -scores))
    return order[:k].astype(np.int64)


def popular_items(
    model: ItemSimilarity, *, k: int, exclude: npt.NDArray[np.int64] | None = None
) -> npt.NDArray[np.int64]:
    scores = model.popularity.copy()
    if exclude is not None and exclude.size:
        scores[exclude] = -np.inf
    return _top(scores, k)


def scores_for(model: ItemSimilarity, customer_row: int) -> npt.NDArray[np.float64]:
    """The blended score of every product for one customer (bought products included)."""
    history = model.interactions.matrix.getrow(customer_row)
    weights = history.copy()
    weights.data = np.log1p(weights.data)
    item = np.asarray((weights @ model.similarity).todense()).ravel()
    if model.categories is None or model.category_share is None:
        return item
    affinity = np.asarray((weights @ model.categories).todense()).ravel()
    per_product = np.asarray(model.categories @ affinity).ravel() * model.category_share
    w = model.category_weight
    return np.asarray((1.0 - w) * item + w * per_product, dtype=np.float64)


def recommend_indices(
    model: ItemSimilarity, customer_row: int | None, *, k: int = 10
) -> npt.NDArray[np.int64]:
    """Top-``k`` product indices for a customer (matrix row), popularity for a new one. Slots
    the scores cannot fill (too little history) are filled by popularity."""
    if customer_row is None:
        return popular_items(model, k=k)
    bought = model.interactions.matrix.getrow(customer_row).indices.astype(np.int64)
    scores = scores_for(model, customer_row)
    scores[bought] = -np.inf
    ranked = _top(scores, k)
    ranked = ranked[scores[ranked] > 0]
    if ranked.size < k:
        filler = popular_items(model, k=k, exclude=np.concatenate((bought, ranked)))
        ranked = np.concatenate((ranked, filler[: k - ranked.size]))
    return ranked


def recommend(model: ItemSimilarity, customer_id: object, *, k: int = 10) -> list[object]:
    """Product ids recommended to ``customer_id`` (popular products if we never saw them)."""
    row = model.interactions.customer_index().get(customer_id)
    return [model.interactions.products[i] for i in recommend_indices(model, row, k=k)]
