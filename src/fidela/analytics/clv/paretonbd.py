"""Pareto/NBD (Schmittlein, Morrison & Colombo 1987), as derived in Fader & Hardie's note 009.

While alive a customer buys as a Poisson process of rate ``lambda ~ Gamma(r, rate=alpha)``;
their lifetime is exponential with rate ``mu ~ Gamma(s, rate=beta)``. The log-likelihood of
(x, t_x, T) is eq. 18-20 of the note:

    ln L = ln G(r+x) - ln G(r) + r ln alpha + s ln beta
           + ln[ (alpha+T)^-(r+x) (beta+T)^-s + s/(r+s+x) A0 ]

where A0 is a difference of two Gauss hypergeometric terms. Each term is evaluated through
the transformation ``2F1(a, b; a+1; z) = (1-z)^(1-b) 2F1(1, a+1-b; a+1; z)``: the transformed
series has positive terms and lies in [1, 1/(1-z)], so it never overflows, where the direct form
does for frequent buyers. (The Pfaff form with argument z/(z-1) < -1 is not an option: scipy's
``hyp2f1`` returns values off by orders of magnitude there for some parameters, e.g.
2F1(1, 31.5; 50.5; -3) = -0.104 instead of 0.350.) The gradient is taken by central differences
(the derivatives of 2F1 in its parameters have no closed form in scipy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import gammaln, hyp2f1

from fidela.analytics.clv.errors import TooFewRepeatCustomers
from fidela.analytics.clv.optimise import FloatArray, maximise, numerical_gradient
from fidela.analytics.clv.patterns import (
    Patterns,
    group_patterns,
    weighted_sum,
)

PARAMETERS = ("r", "alpha", "s", "beta")
MIN_REPEAT_CUSTOMERS = 10

Params = tuple[float, float, float, float]


def _log_term(rsx: FloatArray, b: FloatArray, low: float, high: float, t: FloatArray) -> FloatArray:
    """ln[ 2F1(rsx, b; rsx+1; z) / (high+t)^rsx ] with z = (high-low)/(high+t), without
    overflow: 2F1(rsx, b; rsx+1; z) = (1-z)^(1-b) 2F1(1, rsx+1-b; rsx+1; z)."""
    log_one_minus_z = np.log(low + t) - np.log(high + t)  # ln(1 - z)
    z = (high - low) / (high + t)
    return np.asarray(
        (1.0 - b) * log_one_minus_z
        + np.log(hyp2f1(1.0, rsx + 1.0 - b, rsx + 1.0, z))
        - rsx * np.log(high + t),
        dtype=np.float64,
    )


def _log_a0(params: Params, x: FloatArray, t_x: FloatArray, age: FloatArray) -> FloatArray:
    r, alpha, s, beta = params
    rsx = r + s + x
    if alpha >= beta:
        b = np.full(x.shape, s + 1.0)
        low, high = beta, alpha
    else:
        b = r + x
        low, high = alpha, beta
    first = _log_term(rsx, b, low, high, t_x)
    second = _log_term(rsx, b, low, high, age)
    # A0 = exp(first) - exp(second) >= 0 (it is an integral); 0 when t_x = T.
    with np.errstate(divide="ignore"):
        return np.asarray(first + np.log(-np.expm1(np.minimum(second - first, 0.0))))


def log_likelihood_terms(
    params: Params,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,  # noqa: N803 (the literature's name)
) -> FloatArray:
    """Per-customer log-likelihood at ``params`` (r, alpha, s, beta)."""
    r, alpha, s, beta = params
    x = np.asarray(frequency, dtype=np.float64)
    t_x = np.asarray(recency, dtype=np.float64)
    age = np.asarray(T, dtype=np.float64)
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    alive = -(r + x) * np.log(alpha + age) - s * np.log(beta + age)
    died = np.log(s) - np.log(r + s + x) + _log_a0(params, x, t_x, age)
    return np.asarray(head + np.logaddexp(alive, died), dtype=np.float64)


@dataclass(frozen=True)
class ParetoNbdFit:
    """A fitted Pareto/NBD model: parameters in the time unit of the data it was fitted on."""

    r: float
    alpha: float
    s: float
    beta: float
    log_likelihood: float
    customers: int
    iterations: int

    model = "pareto-nbd"

    @property
    def params(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "s": self.s, "beta": self.beta}

    @property
    def _tuple(self) -> Params:
        return (self.r, self.alpha, self.s, self.beta)

    def p_alive(
        self,
        frequency: npt.ArrayLike,
        recency: npt.ArrayLike,
        T: npt.ArrayLike,  # noqa: N803 (the literature's name)
    ) -> FloatArray:
        """P(alive | x, t_x, T) (note 009, eq. 36-37)."""
        r, alpha, s, beta = self._tuple
        x = np.asarray(frequency, dtype=np.float64)
        t_x = np.asarray(recency, dtype=np.float64)
        age = np.asarray(T, dtype=np.float64)
        log_odds_dead = (
            np.log(s)
            - np.log(r + s + x)
            + (r + x) * np.log(alpha + age)
            + s * np.log(beta + age)
            + _log_a0(self._tuple, x, t_x, age)
        )
        return np.asarray(1.0 / (1.0 + np.exp(log_odds_dead)), dtype=np.float64)

    def expected_purchases(
        self,
        t: npt.ArrayLike,
        frequency: npt.ArrayLike,
        recency: npt.ArrayLike,
        T: npt.ArrayLike,  # noqa: N803 (the literature's name)
    ) -> FloatArray:
        """E[Y(t) | x, t_x, T]: expected purchases in the next ``t`` (note 009, eq. 41)."""
        r, alpha, s, beta = self._tuple
        x = np.asarray(frequency, dtype=np.float64)
        age = np.asarray(T, dtype=np.float64)
        horizon = np.asarray(t, dtype=np.float64)
        alive = self.p_alive(x, recency, age)
        return np.asarray(
            alive * (r + x) * (beta + age) / (alpha + age) * _decay(s, beta + age, horizon),
            dtype=np.float64,
        )

    def expected_purchases_new(self, t: npt.ArrayLike) -> FloatArray:
        """E[X(t)] of a new customer (note 009, eq. 27)."""
        r, alpha, s, beta = self._tuple
        horizon = np.asarray(t, dtype=np.float64)
        return np.asarray(r * beta / alpha * _decay(s, beta, horizon), dtype=np.float64)


def _decay(s: float, base: npt.ArrayLike, horizon: FloatArray) -> FloatArray:
    """[1 - (base / (base + t))^(s-1)] / (s-1), continuous at s = 1 (where it is a log)."""
    start = np.asarray(base, dtype=np.float64)
    log_ratio = np.log(start) - np.log(start + horizon)
    if abs(s - 1.0) < 1e-12:
        return np.asarray(-log_ratio, dtype=np.float64)
    return np.asarray(-np.expm1((s - 1.0) * log_ratio) / (s - 1.0), dtype=np.float64)


def _start(patterns: Patterns) -> FloatArray:
    # r = s = 1, alpha from the mean repeat rate, beta at the time scale (age 1): a mean
    # lifetime of about the observation span.
    rate = weighted_sum(patterns.weight, patterns.x) / max(
        weighted_sum(patterns.weight, patterns.T), 1e-12
    )
    return np.asarray(np.log([1.0, 1.0 / max(rate, 1e-6), 1.0, 1.0]), dtype=np.float64)


def fit_pareto_nbd(
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,  # noqa: N803 (the literature's name)
    weights: npt.ArrayLike | None = None,
) -> ParetoNbdFit:
    """Maximum-likelihood Pareto/NBD on per-customer (or per-pattern) data."""
    patterns = group_patterns(frequency, recency, T, weights)
    if patterns.repeat_customers < MIN_REPEAT_CUSTOMERS:
        raise TooFewRepeatCustomers(
            f"Pareto/NBD needs at least {MIN_REPEAT_CUSTOMERS} customers with a repeat "
            f"purchase, found {patterns.repeat_customers:g} among {patterns.customers:g}"
        )
    scale = float(patterns.T.max())  # as in BG/NBD: alpha and beta near 1
    x, t_x, age, weight = patterns.x, patterns.t_x / scale, patterns.T / scale, patterns.weight
    total = patterns.customers

    def mean_negative_ll(theta: FloatArray) -> float:
        r, alpha, s, beta = np.exp(theta)
        return -weighted_sum(weight, log_likelihood_terms((r, alpha, s, beta), x, t_x, age)) / total

    scaled = Patterns(x, t_x, age, weight, patterns.x_values, patterns.x_index)
    optimum = maximise(
        "Pareto/NBD", PARAMETERS, numerical_gradient(mean_negative_ll), _start(scaled)
    )
    r, alpha, s, beta = np.exp(optimum.log_params)
    params = (float(r), float(alpha * scale), float(s), float(beta * scale))
    ll = weighted_sum(
        patterns.weight, log_likelihood_terms(params, patterns.x, patterns.t_x, patterns.T)
    )
    return ParetoNbdFit(*params, ll, round(patterns.customers), optimum.iterations)
