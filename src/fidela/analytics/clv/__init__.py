"""Customer lifetime value: BG/NBD, Pareto/NBD and Gamma-Gamma fitted by maximum likelihood.

Pure numpy/scipy over plain arrays (or a pyarrow/pandas table through `transactions`):

    summary = summarise(customer_ids, dates, amounts, observation_end, time_unit="W")
    fit = fit_bgnbd(summary.frequency, summary.recency, summary.T)
    fit.params, fit.log_likelihood, fit.p_alive(x, t_x, T), fit.expected_purchases(t, x, t_x, T)
    spend = fit_gamma_gamma(summary.frequency, summary.monetary)
    customer_lifetime_value(fit, spend, x, t_x, T, m, discount_rate=0.01, margin=0.3)

The names below load their module on first use: the package also holds the ORM model of the
per-customer CLV rows (``models``), which the schema registry imports at every start, and that
must not pay for scipy and pandas.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_HOMES = {
    "BgNbdFit": "bgnbd",
    "fit_bgnbd": "bgnbd",
    "FitDidNotConverge": "errors",
    "NoHoldoutPeriod": "errors",
    "TooFewRepeatCustomers": "errors",
    "TransactionsInvalid": "errors",
    "GammaGammaFit": "gammagamma",
    "fit_gamma_gamma": "gammagamma",
    "HoldoutReport": "holdout",
    "purchases_report": "holdout",
    "spend_report": "holdout",
    "ParetoNbdFit": "paretonbd",
    "fit_pareto_nbd": "paretonbd",
    "CustomerSummary": "summary",
    "Holdout": "summary",
    "calibration_and_holdout": "summary",
    "summarise": "summary",
    "Transactions": "transactions",
    "transactions_from_table": "transactions",
    "PurchaseModel": "value",
    "customer_lifetime_value": "value",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)


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
