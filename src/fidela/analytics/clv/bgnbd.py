"""BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way").

While alive a customer buys as a Poisson process of rate ``lambda ~ Gamma(r, rate=alpha)``;
after each repeat purchase they drop out with probability ``p ~ Beta(a, b)``. The
log-likelihood of (x, t_x, T) is eq. 6 of the paper (computed as in Hardie's note 004):

    ln L = ln G(r+x) - ln G(r) + r ln alpha + ln B(a, b+x) - ln B(a, b)
           + ln[ (alpha+T)^-(r+x) + 1{x>0} a/(b+x-1) (alpha+t_x)^-(r+x) ]

It is maximised over log-parameters with an analytic gradient, on distinct purchase patterns
weighted by their counts (`patterns`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import (
    betaln,
    digamma,
    expit,
    gammaln,
    hyp2f1,
    roots_jacobi,
    roots_legendre,
)

from fidela.analytics.clv.errors import TooFewRepeatCustomers
from fidela.analytics.clv.optimise import FloatArray, Objective, maximise
from fidela.analytics.clv.patterns import (
    Patterns,
    group_patterns,
    weighted_sum,
    weighted_sums,
)

PARAMETERS = ("r", "alpha", "a", "b")
MIN_REPEAT_CUSTOMERS = 10


def _objective(patterns: Patterns) -> Objective:
    x, t_x, age, weight = patterns.x, patterns.t_x, patterns.T, patterns.weight
    xs, at = patterns.x_values, patterns.x_index
    repeat = x > 0
    # b + x - 1 only matters for repeat customers; 1 keeps the log finite elsewhere.
    x_minus_one = np.where(repeat, x - 1, 1.0)
    total = patterns.customers

    def value_and_gradient(theta: FloatArray) -> tuple[float, FloatArray]:
        r, alpha, a, b = np.exp(theta)
        log_alpha_age = np.log(alpha + age)
        log_alpha_tx = np.log(alpha + t_x)
        a3 = -(r + x) * log_alpha_age
        a4 = np.log(a) - np.log(b + x_minus_one) - (r + x) * log_alpha_tx
        mix = np.where(repeat, np.logaddexp(a3, a4), a3)
        per_x = (
            gammaln(r + xs) - gammaln(r) + betaln(a, b + xs) - betaln(a, b)
        )  # terms of the frequency alone
        ll = per_x[at] + r * np.log(alpha) + mix
        w4 = np.where(repeat, np.exp(a4 - mix), 0.0)
        w3 = 1.0 - w4
        psi_ab = digamma(a + b)
        psi_abx = digamma(a + b + xs)
        d_r = (digamma(r + xs) - digamma(r))[at] + np.log(alpha) - w3 * log_alpha_age
        d_r -= w4 * log_alpha_tx
        d_alpha = r / alpha - (r + x) * (w3 / (alpha + age) + w4 / (alpha + t_x))
        d_a = (psi_ab - psi_abx)[at] + w4 / a
        d_b = (psi_ab + digamma(b + xs) - digamma(b) - psi_abx)[at] - w4 / (b + x_minus_one)
        gradient = weighted_sums(weight, [d_r, d_alpha, d_a, d_b])
        return -weighted_sum(weight, ll) / total, -gradient * np.exp(theta) / total

    return value_and_gradient


def log_likelihood_terms(
    params: tuple[float, float, float, float],
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,  # noqa: N803 (the literature's name)
) -> FloatArray:
    """Per-customer log-likelihood at ``params`` (r, alpha, a, b)."""
    r, alpha, a, b = params
    x = np.asarray(frequency, dtype=np.float64)
    t_x = np.asarray(recency, dtype=np.float64)
    age = np.asarray(T, dtype=np.float64)
    a3 = -(r + x) * np.log(alpha + age)
    a4 = np.log(a) - np.log(b + np.maximum(x, 1) - 1) - (r + x) * np.log(alpha + t_x)
    mix = np.where(x > 0, np.logaddexp(a3, a4), a3)
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x) - betaln(a, b)
    return np.asarray(head + mix, dtype=np.float64)


@dataclass(frozen=True)
class BgNbdFit:
    """A fitted BG/NBD model: parameters in the time unit of the data it was fitted on."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    customers: int
    iterations: int

    model = "bgnbd"

    @property
    def params(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}

    def p_alive(
        self,
        frequency: npt.ArrayLike,
        recency: npt.ArrayLike,
        T: npt.ArrayLike,  # noqa: N803 (the literature's name)
    ) -> FloatArray:
        """P(alive | x, t_x, T) (Fader, Hardie & Lee, note 021); 1 without repeat purchases,
        since dropout only happens after a repeat purchase."""
        x = np.asarray(frequency, dtype=np.float64)
        t_x = np.asarray(recency, dtype=np.float64)
        age = np.asarray(T, dtype=np.float64)
        log_odds = (self.r + x) * np.log((self.alpha + age) / (self.alpha + t_x)) + np.log(
            self.a / (self.b + np.maximum(x, 1) - 1)
        )
        return np.asarray(np.where(x == 0, 1.0, expit(-log_odds)), dtype=np.float64)

    def expected_purchases(
        self,
        t: npt.ArrayLike,
        frequency: npt.ArrayLike,
        recency: npt.ArrayLike,
        T: npt.ArrayLike,  # noqa: N803 (the literature's name)
    ) -> FloatArray:
        """E[X(T, T+t) | x, t_x, T]: expected repeat purchases in the next ``t`` (eq. 10).

        Eq. 10 is P(alive) times the expected purchases of a customer known to be alive, whose
        rate and dropout then follow the posteriors Gamma(r+x, alpha+T) and Beta(a, b+x): that
        is eq. 9 with those parameters, which is how it is computed.
        """
        x = np.asarray(frequency, dtype=np.float64)
        age = np.asarray(T, dtype=np.float64)
        horizon = np.asarray(t, dtype=np.float64)
        alive = self.p_alive(x, recency, age)
        return np.asarray(
            alive * expected_repeats(self.r + x, self.alpha + age, self.a, self.b + x, horizon),
            dtype=np.float64,
        )

    def expected_purchases_new(self, t: npt.ArrayLike) -> FloatArray:
        """E[X(t)]: expected repeat purchases of a new customer in their first ``t`` (eq. 9)."""
        horizon = np.asarray(t, dtype=np.float64)
        return expected_repeats(self.r, self.alpha, self.a, self.b, horizon)


# Within this distance of a = 1 or a + b = 1 the closed form is 0/0 (a removable singularity)
# and loses digits: the integral is used instead.
_NEAR_SINGULAR = 1e-3
_NODES = 200
# Above this argument scipy's 2F1 switches to a 1-z expansion that fails (nan, or finite and
# wrong) when c-a-b is close to an integer; measured: below it, within 1e-10 of the integral.
_SERIES_LIMIT = 0.9


def expected_repeats(
    r: npt.ArrayLike, alpha: npt.ArrayLike, a: float, b: npt.ArrayLike, t: npt.ArrayLike
) -> FloatArray:
    """E[X(t)] of BG/NBD (eq. 9), elementwise over r, alpha, b and t:

        (a+b-1)/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))]

    Where that is 0/0 (a = 1, or a+b = 1) or where scipy's 2F1 is unreliable (z = t/(alpha+t)
    of 0.9 and above), the integral over the dropout probability is used instead
    (`_integrated`). The series is negative when a+b-1 < 0, hence the signs.
    """
    r_, alpha_, b_, t_ = (
        np.asarray(v, dtype=np.float64) for v in np.broadcast_arrays(r, alpha, b, t)
    )
    c = a + b_ - 1
    z = t_ / (alpha_ + t_)
    with np.errstate(all="ignore"):
        hyp = hyp2f1(r_, b_, c, z)
        log_hyp = np.log(np.abs(hyp))
        # Euler's transformation where the series overflows (large x, z near 1).
        euler = np.log(hyp2f1(c - r_, c - b_, c, z)) + (c - r_ - b_) * np.log1p(-z)
        log_hyp = np.where(np.isfinite(hyp), log_hyp, euler)
        log_term = log_hyp + r_ * np.log(alpha_ / (alpha_ + t_))
        bracket = np.where(hyp < 0, 1.0 + np.exp(log_term), -np.expm1(log_term))
        value = np.asarray(c / (a - 1) * bracket, dtype=np.float64)
    bad = (
        ~np.isfinite(value)
        | (abs(a - 1) < _NEAR_SINGULAR)
        | (np.abs(c) < _NEAR_SINGULAR)
        | (z >= _SERIES_LIMIT)
    )
    if np.any(bad):
        value = np.array(value, dtype=np.float64)
        value[bad] = _integrated(r_[bad], alpha_[bad], a, b_[bad], t_[bad])
    return value


def _bracket_over_p(p: FloatArray, r: FloatArray, alpha: FloatArray, t: FloatArray) -> FloatArray:
    """(1 - (alpha / (alpha + p t))^r) / p for each row (r, alpha, t) and node p."""
    return np.asarray(-np.expm1(-r * np.log1p(p * t / alpha)) / p, dtype=np.float64)


def _integrated(
    r: FloatArray, alpha: FloatArray, a: float, b: FloatArray, t: FloatArray
) -> FloatArray:
    """E[X(t)] = E_p[(1 - (alpha / (alpha + p t))^r) / p] with p ~ Beta(a, b): a customer
    alive with dropout p buys until the geometric number of purchases is reached, and the gamma
    mixture of the Poisson rate gives the bracket.

    The integrand bends sharply near p = alpha/t, which is tiny for long horizons, and the Beta
    density may be infinite at 0 or 1, so: on [1/2, 1] Gauss-Jacobi with the (1-p)^(b-1)
    weight; on [p_low, 1/2] Gauss-Legendre in log p, where the bend is smooth; below p_low,
    where the integrand is r t / alpha times p^(a-1), its closed form.
    """
    result = np.empty(r.size)
    legendre_nodes, legendre_weights = roots_legendre(_NODES)
    for value in np.unique(b):
        rows = b == value
        rr, aa, tt = r[rows, None], alpha[rows, None], t[rows, None]

        # [1/2, 1]: p = 3/4 + v/4, (1-p)^(b-1) = 4^-(b-1) (1-v)^(b-1).
        nodes, weights = roots_jacobi(_NODES, value - 1.0, 0.0)
        p_high = 0.75 + nodes / 4.0
        high = (
            np.exp(-value * np.log(4.0))
            * (_bracket_over_p(p_high, rr, aa, tt) * p_high ** (a - 1.0))
            @ weights
        )
        # [p_low, 1/2] in u = ln p: dp = p du.
        # At t = 0 alpha/t is infinite and the clip below takes the upper bound (the
        # integral is then 0 anyway): the division warning would only be noise.
        with np.errstate(divide="ignore"):
            u_low = np.log(aa[:, 0] / tt[:, 0]) - 40.0 / min(a, 1.0)
        # Not below e^-700: exp would underflow to 0 (the tail term covers the rest).
        u_low = np.clip(u_low, -700.0, np.log(0.25))
        u_high = np.log(0.5)
        half = (u_high - u_low) / 2.0
        u = u_low[:, None] + half[:, None] * (legendre_nodes + 1.0)
        p_mid = np.exp(u)
        mid_values = _bracket_over_p(p_mid, rr, aa, tt) * p_mid**a * (1.0 - p_mid) ** (value - 1.0)
        mid = half * (mid_values @ legendre_weights)
        # Below p_low: (1 - (1 + p t / alpha)^-r) / p ~ r t / alpha, and (1-p)^(b-1) ~ 1.
        tail = rr[:, 0] * tt[:, 0] / aa[:, 0] * np.exp(a * u_low) / a
        result[rows] = (high + mid + tail) / np.exp(betaln(a, value))
    return result


def _start(patterns: Patterns) -> FloatArray:
    # r = 1 and alpha from the mean repeat rate (a gamma with mean rate sum(x)/sum(T)), and an
    # even-odds dropout prior: the likelihood is smooth enough that this basin is the right one
    # on every data set we checked (CDNOW, the demo data, simulated populations).
    rate = weighted_sum(patterns.weight, patterns.x) / max(
        weighted_sum(patterns.weight, patterns.T), 1e-12
    )
    alpha = 1.0 / max(rate, 1e-6)
    return np.asarray(np.log(np.array([1.0, alpha, 1.0, 1.0])), dtype=np.float64)


# Above this many distinct patterns the fit starts from a sample of them (`maximise`).
SAMPLE_ABOVE = 50_000
SAMPLE_SIZE = 20_000


def _sample(patterns: Patterns) -> Objective | None:
    if patterns.x.size <= SAMPLE_ABOVE:
        return None
    # Fixed seed: the same data always gives the same fit.
    chosen = np.sort(np.random.default_rng(0).choice(patterns.x.size, SAMPLE_SIZE, replace=False))
    return _objective(
        Patterns(
            patterns.x[chosen],
            patterns.t_x[chosen],
            patterns.T[chosen],
            patterns.weight[chosen],
            patterns.x_values,
            patterns.x_index[chosen],
        )
    )


def fit_bgnbd(
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,  # noqa: N803 (the literature's name)
    weights: npt.ArrayLike | None = None,
) -> BgNbdFit:
    """Maximum-likelihood BG/NBD on per-customer (or, with ``weights``, per-pattern) data."""
    patterns = group_patterns(frequency, recency, T, weights)
    if patterns.repeat_customers < MIN_REPEAT_CUSTOMERS:
        raise TooFewRepeatCustomers(
            f"BG/NBD needs at least {MIN_REPEAT_CUSTOMERS} customers with a repeat purchase, "
            f"found {patterns.repeat_customers:g} among {patterns.customers:g}"
        )
    # Time is rescaled so the oldest customer has age 1: alpha then sits near 1, which keeps
    # the search well conditioned whatever the unit (days, weeks).
    scale = float(patterns.T.max())
    scaled = Patterns(
        patterns.x,
        patterns.t_x / scale,
        patterns.T / scale,
        patterns.weight,
        patterns.x_values,
        patterns.x_index,
    )
    optimum = maximise(
        "BG/NBD", PARAMETERS, _objective(scaled), _start(scaled), sample=_sample(scaled)
    )
    r, alpha, a, b = np.exp(optimum.log_params)
    alpha *= scale
    # The log-likelihood in the data's own time unit (rescaling time shifts it by sum(x) ln s).
    ll = weighted_sum(
        patterns.weight,
        log_likelihood_terms((r, alpha, a, b), patterns.x, patterns.t_x, patterns.T),
    )
    return BgNbdFit(
        float(r),
        float(alpha),
        float(a),
        float(b),
        ll,
        round(patterns.customers),
        optimum.iterations,
    )
