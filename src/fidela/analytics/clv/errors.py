"""What can go wrong when CLV models meet data: stable codes, one clear message each."""

from __future__ import annotations

from fidela.kernel.errors import DomainError, ErrorKind, InvalidInput


class TransactionsInvalid(InvalidInput):
    """The transaction table cannot be summarised (a missing column, a bad value)."""

    code = "clv_transactions_invalid"
    title = "The transactions cannot be used"


class TooFewRepeatCustomers(DomainError):
    """The data holds too few customers with repeat purchases to identify a model."""

    code = "clv_too_few_repeat_customers"
    kind = ErrorKind.INVALID
    title = "Too few repeat customers to fit"


class FitDidNotConverge(DomainError):
    """The optimiser stopped without reaching a maximum of the likelihood."""

    code = "clv_fit_did_not_converge"
    kind = ErrorKind.INVALID
    title = "The model fit did not converge"


class NoHoldoutPeriod(DomainError):
    """The calibration end leaves nothing to hold out."""

    code = "clv_no_holdout_period"
    kind = ErrorKind.INVALID
    title = "The calibration end leaves no holdout period"
