"""The domain errors of the earning rule engine, each with a stable ``code``."""

from __future__ import annotations

from fidela.kernel.errors import InvalidInput


class InvalidRuleSet(InvalidInput):
    """A rule set that cannot be loaded; ``problems`` point at every offending field."""

    code = "rule_set_invalid"
    title = "The rule set is invalid"


class InvalidEarningInput(InvalidInput):
    """An order, event or member context the engine cannot evaluate (pointers given)."""

    code = "earning_input_invalid"
    title = "The event cannot be evaluated"


class CurrencyNotProgramme(InvalidInput):
    """An order in another currency than the programme's: never converted silently."""

    code = "order_currency_not_programme"
    title = "The order's currency is not the programme's"
