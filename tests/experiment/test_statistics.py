"""The experiment statistics, checked against scipy on known data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from fidela.experiment.rules.results import ArmData, WinnerPolicy, compare
from fidela.experiment.rules.special import (
    chi_square_sf,
    normal_ppf,
    regularized_beta,
    student_t_ppf,
    student_t_sf,
)
from fidela.experiment.rules.statistics import (
    Moments,
    chance_to_beat,
    sample_ratio_check,
    two_proportion_test,
    welch_test,
)


@pytest.mark.parametrize("p", [1e-6, 0.001, 0.025, 0.3, 0.5, 0.8, 0.975, 0.999999])
def test_the_normal_quantile_matches_scipy(p: float) -> None:
    assert normal_ppf(p) == pytest.approx(stats.norm.ppf(p), rel=1e-10)


@pytest.mark.parametrize(("t", "df"), [(0.3, 1.0), (2.1, 7.5), (-1.7, 30.0), (4.0, 1234.5)])
def test_student_t_tail_and_quantile_match_scipy(t: float, df: float) -> None:
    assert student_t_sf(t, df) == pytest.approx(stats.t.sf(t, df), rel=1e-9)
    assert student_t_ppf(0.975, df) == pytest.approx(stats.t.ppf(0.975, df), rel=1e-9)


@pytest.mark.parametrize(("a", "b", "x"), [(0.5, 0.5, 0.2), (3.0, 40.0, 0.07), (250.0, 0.5, 0.99)])
def test_the_incomplete_beta_matches_scipy(a: float, b: float, x: float) -> None:
    from scipy import special

    assert regularized_beta(a, b, x) == pytest.approx(special.betainc(a, b, x), rel=1e-10)


@pytest.mark.parametrize(("statistic", "df"), [(0.5, 1), (3.84, 1), (12.0, 3), (80.0, 9)])
def test_the_chi_square_tail_matches_scipy(statistic: float, df: int) -> None:
    assert chi_square_sf(statistic, df) == pytest.approx(stats.chi2.sf(statistic, df), rel=1e-9)


def test_the_two_proportion_z_test_matches_scipys_chi_square_on_the_2x2_table() -> None:
    # 1,000 / 10,000 conversions against 1,120 / 10,000.
    result = two_proportion_test(1000, 10_000, 1120, 10_000)
    table = [[1000, 9000], [1120, 8880]]
    chi2, p_value, _, _ = stats.chi2_contingency(table, correction=False)
    assert result.z**2 == pytest.approx(chi2, rel=1e-10)
    assert result.p_value == pytest.approx(p_value, rel=1e-9)
    assert result.absolute_lift == pytest.approx(0.012)
    assert result.relative_lift == pytest.approx(0.12)
    # The unpooled interval for the difference, recomputed with scipy's normal quantile.
    se = math.sqrt(0.1 * 0.9 / 10_000 + 0.112 * 0.888 / 10_000)
    z = stats.norm.ppf(0.975)
    assert result.absolute_interval.low == pytest.approx(0.012 - z * se, rel=1e-10)
    assert result.absolute_interval.high == pytest.approx(0.012 + z * se, rel=1e-10)
    assert result.relative_interval is not None
    assert result.relative_interval.low < 0.12 < result.relative_interval.high


def test_no_difference_gives_a_p_value_of_one_and_an_interval_around_zero() -> None:
    result = two_proportion_test(50, 1000, 50, 1000)
    assert result.p_value == pytest.approx(1.0)
    assert result.absolute_interval.low < 0 < result.absolute_interval.high


def test_welchs_test_on_revenue_matches_scipy_on_raw_values() -> None:
    generator = np.random.default_rng(20261122)
    control = (generator.random(800) < 0.1) * generator.gamma(2.0, 2500.0, 800)
    variant = (generator.random(900) < 0.12) * generator.gamma(2.0, 2700.0, 900)
    result = welch_test(Moments.of(control.tolist()), Moments.of(variant.tolist()))
    reference = stats.ttest_ind(variant, control, equal_var=False)
    assert result.t == pytest.approx(reference.statistic, rel=1e-9)
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-8)
    assert result.df == pytest.approx(reference.df, rel=1e-9)
    interval = reference.confidence_interval(0.95)
    assert result.absolute_interval.low == pytest.approx(interval.low, rel=1e-8)
    assert result.absolute_interval.high == pytest.approx(interval.high, rel=1e-8)


def test_the_exact_chance_to_beat_control_agrees_with_a_seeded_monte_carlo() -> None:
    generator = np.random.default_rng(7)
    draws = 400_000
    control = generator.beta(1 + 100, 1 + 900, draws)
    variant = generator.beta(1 + 120, 1 + 880, draws)
    simulated = float(np.mean(variant > control))
    exact = chance_to_beat(100, 1000, 120, 1000)
    assert exact == pytest.approx(simulated, abs=0.003)
    assert chance_to_beat(120, 1000, 100, 1000) == pytest.approx(1 - exact, abs=1e-12)
    assert chance_to_beat(100, 1000, 100, 1000) == pytest.approx(0.5, abs=1e-9)


def test_the_sample_ratio_check_matches_scipys_chi_square_goodness_of_fit() -> None:
    observed = [5_000, 5_210, 4_790]
    result = sample_ratio_check(observed, [1, 1, 1])
    reference = stats.chisquare(observed)
    assert result.statistic == pytest.approx(reference.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-9)


def test_a_skewed_split_is_flagged_as_a_sample_ratio_mismatch() -> None:
    assert sample_ratio_check([10_000, 10_500], [0.5, 0.5]).mismatch
    assert not sample_ratio_check([10_000, 10_050], [0.5, 0.5]).mismatch
    # A 10 % holdout observed at 10 % is healthy, at 8 % it is not.
    assert not sample_ratio_check([1_000, 9_000], [0.1, 0.9]).mismatch
    assert sample_ratio_check([800, 9_200], [0.1, 0.9]).mismatch


def _arm(name: str, weight: float, n: int, conversions: int) -> ArmData:
    values = [4000.0] * conversions + [0.0] * (n - conversions)
    return ArmData(name, weight, n, conversions, Moments.of(values))


def test_the_clear_winner_is_declared_and_a_suspect_split_declares_none() -> None:
    arms = [_arm("holdout", 1, 5000, 400), _arm("a", 1, 5000, 420), _arm("b", 1, 5000, 520)]
    results = compare(arms, control="holdout", winner_policy=WinnerPolicy())
    assert results.winner == "b"
    assert not results.ratio.mismatch
    b = next(arm for arm in results.arms if arm.name == "b")
    assert b.conversion is not None
    assert b.conversion.p_value < 0.001
    assert b.chance_to_beat_control is not None
    assert b.chance_to_beat_control > 0.99
    assert b.revenue is not None
    assert b.revenue.absolute_lift == pytest.approx((520 - 400) * 4000 / 5000)
    skewed = [_arm("holdout", 1, 4000, 320), _arm("a", 1, 5000, 420), _arm("b", 1, 5000, 520)]
    assert compare(skewed, control="holdout", winner_policy=WinnerPolicy()).winner is None
    assert compare(skewed, control="holdout", winner_policy=WinnerPolicy()).ratio.mismatch


def test_no_winner_without_significance() -> None:
    arms = [_arm("control", 1, 2000, 100), _arm("a", 1, 2000, 104)]
    assert compare(arms, control="control", winner_policy=WinnerPolicy()).winner is None
