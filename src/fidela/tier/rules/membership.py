"""A member's standing on a ladder, their qualifying activity, and what a decision returns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from fidela.kernel.errors import FieldProblem
from fidela.tier.rules.errors import InvalidActivity


class ActivityKind(StrEnum):
    EARN = "earn"
    CLAWBACK = "clawback"  # earned points taken back by a return
    REDEEM = "redeem"  # never qualifies: listed so shells can pass the whole ledger history
    EXPIRE = "expire"  # never qualifies: an expired point was still earned
    SPEND = "spend"
    REFUND = "refund"


class Outcome(StrEnum):
    UPGRADE = "upgrade"
    KEEP = "keep"
    DOWNGRADE = "downgrade"
    GRACE = "grace"


class Cause(StrEnum):
    THRESHOLD_REACHED = "threshold_reached"
    REVIEW_PASSED = "review_passed"
    REVIEW_FAILED = "review_failed"
    GRACE_REQUALIFIED = "grace_requalified"
    GRACE_ENDED = "grace_ended"
    RETURN_UNDID_UPGRADE = "return_undid_upgrade"


@dataclass(frozen=True)
class Activity:
    """One qualifying movement. ``amount`` is never negative: the kind carries the sign."""

    kind: ActivityKind
    amount: int
    at: datetime  # when it counts; for CLAWBACK and REFUND the returned order's date
    order_ref: str | None = None
    pending: bool = False  # pending points (return window not over) do not qualify by default
    currency: str | None = None  # SPEND and REFUND only

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int) or self.amount < 0:
            raise InvalidActivity(
                f"amount must be a non-negative int, not {self.amount!r}",
                [FieldProblem("/amount", "a non-negative integer")],
            )
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise InvalidActivity("at must be timezone-aware", [FieldProblem("/at", "naive")])


@dataclass(frozen=True)
class Membership:
    """A member's standing on one ladder. All instants are timezone-aware UTC."""

    tier_code: str
    since: datetime  # when the member entered this tier
    joined_at: datetime  # anchors anniversary windows until the first upgrade
    period_start: datetime | None = None  # start of the window judged at ``review_at``
    review_at: datetime | None = None  # tier held until then; None for the base level, lifetime
    grace_until: datetime | None = None  # set when a review failed and grace applies
    upgraded_at: datetime | None = None  # last upgrade: the anniversary anchor
    upgrade_order_ref: str | None = None  # the order whose activity crossed the threshold
    before_upgrade: Membership | None = None  # state before the last upgrade, to undo it


@dataclass(frozen=True)
class Transition:
    at: datetime
    outcome: Outcome
    cause: Cause
    from_code: str
    to_code: str
    detail: str


@dataclass(frozen=True)
class TierDecision:
    """The net ``outcome`` of one evaluation, the new ``membership`` to persist (equal to the
    input when nothing ``changed``) and the dated ``transitions`` for the tier history."""

    outcome: Outcome
    membership: Membership
    changed: bool
    transitions: tuple[Transition, ...]
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Goal:
    level_code: str
    level_name: str
    needed: int  # the level's threshold
    counted: int  # qualifying amount counted toward it so far
    remaining: int  # max(0, needed - counted)
    by: datetime | None  # reach it before this instant (None: no deadline)
    text: str


@dataclass(frozen=True)
class TierProgress:
    tier_code: str
    tier_name: str
    unit: str
    amount: int  # the current qualifying amount
    review_at: datetime | None
    grace_until: datetime | None
    next: Goal | None  # the next level up; None at the top
    keep: Goal | None  # what keeps the current tier at review; None without a review
