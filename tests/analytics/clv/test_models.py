"""Properties of the fitted models that hold whatever the data, and their refusals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad
from scipy.stats import beta as beta_distribution

from fidela.analytics.clv import (
    BgNbdFit,
    FitDidNotConverge,
    ParetoNbdFit,
    TooFewRepeatCustomers,
    TransactionsInvalid,
    fit_bgnbd,
    fit_gamma_gamma,
    fit_pareto_nbd,
)
from fidela.analytics.clv.patterns import _group_by_hash, _group_by_sorting

positive = st.floats(0.05, 20.0)
history = st.tuples(st.integers(0, 30), st.floats(0.0, 1.0), st.floats(0.1, 100.0))


def _bgnbd(r: float, alpha: float, a: float, b: float) -> BgNbdFit:
    return BgNbdFit(r, alpha, a, b, log_likelihood=0.0, customers=0, iterations=0)


def _pareto(r: float, alpha: float, s: float, beta: float) -> ParetoNbdFit:
    return ParetoNbdFit(r, alpha, s, beta, log_likelihood=0.0, customers=0, iterations=0)


def _simulate_bgnbd(customers: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, t_x, T) of a BG/NBD population (r=0.5, alpha=5, a=0.8, b=2.5) over 0-52 weeks."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(0.5, 1 / 5.0, customers)
    dropout = rng.beta(0.8, 2.5, customers)
    age = rng.uniform(1, 52, customers)
    x = np.zeros(customers)
    last = np.zeros(customers)
    for i in range(customers):
        t = 0.0
        while True:
            t += rng.exponential(1 / rate[i])
            if t > age[i]:
                break
            x[i] += 1
            last[i] = t
            if rng.random() < dropout[i]:
                break
    return x, last, age


@given(params=st.tuples(positive, positive, positive, positive), T=st.floats(0.0, 500.0))
@settings(max_examples=80, deadline=None)
def test_bgnbd_customers_without_repeat_purchases_are_alive(
    params: tuple[float, float, float, float],
    T: float,  # noqa: N803
) -> None:
    # Dropout only happens right after a repeat purchase.
    assert _bgnbd(*params).p_alive(0, 0.0, T) == pytest.approx(1.0)


@given(params=st.tuples(positive, positive, positive, positive), customer=history)
@settings(max_examples=80, deadline=None)
def test_p_alive_is_a_probability_that_falls_with_silence(
    params: tuple[float, float, float, float], customer: tuple[int, float, float]
) -> None:
    x, share, age = customer
    recency = share * age if x > 0 else 0.0
    for model in (_bgnbd(*params), _pareto(*params)):
        now = float(model.p_alive(x, recency, age))
        later = float(model.p_alive(x, recency, age + 10.0))
        assert 0.0 <= later <= now <= 1.0 + 1e-12


@given(params=st.tuples(positive, positive, positive, positive), customer=history)
@settings(max_examples=80, deadline=None)
def test_expected_purchases_start_at_zero_and_grow_with_the_horizon(
    params: tuple[float, float, float, float], customer: tuple[int, float, float]
) -> None:
    x, share, age = customer
    recency = share * age if x > 0 else 0.0
    horizons = np.array([0.0, 1.0, 5.0, 20.0, 100.0])
    for model in (_bgnbd(*params), _pareto(*params)):
        expected = model.expected_purchases(horizons, x, recency, age)
        assert expected[0] == pytest.approx(0.0, abs=1e-12)
        assert np.all(np.diff(expected) >= -1e-9 * np.abs(expected[1:]))
        new = model.expected_purchases_new(horizons)
        assert np.all(np.diff(new) >= -1e-9 * np.abs(new[1:]))  # flat once all dropped out


def test_pareto_nbd_customers_without_repeats_may_be_gone() -> None:
    # Unlike BG/NBD, a Pareto/NBD lifetime can end before any repeat purchase.
    assert 0 < float(_pareto(0.5, 10.0, 0.6, 12.0).p_alive(0, 0.0, 40.0)) < 1


@pytest.mark.parametrize("fit", [fit_bgnbd, fit_pareto_nbd])
def test_fitting_patterns_with_weights_equals_fitting_every_customer(fit: object) -> None:
    x, t_x, age = _simulate_bgnbd(1_500, seed=3)
    # Day resolution, as real summaries have: many customers share a pattern.
    t_x, age = np.floor(t_x), np.floor(age) + 1
    t_x = np.minimum(t_x, age)
    rows = np.stack([x, t_x, age], axis=1)
    patterns, counts = np.unique(rows, axis=0, return_counts=True)
    every = fit(x, t_x, age)  # type: ignore[operator]
    grouped = fit(*patterns.T, weights=counts)  # type: ignore[operator]
    for name, value in every.params.items():
        assert grouped.params[name] == pytest.approx(value, rel=1e-6)
    assert grouped.log_likelihood == pytest.approx(every.log_likelihood, rel=1e-9)


def test_a_change_of_time_unit_only_rescales_alpha() -> None:
    x, t_x, age = _simulate_bgnbd(1_500, seed=5)
    weeks = fit_bgnbd(x, t_x, age)
    days = fit_bgnbd(x, t_x * 7, age * 7)
    assert days.alpha == pytest.approx(weeks.alpha * 7, rel=1e-5)
    for name in ("r", "a", "b"):
        assert days.params[name] == pytest.approx(weeks.params[name], rel=1e-5)
    # The density of recency is per unit of time: ln L moves by sum(x) ln 7.
    assert weeks.log_likelihood - days.log_likelihood == pytest.approx(x.sum() * np.log(7))


def test_simulated_bgnbd_parameters_are_recovered() -> None:
    x, t_x, age = _simulate_bgnbd(6_000, seed=11)
    fit = fit_bgnbd(x, t_x, age)
    # Continuous-time draws from the model itself: only sampling error (a few % at 6,000).
    assert fit.r == pytest.approx(0.5, rel=0.15)
    assert fit.alpha == pytest.approx(5.0, rel=0.2)
    assert fit.a == pytest.approx(0.8, rel=0.3)
    assert fit.b == pytest.approx(2.5, rel=0.35)


@pytest.mark.parametrize("fit", [fit_bgnbd, fit_pareto_nbd])
def test_too_few_repeat_customers_are_refused(fit: object) -> None:
    x = np.array([0, 0, 0, 1, 2, 0, 0])
    with pytest.raises(TooFewRepeatCustomers, match="found 2 among 7"):
        fit(x, np.where(x > 0, 3.0, 0.0), np.full(x.size, 10.0))  # type: ignore[operator]


def test_gamma_gamma_needs_repeat_customers_with_spend() -> None:
    with pytest.raises(TooFewRepeatCustomers, match="paid repeat purchase"):
        fit_gamma_gamma([0, 1, 2, 3], [0.0, 5.0, 0.0, 7.0])


def test_summaries_no_history_can_produce_are_refused() -> None:
    with pytest.raises(TransactionsInvalid, match="row 2 has a recency above T"):
        fit_bgnbd([1, 1], [1.0, 5.0], [2.0, 4.0])
    with pytest.raises(TransactionsInvalid, match="row 1 has a fractional frequency"):
        fit_pareto_nbd([1.5], [1.0], [2.0])


def test_a_likelihood_without_maximum_is_reported_not_returned() -> None:
    # Everyone bought in every one of 40 periods up to today: no dropout to estimate (a -> 0).
    x = np.arange(1, 41, dtype=float)
    with pytest.raises(FitDidNotConverge, match="parameter a runs to 0"):
        fit_bgnbd(x, np.full(40, 50.0), np.full(40, 50.0))
    # Every purchase worth the same: no spread of spend to estimate.
    with pytest.raises(FitDidNotConverge, match="Gamma-Gamma"):
        fit_gamma_gamma(np.arange(1, 31), np.full(30, 20.0))


@pytest.mark.parametrize(
    ("a", "b"), [(0.8, 2.5), (1.0, 2.0), (1.00005, 2.0), (0.3, 0.5), (0.5, 0.5)]
)
def test_bgnbd_expectation_equals_its_integral_even_where_the_closed_form_is_singular(
    a: float, b: float
) -> None:
    # E[X(t)] = E_p[(1 - (alpha / (alpha + p t))^r) / p] with p ~ Beta(a, b): the closed form
    # divides by a-1 and by a+b-1 (for the series), which are 0 at a = 1 and at a + b = 1.
    r, alpha = 1.3, 4.0
    model = _bgnbd(r, alpha, a, b)
    for t in (1.0, 10.0, 50.0):
        integral, _ = quad(
            lambda p, t=t: (
                beta_distribution.pdf(p, a, b) * -np.expm1(r * np.log(alpha / (alpha + p * t))) / p
            ),
            0.0,
            1.0,
            limit=200,
        )
        assert float(model.expected_purchases_new(t)) == pytest.approx(integral, rel=1e-6)
        # A new customer's conditional expectation (x = 0 observed over T = 0) is the same.
        assert float(model.expected_purchases(t, 0, 0.0, 0.0)) == pytest.approx(integral, rel=1e-6)


def test_patterns_grouped_by_hash_equal_patterns_grouped_by_sorting() -> None:
    x, t_x, age = _simulate_bgnbd(3_000, seed=13)
    t_x, age = np.floor(t_x), np.floor(age) + 1
    t_x = np.minimum(t_x, age)
    weight = np.random.default_rng(1).integers(1, 4, x.size).astype(float)
    hashed = _group_by_hash(x, t_x, age, weight)
    assert hashed is not None
    sorted_ = _group_by_sorting(x, t_x, age, weight)
    order = np.lexsort((hashed[2], hashed[1], hashed[0]))
    for ours, reference in zip(hashed, sorted_, strict=True):
        np.testing.assert_array_equal(ours[order], reference)
    assert sorted_[3].sum() == weight.sum()
    assert sorted_[0].size < x.size  # day resolution: customers do share patterns
