"""Predicted CLV per customer from their purchase days: BG/NBD for how often, Gamma-Gamma for
how much, discounted week by week over a horizon.

Conventions (the snapshot payload repeats them in its ``units``):

- Time unit: weeks (``summarise(..., time_unit="W")``, fractional weeks at day resolution).
  The observation ends on the last UTC day before ``as_of`` (inclusive), so a snapshot as of
  midnight sees whole days only.
- ``expected_purchases``: BG/NBD's conditional expectation of repeat purchase days over the
  next ``horizon_weeks``; ``p_alive`` its P(alive | x, t_x, T).
- ``expected_spend_minor``: Gamma-Gamma's conditional mean value of a purchase day (customers
  without a repeat purchase get the population mean).
- ``clv_minor``: ``margin x spend x purchases`` summed over the weeks of the horizon, week
  ``i`` discounted by ``(1 + d_w)^i`` where ``d_w = (1 + discount_rate)^(7 / 365.25) - 1`` is
  the weekly rate equivalent to the annual ``discount_rate``. ``margin`` 1.0 (the default)
  makes it a *revenue* CLV; give the gross margin share for a profit CLV.
- ``historical_minor``: what the customer kept of their orders before ``as_of``.
- Money is integer minor units, rounded half-even from the models' floats.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from fidela.analytics.clv.bgnbd import BgNbdFit, fit_bgnbd
from fidela.analytics.clv.errors import FitDidNotConverge, NoHoldoutPeriod, TooFewRepeatCustomers
from fidela.analytics.clv.gammagamma import GammaGammaFit, fit_gamma_gamma
from fidela.analytics.clv.holdout import purchases_report, spend_report
from fidela.analytics.clv.operational import PurchaseDays
from fidela.analytics.clv.summary import CustomerSummary, calibration_and_holdout, summarise
from fidela.analytics.clv.value import customer_lifetime_value
from fidela.kernel.errors import DomainError, ErrorKind, FieldProblem, InvalidInput

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
DAYS_PER_YEAR = 365.25
MAX_HORIZON_WEEKS = 520


class ClvSettingsInvalid(InvalidInput):
    code = "clv_settings_invalid"
    title = "Invalid CLV settings"


class ClvSpendUnbounded(DomainError):
    """Gamma-Gamma fitted q <= 1: the population mean spend is infinite."""

    code = "clv_spend_unbounded"
    kind = ErrorKind.INVALID
    title = "The spend model has no finite mean"


@dataclass(frozen=True)
class ClvSettings:
    """The horizon in weeks, the annual discount rate and the margin share (0 < m <= 1)."""

    horizon_weeks: int = 52
    discount_rate: float = 0.10
    margin: float = 1.0

    def __post_init__(self) -> None:
        problems = []
        if not 1 <= self.horizon_weeks <= MAX_HORIZON_WEEKS:
            problems.append(FieldProblem("/horizon_weeks", f"between 1 and {MAX_HORIZON_WEEKS}"))
        if not (math.isfinite(self.discount_rate) and 0 <= self.discount_rate < 1):
            problems.append(FieldProblem("/discount_rate", "an annual rate in [0, 1), e.g. 0.10"))
        if not (math.isfinite(self.margin) and 0 < self.margin <= 1):
            problems.append(FieldProblem("/margin", "a share in (0, 1]; 1.0 = revenue CLV"))
        if problems:
            raise ClvSettingsInvalid(
                "; ".join(f"{p.pointer[1:]} must be {p.message}" for p in problems), problems
            )

    @property
    def weekly_discount_rate(self) -> float:
        return float((1 + self.discount_rate) ** (7 / DAYS_PER_YEAR) - 1)


@dataclass(frozen=True)
class ClvPrediction:
    """Everything a CLV snapshot stores; per-customer arrays aligned on ``summary.customer``."""

    as_of: dt.datetime
    currency: str | None
    settings: ClvSettings
    summary: CustomerSummary
    purchases: BgNbdFit
    spend: GammaGammaFit
    p_alive: FloatArray
    expected_purchases: FloatArray
    expected_spend_minor: IntArray
    clv_minor: IntArray
    historical_minor: IntArray
    holdout: dict[str, Any] | None
    holdout_problem: str | None

    @property
    def customers(self) -> int:
        return self.summary.size


def observation_end(as_of: dt.datetime) -> dt.date:
    """The last whole-or-partial UTC day before ``as_of`` (naive UTC)."""
    return (as_of - dt.timedelta(microseconds=1)).date()


def summarise_days(days: PurchaseDays, as_of: dt.datetime) -> CustomerSummary:
    """The weekly CDNOW summary of the purchase days up to ``as_of``."""
    return summarise(
        days.customer, days.day, days.value_minor.astype(np.float64), observation_end(as_of), "W"
    )


def _minor(values: FloatArray) -> IntArray:
    # np.rint rounds half to even, the rounding used for money everywhere else.
    return np.rint(values).astype(np.int64)


def _holdout(
    days: PurchaseDays, as_of: dt.datetime, settings: ClvSettings
) -> tuple[dict[str, Any] | None, str | None]:
    """Refit on everything but the last ``horizon_weeks`` and compare the predicted with the
    actual purchases (and spend) in them; the reason instead when that cannot be done."""
    end = observation_end(as_of)
    calibration_end = end - dt.timedelta(weeks=settings.horizon_weeks)
    try:
        calibration, holdout = calibration_and_holdout(
            days.customer,
            days.day,
            days.value_minor.astype(np.float64),
            calibration_end,
            end,
            "W",
        )
        purchases = fit_bgnbd(calibration.frequency, calibration.recency, calibration.T)
    except (TooFewRepeatCustomers, FitDidNotConverge, NoHoldoutPeriod) as error:
        return None, f"no holdout check before {calibration_end.isoformat()}: {error}"
    report: dict[str, Any] = {
        "calibration_end": calibration_end.isoformat(),
        "bgnbd": {**purchases.params, "log_likelihood": purchases.log_likelihood},
        "purchases": purchases_report(purchases, calibration, holdout).as_dict(),
    }
    try:
        spend = fit_gamma_gamma(calibration.frequency, calibration.monetary)
    except (TooFewRepeatCustomers, FitDidNotConverge) as error:
        report["spend_problem"] = str(error)
    else:
        report["spend"] = spend_report(spend, calibration, holdout).as_dict()
    return report, None


def predict_clv(
    days: PurchaseDays,
    *,
    as_of: dt.datetime,
    settings: ClvSettings,
    with_holdout: bool = True,
) -> ClvPrediction:
    """Fit BG/NBD and Gamma-Gamma on every buyer's purchase days before ``as_of`` and predict
    each one's CLV over the horizon. Raises ``TooFewRepeatCustomers`` (fewer than 10 buyers
    with a repeat purchase, or with a paid one) and ``FitDidNotConverge``."""
    summary = summarise_days(days, as_of)
    x, t_x, age = summary.frequency, summary.recency, summary.T
    purchases = fit_bgnbd(x, t_x, age)
    spend = fit_gamma_gamma(x, summary.monetary)
    if not math.isfinite(spend.population_mean_spend):
        raise ClvSpendUnbounded(
            f"Gamma-Gamma fitted q = {spend.q:.4g} <= 1: the mean spend per purchase is "
            "unbounded, so no CLV can be given (too few or too dispersed repeat purchases)"
        )
    horizon = float(settings.horizon_weeks)
    expected = purchases.expected_purchases(horizon, x, t_x, age)
    value = customer_lifetime_value(
        purchases,
        spend,
        x,
        t_x,
        age,
        summary.monetary,
        periods=settings.horizon_weeks,
        period_length=1.0,
        discount_rate=settings.weekly_discount_rate,
        margin=settings.margin,
    )
    # Integer sums per customer (the days are sorted by customer, one run per customer).
    starts = np.searchsorted(days.customer, summary.customer)
    historical = np.add.reduceat(days.value_minor, starts) if days.size else np.zeros(0, np.int64)
    report, problem = _holdout(days, as_of, settings) if with_holdout else (None, None)
    return ClvPrediction(
        as_of=as_of,
        currency=days.currency,
        settings=settings,
        summary=summary,
        purchases=purchases,
        spend=spend,
        p_alive=purchases.p_alive(x, t_x, age),
        expected_purchases=expected,
        expected_spend_minor=_minor(spend.expected_spend(x, summary.monetary)),
        clv_minor=_minor(value),
        historical_minor=historical.astype(np.int64),
        holdout=report,
        holdout_problem=problem,
    )
