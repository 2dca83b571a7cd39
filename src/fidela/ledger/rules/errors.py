"""The ledger's domain errors: nouns with a stable ``code``, each one of the kernel's kinds.

Broken value invariants (a lot whose ``remaining`` exceeds its ``amount``, a naive datetime)
are programming or data errors and raise ``ValueError`` instead: no request can cause them.
"""

from __future__ import annotations

from dataclasses import dataclass

from fidela.kernel.errors import Conflict, InvalidInput, NotFound


class InvalidPoints(InvalidInput):
    code = "points_invalid"
    title = "Points must be a positive whole number"


@dataclass
class InsufficientPoints(Conflict):
    """A spend asks for more than the spendable balance; nothing was allocated."""

    requested: int = 0
    available: int = 0

    code = "points_insufficient"
    title = "Not enough spendable points"


class InvalidExpiryPolicy(InvalidInput):
    code = "expiry_policy_invalid"
    title = "Invalid expiry policy"


class InvalidReturn(InvalidInput):
    code = "points_return_invalid"
    title = "Invalid return figures"


class InvalidLiabilityInput(InvalidInput):
    code = "liability_input_invalid"
    title = "Invalid liability figures"


class DuplicateReference(Conflict):
    code = "ledger_reference_taken"
    title = "A ledger movement with this reference already exists"


class SpendNotFound(NotFound):
    code = "points_spend_not_found"
    title = "No such spend"


class NothingToRestore(Conflict):
    code = "points_nothing_to_restore"
    title = "The spend has nothing left to restore"


class RestoreExceedsSpend(Conflict):
    code = "points_restore_exceeds_spend"
    title = "More points would be given back than the spend took"


class LotNotFound(NotFound):
    code = "points_lot_not_found"
    title = "No such points lot"


class NothingPending(NotFound):
    code = "points_nothing_pending"
    title = "No pending points to activate"
