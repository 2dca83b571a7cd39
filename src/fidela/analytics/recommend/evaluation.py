"""precision@k and recall@k on held-out purchases, for the model and the popularity baseline.

The protocol: fit on purchases before ``T``; for every customer with history before ``T``
and at least one *new* product bought in ``[T, T + horizon)``, compare their top-k with the
new products they bought. Products bought before ``T`` are neither recommended nor counted
as hits (re-buying a staple is not a recommendation). The baseline ranks the same way with
popularity instead of similarity, excluding what the customer already bought too, so the
two differ only in the ranking.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fidela.analytics.recommend.interactions import Interactions
from fidela.analytics.recommend.similarity import ItemSimilarity, popular_items, recommend_indices


@dataclass(frozen=True)
class RankingScore:
    precision: float
    recall: float


@dataclass(frozen=True)
class RecommendationReport:
    k: int
    customers: int
    model: RankingScore
    popularity: RankingScore


def evaluate(model: ItemSimilarity, heldout: Interactions, *, k: int = 10) -> RecommendationReport:
    """precision@k and recall@k averaged over the evaluated customers (see module docstring).
    ``heldout`` must share the product axis of the model's interactions."""
    train = model.interactions
    if heldout.matrix.shape[1] != train.matrix.shape[1]:
        raise ValueError("held-out interactions must use the training product axis")
    index = train.customer_index()
    sums = np.zeros(4)
    evaluated = 0
    for test_row, customer in enumerate(heldout.customers.tolist()):
        row = index.get(customer)
        if row is None:
            continue
        bought = set(train.matrix.getrow(row).indices.tolist())
        relevant = set(heldout.matrix.getrow(test_row).indices.tolist()) - bought
        if not relevant:
            continue
        evaluated += 1
        for offset, ranked in enumerate(
            (
                recommend_indices(model, row, k=k),
                popular_items(model, k=k, exclude=np.fromiter(bought, dtype=np.int64)),
            )
        ):
            hits = len(relevant.intersection(ranked.tolist()))
            sums[2 * offset] += hits / k
            sums[2 * offset + 1] += hits / len(relevant)
    if evaluated == 0:
        raise ValueError("no customer with history bought a new product in the held-out period")
    means = sums / evaluated
    return RecommendationReport(
        k=k,
        customers=evaluated,
        model=RankingScore(float(means[0]), float(means[1])),
        popularity=RankingScore(float(means[2]), float(means[3])),
    )
