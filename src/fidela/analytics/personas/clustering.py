"""Personas by k-means on standardised behavioural features.

k is chosen by the mean silhouette over k = 2..8 (the largest wins; ties to the smaller k):
the silhouette rewards clusters that are tight and apart, needs no labels, and penalises both
too few (mixed clusters) and too many (split clusters) groups. Features are standardised
(z-scores) so a feature in cents does not outweigh one in days; counts and money are
log-transformed first because they are heavy-tailed and a few big spenders would otherwise
be clusters of their own. Seeded k-means (several initialisations) and a silhouette on a
seeded sample keep the result reproducible and cheap on large populations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

# Features clustered on, and whether they are log-transformed (heavy-tailed counts, money).
CLUSTER_FEATURES: tuple[tuple[str, bool], ...] = (
    ("recency_days", False),
    ("orders_365d", True),
    ("avg_order_minor", True),
    ("spend_365d_minor", True),
    ("sessions_90d", True),
    ("open_rate_90d", False),
    ("online_share", False),
)


@dataclass(frozen=True)
class Clustering:
    k: int
    labels: npt.NDArray[np.int64]
    silhouettes: dict[int, float]
    centres: npt.NDArray[np.float64]  # in standardised units


def prepare(matrix: npt.NDArray[np.float64], logs: tuple[bool, ...]) -> npt.NDArray[np.float64]:
    """Log where asked, fill unknowns with the column median, standardise to z-scores."""
    x = matrix.astype(np.float64).copy()
    for j, log in enumerate(logs):
        if log:
            x[:, j] = np.log1p(np.maximum(x[:, j], 0.0))
    with np.errstate(all="ignore"):
        medians = np.nanmedian(x, axis=0)
    medians = np.where(np.isnan(medians), 0.0, medians)
    x = np.where(np.isnan(x), medians, x)
    std = x.std(axis=0)
    scaled: npt.NDArray[np.float64] = (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)
    return scaled


def choose_k(
    x: npt.NDArray[np.float64],
    *,
    ks: range = range(2, 9),
    seed: int = 0,
    sample: int = 5_000,
) -> Clustering:
    """k-means for each k in ``ks``; keep the k with the best silhouette."""
    if x.shape[0] <= max(ks):
        raise ValueError(f"need more than {max(ks)} customers to choose among k = {list(ks)}")
    silhouettes: dict[int, float] = {}
    fits: dict[int, KMeans] = {}
    for k in ks:
        # One OpenMP thread: busy shared cores made k-means spin-wait (see churn.model).
        with threadpool_limits(limits=1, user_api="openmp"):
            model = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(x)
        fits[k] = model
        silhouettes[k] = float(
            silhouette_score(
                x, model.labels_, sample_size=min(sample, x.shape[0]), random_state=seed
            )
        )
    best = max(ks, key=lambda k: (silhouettes[k], -k))
    model = fits[best]
    return Clustering(
        k=best,
        labels=np.asarray(model.labels_, dtype=np.int64),
        silhouettes=silhouettes,
        centres=np.asarray(model.cluster_centers_, dtype=np.float64),
    )
