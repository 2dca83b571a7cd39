"""Pure rules of the points ledger: no database, no clock (``now`` is always an argument).

Map of concepts (module in brackets):

- **Lot** [lots]: one earn; ``amount``, ``remaining``, ``earned_at``, ``expires_at`` (exclusive;
  ``None`` never), state ``pending``/``active``, ``activates_at`` (end of a return window, or
  ``None`` while waiting for an activation event), ``ref`` (the order it was earned on).
- **Allocation** [lots]: ``(lot_id, points)`` taken by a spend or clawback, or given back.
  Spends draw from spendable lots (active, not expired, remaining > 0) soonest expiry first,
  never-expiring last, oldest earned on ties, then lot id; all or nothing
  (``InsufficientPoints``). Cancelling restores the exact allocations to the original lots;
  points whose lot expired meanwhile come back expired (see ``restore``).
- **Balance** [lots]: as of ``now`` from the lots alone: available, pending, expiring within
  N days, debt, and expiry the job has not written yet.
- **Expiry policy** [expiry]: none, fixed duration (days, months) rounded to the end of a day,
  month, quarter, half-year or year, or activity-based; an ``ExpirySchedule`` says which one
  governs a lot by its earn date, so switching a policy on is never retroactive. Holds
  (pending points: none, N days, or until a named activation event), activation, due
  expiries, expiry warnings. A lot is dated at its purchase (never in the future): its
  policy, hold end and expiry count from then, so a late import gets no fresh validity.
- **Returns** [returns]: clawback proportional to the returned value (per line when known),
  rounded on the cumulative target so full returns claw back exactly what was earned; return
  policies ``only_pending`` / ``within_balance`` / ``unlimited``; the points paid for an order
  are given back pro rata to their original lots, never clawed again.
- **Journal** [journal]: signed entries per bucket (active, pending), debits (spends and
  clawbacks with allocations and debt), the ``Account`` model with one ``post_*`` step per
  movement, and ``replay`` over a history of operations.
- **Liability** [liability]: outstanding points and their value, realised and expected
  breakage, issued and redeemed per month.

Invariants (tested as properties over random histories):

- the cached balance equals the sum of the entries, per bucket, and what the lots hold:
  ``pending = sum(remaining of pending lots)``, ``active = sum(remaining of active lots) - debt``;
- ``0 <= remaining <= amount`` for every lot;
- no spend ever draws from a pending or expired lot;
- the available balance is never negative unless the return policy is ``unlimited``;
- a cancellation restores exactly what the spend still held, to the lots it came from;
- balances as of ``now`` are the same whether or not the expiry job has run.

Points are ``int``; money is ``int`` minor units; ``Decimal`` only for rates; every instant is
timezone-aware.
"""

from __future__ import annotations

from fidela.ledger.rules.errors import (
    DuplicateReference,
    InsufficientPoints,
    InvalidExpiryPolicy,
    InvalidLiabilityInput,
    InvalidPoints,
    InvalidReturn,
    LotNotFound,
    NothingPending,
    NothingToRestore,
    RestoreExceedsSpend,
    SpendNotFound,
)
from fidela.ledger.rules.expiry import (
    Activity,
    ActivityExpiry,
    ExpiryDue,
    ExpiryPolicy,
    ExpirySchedule,
    ExpiryWarning,
    FixedExpiry,
    Hold,
    HoldKind,
    NoExpiry,
    RoundTo,
    activate,
    counts_as_activity,
    due_activations,
    due_expiries,
    expiry_for,
    expiry_warnings,
    extend_on_activity,
    new_lot,
    released_by,
)
from fidela.ledger.rules.journal import (
    Account,
    Activate,
    Bucket,
    CachedBalance,
    Cancel,
    Debit,
    Earn,
    Entry,
    EntryKind,
    ExpireDue,
    Operation,
    Posting,
    RecordActivity,
    Replay,
    Return,
    ReturnOutcome,
    Spend,
    apply,
    balance,
    cache_of,
    earned_lot,
    post_activation,
    post_activity,
    post_cancel,
    post_due_expiries,
    post_earn,
    post_return,
    post_spend,
    replay,
)
from fidela.ledger.rules.liability import (
    Breakage,
    Liability,
    Outstanding,
    PeriodFigures,
    expected_breakage,
    figures_by_month,
    liability,
    outstanding,
    points_value,
    realised_breakage,
)
from fidela.ledger.rules.lots import (
    Allocation,
    Balance,
    Lot,
    LotState,
    Restoration,
    allocate,
    balance_as_of,
    plan_restore,
    restore,
    spend_order_key,
    spendable_lots,
    take,
)
from fidela.ledger.rules.returns import (
    ClawbackPlan,
    LineEarning,
    OrderEarning,
    Returned,
    ReturnPolicy,
    plan_clawback,
    points_to_claw_back,
    points_to_give_back,
    returned_share,
)

__all__ = [
    "Account",
    "Activate",
    "Activity",
    "ActivityExpiry",
    "Allocation",
    "Balance",
    "Breakage",
    "Bucket",
    "CachedBalance",
    "Cancel",
    "ClawbackPlan",
    "Debit",
    "DuplicateReference",
    "Earn",
    "Entry",
    "EntryKind",
    "ExpireDue",
    "ExpiryDue",
    "ExpiryPolicy",
    "ExpirySchedule",
    "ExpiryWarning",
    "FixedExpiry",
    "Hold",
    "HoldKind",
    "InsufficientPoints",
    "InvalidExpiryPolicy",
    "InvalidLiabilityInput",
    "InvalidPoints",
    "InvalidReturn",
    "Liability",
    "LineEarning",
    "Lot",
    "LotNotFound",
    "LotState",
    "NoExpiry",
    "NothingPending",
    "NothingToRestore",
    "Operation",
    "OrderEarning",
    "Outstanding",
    "PeriodFigures",
    "Posting",
    "RecordActivity",
    "Replay",
    "Restoration",
    "RestoreExceedsSpend",
    "Return",
    "ReturnOutcome",
    "ReturnPolicy",
    "Returned",
    "RoundTo",
    "Spend",
    "SpendNotFound",
    "activate",
    "allocate",
    "apply",
    "balance",
    "balance_as_of",
    "cache_of",
    "counts_as_activity",
    "due_activations",
    "due_expiries",
    "earned_lot",
    "expected_breakage",
    "expiry_for",
    "expiry_warnings",
    "extend_on_activity",
    "figures_by_month",
    "liability",
    "new_lot",
    "outstanding",
    "plan_clawback",
    "plan_restore",
    "points_to_claw_back",
    "points_to_give_back",
    "points_value",
    "post_activation",
    "post_activity",
    "post_cancel",
    "post_due_expiries",
    "post_earn",
    "post_return",
    "post_spend",
    "realised_breakage",
    "released_by",
    "replay",
    "restore",
    "returned_share",
    "spend_order_key",
    "spendable_lots",
    "take",
]
