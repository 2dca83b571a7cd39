"""Customer lifetime value: expected purchases times expected spend, discounted per period."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from fidela.analytics.clv.gammagamma import GammaGammaFit
from fidela.analytics.clv.optimise import FloatArray


class PurchaseModel(Protocol):
    """What CLV needs of a purchase model (BG/NBD and Pareto/NBD fits provide it)."""

    def expected_purchases(
        self,
        t: npt.ArrayLike,
        frequency: npt.ArrayLike,
        recency: npt.ArrayLike,
        T: npt.ArrayLike,  # noqa: N803 (the literature's name)
    ) -> FloatArray: ...


def customer_lifetime_value(
    purchases: PurchaseModel,
    spend: GammaGammaFit,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,  # noqa: N803 (the literature's name)
    monetary: npt.ArrayLike,
    *,
    periods: int = 12,
    period_length: float = 30.0,
    discount_rate: float = 0.01,
    margin: float = 1.0,
) -> FloatArray:
    """Discounted margin of the next ``periods`` periods of ``period_length`` time units each
    (in the unit the models were fitted in; 30 days, about a month, by default).

    Period ``i`` contributes ``margin * E[spend] * (E[X(i L)] - E[X((i-1) L)]) / (1+d)^i``: the
    purchases expected within the period, valued at the Gamma-Gamma conditional mean spend and
    discounted at the per-period ``discount_rate`` (lifetimes' ``customer_lifetime_value``
    with a margin on top).
    """
    if periods < 1 or period_length <= 0:
        raise ValueError("periods must be at least 1 and period_length positive")
    if discount_rate <= -1:
        raise ValueError("discount_rate must be above -1")
    if not 0 <= margin <= 1:
        raise ValueError("margin must be a share between 0 and 1")
    x = np.asarray(frequency, dtype=np.float64)
    value_per_purchase = margin * spend.expected_spend(x, monetary)
    total = np.zeros(np.broadcast(x, np.asarray(T, dtype=np.float64)).shape)
    previous = np.zeros_like(total)
    for i in range(1, periods + 1):
        cumulative = purchases.expected_purchases(i * period_length, x, recency, T)
        total += value_per_purchase * (cumulative - previous) / (1 + discount_rate) ** i
        previous = cumulative
    return np.asarray(total, dtype=np.float64)
