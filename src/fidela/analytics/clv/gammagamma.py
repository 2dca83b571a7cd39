"""Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV"; Hardie's note 025).

A customer's purchase values are ``Gamma(p, rate=nu)`` with ``nu ~ Gamma(q, rate=gamma)``
across customers, independent of the purchase process. Fitted, as lifetimes does, on the
customers with at least one repeat purchase, from their number of repeat purchases ``x`` and
the mean value ``m`` of those purchases:

    ln L = ln G(px+q) - ln G(px) - ln G(q) + q ln gamma + (px-1) ln m + px ln x
           - (px+q) ln(xm + gamma)

(the density of the mean). Maximised over log-parameters with an analytic gradient. Customers
whose mean repeat spend is 0 (free orders) carry no information on a gamma density and are left
out; the count used is kept on the fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import digamma, gammaln

from fidela.analytics.clv.errors import TooFewRepeatCustomers, TransactionsInvalid
from fidela.analytics.clv.optimise import FloatArray, Objective, maximise
from fidela.analytics.clv.patterns import weighted_sum, weighted_sums

PARAMETERS = ("p", "q", "gamma")
MIN_REPEAT_CUSTOMERS = 10


def log_likelihood_terms(
    params: tuple[float, float, float], frequency: npt.ArrayLike, monetary: npt.ArrayLike
) -> FloatArray:
    """Per-customer log-likelihood (customers with x > 0 and m > 0)."""
    p, q, v = params
    x = np.asarray(frequency, dtype=np.float64)
    m = np.asarray(monetary, dtype=np.float64)
    px = p * x
    return np.asarray(
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(x * m + v),
        dtype=np.float64,
    )


def _objective(x: FloatArray, m: FloatArray, weight: FloatArray) -> Objective:
    log_x, log_m = np.log(x), np.log(m)
    total = float(weight.sum())

    def value_and_gradient(theta: FloatArray) -> tuple[float, FloatArray]:
        p, q, v = np.exp(theta)
        px = p * x
        log_xmv = np.log(x * m + v)
        psi_pxq = digamma(px + q)
        ll = log_likelihood_terms((p, q, v), x, m)
        d_p = x * (psi_pxq - digamma(px) + log_m + log_x - log_xmv)
        d_q = psi_pxq - digamma(q) + np.log(v) - log_xmv
        d_v = q / v - (px + q) / (x * m + v)
        gradient = weighted_sums(weight, [d_p, d_q, d_v])
        return -weighted_sum(weight, ll) / total, -gradient * np.exp(theta) / total

    return value_and_gradient


@dataclass(frozen=True)
class GammaGammaFit:
    """A fitted Gamma-Gamma model (``gamma`` in the currency unit of the data)."""

    p: float
    q: float
    gamma: float
    log_likelihood: float
    customers: int
    iterations: int

    model = "gamma-gamma"

    @property
    def params(self) -> dict[str, float]:
        return {"p": self.p, "q": self.q, "gamma": self.gamma}

    @property
    def population_mean_spend(self) -> float:
        """E[Z] = p gamma / (q - 1): the mean purchase value of a new customer (q > 1)."""
        return self.p * self.gamma / (self.q - 1) if self.q > 1 else float("inf")

    def expected_spend(self, frequency: npt.ArrayLike, monetary: npt.ArrayLike) -> FloatArray:
        """E[Z | x, m]: a weighted mean of the population mean and the customer's own mean
        repeat spend, the weight growing with their number of repeat purchases."""
        x = np.asarray(frequency, dtype=np.float64)
        m = np.asarray(monetary, dtype=np.float64)
        weight = self.p * x / (self.p * x + self.q - 1)
        return np.asarray((1 - weight) * self.population_mean_spend + weight * m, dtype=np.float64)


def _start(x: FloatArray, m: FloatArray, weight: FloatArray) -> FloatArray:
    # p = 2, q = 4 and gamma such that the model's mean spend p*gamma/(q-1) equals the
    # observed one: a moderate spread within and across customers, in the right scale.
    mean = weighted_sum(weight, m) / float(weight.sum())
    return np.asarray(np.log([2.0, 4.0, 1.5 * mean]), dtype=np.float64)


def fit_gamma_gamma(
    frequency: npt.ArrayLike,
    monetary: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
) -> GammaGammaFit:
    """Maximum-likelihood Gamma-Gamma on repeat customers' (x, mean repeat spend)."""
    x = np.asarray(frequency, dtype=np.float64).reshape(-1)
    m = np.asarray(monetary, dtype=np.float64).reshape(-1)
    w = np.ones(x.size) if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    if not x.size == m.size == w.size:
        raise ValueError("frequency, monetary and weights must have the same length")
    bad = np.flatnonzero(~np.isfinite(m) | (m < 0))
    if bad.size:
        raise TransactionsInvalid(
            f"customer summary row {int(bad[0]) + 1} has a negative or non-finite mean spend "
            f"({m[bad[0]]})"
        )
    used = (x > 0) & (m > 0) & (w > 0)
    if float(w[used].sum()) < MIN_REPEAT_CUSTOMERS:
        raise TooFewRepeatCustomers(
            f"Gamma-Gamma needs at least {MIN_REPEAT_CUSTOMERS} customers with a paid repeat "
            f"purchase, found {float(w[used].sum()):g}"
        )
    x, m, w = x[used], m[used], w[used]
    # Spend is rescaled to mean 1 for the search; gamma is a pure scale parameter.
    scale = weighted_sum(w, m) / float(w.sum())
    optimum = maximise(
        "Gamma-Gamma", PARAMETERS, _objective(x, m / scale, w), _start(x, m / scale, w)
    )
    p, q, v = np.exp(optimum.log_params)
    params = (float(p), float(q), float(v * scale))
    ll = weighted_sum(w, log_likelihood_terms(params, x, m))
    return GammaGammaFit(*params, ll, round(float(w.sum())), optimum.iterations)
