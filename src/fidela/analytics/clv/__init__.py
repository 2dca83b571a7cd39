"""Customer lifetime value: BG/NBD, Pareto/NBD and Gamma-Gamma fitted by maximum likelihood.

Pure numpy/scipy over plain arrays (or a pyarrow/pandas table through `transactions`):

    summary = summarise(customer_ids, dates, amounts, observation_end, time_unit="W")
    fit = fit_bgnbd(summary.frequency, summary.recency, summary.T)
    fit.params, fit.log_likelihood, fit.p_alive(x, t_x, T), fit.expected_purchases(t, x, t_x, T)
    spend = fit_gamma_gamma(summary.frequency, summary.monetary)
    customer_lifetime_value(fit, spend, x, t_x, T, m, discount_rate=0.01, margin=0.3)
"""

from fidela.analytics.clv.bgnbd import BgNbdFit, fit_bgnbd
from fidela.analytics.clv.errors import (
    FitDidNotConverge,
    NoHoldoutPeriod,
    TooFewRepeatCustomers,
    TransactionsInvalid,
)
from fidela.analytics.clv.gammagamma import GammaGammaFit, fit_gamma_gamma
from fidela.analytics.clv.holdout import HoldoutReport, purchases_report, spend_report
from fidela.analytics.clv.paretonbd import ParetoNbdFit, fit_pareto_nbd
from fidela.analytics.clv.summary import (
    CustomerSummary,
    Holdout,
    calibration_and_holdout,
    summarise,
)
from fidela.analytics.clv.transactions import Transactions, transactions_from_table
from fidela.analytics.clv.value import PurchaseModel, customer_lifetime_value

__all__ = [
    "BgNbdFit",
    "CustomerSummary",
    "FitDidNotConverge",
    "GammaGammaFit",
    "Holdout",
    "HoldoutReport",
    "NoHoldoutPeriod",
    "ParetoNbdFit",
    "PurchaseModel",
    "TooFewRepeatCustomers",
    "Transactions",
    "TransactionsInvalid",
    "calibration_and_holdout",
    "customer_lifetime_value",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "fit_pareto_nbd",
    "purchases_report",
    "spend_report",
    "summarise",
    "transactions_from_table",
]
