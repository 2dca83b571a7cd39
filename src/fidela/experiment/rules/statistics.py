"""The statistics of an experiment's results, in the standard library (this module is pure:
the tests check every figure against scipy on known data).

- conversion: a two-proportion z-test (pooled standard error for the test, unpooled for the
  confidence interval of the difference), as the usual A/B calculators do;
- revenue per recipient: Welch's t-test (unequal variances; revenue is heavy-tailed and the
  arms rarely share a variance), from sums so the database can aggregate;
- relative lift: a delta-method interval on the ratio of the two means;
- Bayesian chance to beat control: P(p_variant > p_control) under Beta(1 + conversions,
  1 + non-conversions) posteriors, computed exactly (Evan Miller's closed form), so it is the
  same on every run without a random generator;
- sample-ratio mismatch: a chi-square goodness-of-fit test of the observed arm sizes against
  the configured split.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from fidela.experiment.rules.special import (
    chi_square_sf,
    normal_ppf,
    normal_sf,
    student_t_ppf,
    student_t_sf,
)

SRM_THRESHOLD = 0.001  # p below this: the split is broken, do not read the results


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True)
class ProportionTest:
    control_rate: float
    variant_rate: float
    absolute_lift: float
    absolute_interval: Interval
    relative_lift: float | None
    relative_interval: Interval | None
    z: float
    p_value: float


@dataclass(frozen=True)
class MeanTest:
    control_mean: float
    variant_mean: float
    absolute_lift: float
    absolute_interval: Interval
    relative_lift: float | None
    relative_interval: Interval | None
    t: float
    df: float
    p_value: float


@dataclass(frozen=True)
class Moments:
    """n, sum and sum of squares of a per-recipient value (zero for non-buyers)."""

    n: int
    total: float
    total_squares: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Moments:
        return cls(len(values), math.fsum(values), math.fsum(v * v for v in values))

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        """The sample variance (n - 1 in the denominator)."""
        if self.n < 2:
            return 0.0
        return max(0.0, (self.total_squares - self.total * self.total / self.n) / (self.n - 1))


def _relative(
    mean_a: float, var_mean_a: float, mean_b: float, var_mean_b: float, z: float
) -> tuple[float | None, Interval | None]:
    if mean_a <= 0:
        return None, None
    ratio = mean_b / mean_a
    # Delta method on b/a: Var ~ ratio^2 (Var(b)/b^2 + Var(a)/a^2), written without dividing
    # by b (which may be 0).
    spread = math.sqrt(var_mean_b / (mean_a * mean_a) + ratio * ratio * var_mean_a / (mean_a**2))
    return ratio - 1.0, Interval(ratio - 1.0 - z * spread, ratio - 1.0 + z * spread)


def two_proportion_test(
    control_conversions: int,
    control_n: int,
    variant_conversions: int,
    variant_n: int,
    *,
    confidence: float = 0.95,
) -> ProportionTest:
    if control_n <= 0 or variant_n <= 0:
        raise ValueError("both arms need recipients")
    pa, pb = control_conversions / control_n, variant_conversions / variant_n
    pooled = (control_conversions + variant_conversions) / (control_n + variant_n)
    pooled_se = math.sqrt(pooled * (1 - pooled) * (1 / control_n + 1 / variant_n))
    z_value = (pb - pa) / pooled_se if pooled_se > 0 else 0.0
    p_value = 2 * normal_sf(abs(z_value)) if pooled_se > 0 else 1.0
    var_a, var_b = pa * (1 - pa) / control_n, pb * (1 - pb) / variant_n
    critical = normal_ppf(0.5 + confidence / 2)
    half = critical * math.sqrt(var_a + var_b)
    relative, relative_interval = _relative(pa, var_a, pb, var_b, critical)
    return ProportionTest(
        pa,
        pb,
        pb - pa,
        Interval(pb - pa - half, pb - pa + half),
        relative,
        relative_interval,
        z_value,
        p_value,
    )


def welch_test(control: Moments, variant: Moments, *, confidence: float = 0.95) -> MeanTest:
    if control.n < 2 or variant.n < 2:
        raise ValueError("Welch's test needs two recipients per arm")
    var_a, var_b = control.variance / control.n, variant.variance / variant.n
    diff = variant.mean - control.mean
    se = math.sqrt(var_a + var_b)
    if se == 0:
        interval = Interval(diff, diff)
        return MeanTest(control.mean, variant.mean, diff, interval, None, None, 0.0, 0.0, 1.0)
    t_value = diff / se
    df = (var_a + var_b) ** 2 / (var_a**2 / (control.n - 1) + var_b**2 / (variant.n - 1))
    p_value = 2 * student_t_sf(abs(t_value), df)
    critical = student_t_ppf(0.5 + confidence / 2, df)
    relative, relative_interval = _relative(control.mean, var_a, variant.mean, var_b, critical)
    return MeanTest(
        control.mean,
        variant.mean,
        diff,
        Interval(diff - critical * se, diff + critical * se),
        relative,
        relative_interval,
        t_value,
        df,
        p_value,
    )


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def chance_to_beat(
    control_conversions: int, control_n: int, variant_conversions: int, variant_n: int
) -> float:
    """P(p_variant > p_control) with uniform priors, exactly:
    sum over i < a_B of B(a_A + i, b_A + b_B) / ((b_B + i) B(1 + i, b_B) B(a_A, b_A))."""
    a_a, b_a = 1 + control_conversions, 1 + control_n - control_conversions
    a_b, b_b = 1 + variant_conversions, 1 + variant_n - variant_conversions
    # Sum the smaller series: P(B > A) = 1 - P(A > B) (ties have probability 0).
    if a_b > a_a:
        return 1.0 - chance_to_beat(variant_conversions, variant_n, control_conversions, control_n)
    const = _log_beta(a_a, b_a)
    total = math.fsum(
        math.exp(_log_beta(a_a + i, b_a + b_b) - math.log(b_b + i) - _log_beta(1 + i, b_b) - const)
        for i in range(a_b)
    )
    return min(1.0, max(0.0, total))


@dataclass(frozen=True)
class RatioCheck:
    statistic: float
    p_value: float
    mismatch: bool


def sample_ratio_check(
    observed: Sequence[int], weights: Sequence[float], *, threshold: float = SRM_THRESHOLD
) -> RatioCheck:
    """Chi-square goodness of fit of the arm sizes against the configured weights."""
    if len(observed) != len(weights) or len(observed) < 2:
        raise ValueError("one weight per arm, at least two arms")
    total, weight = sum(observed), sum(weights)
    if total == 0:
        return RatioCheck(0.0, 1.0, mismatch=False)
    expected = [total * w / weight for w in weights]
    statistic = math.fsum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))
    p_value = chi_square_sf(statistic, len(observed) - 1)
    return RatioCheck(statistic, p_value, mismatch=p_value < threshold)
