"""The domain errors of rewards, vouchers and charity, each with a stable ``code``.

``InsufficientPoints`` belongs to the ledger, which debits; `PointsShort` is the reward side's
earlier, friendlier refusal before anything is written.
"""

from __future__ import annotations

from fidela.kernel.errors import Conflict, InvalidInput, NotFound


class InvalidReward(InvalidInput):
    """A catalogue entry that cannot be loaded; ``problems`` point at every offending field."""

    code = "reward_invalid"
    title = "The reward is invalid"


class InvalidCharity(InvalidInput):
    code = "charity_invalid"
    title = "The charity or pledge is invalid"


class InvalidPointsAmount(InvalidInput):
    """Points chosen off the grid: below the minimum, above the maximum, not a multiple."""

    code = "points_amount_invalid"
    title = "This number of points cannot be used here"


class RewardNotVisible(NotFound):
    # Not found rather than forbidden: a reward a member cannot see does not exist for them.
    code = "reward_not_visible"
    title = "The reward is not offered to this member"


class RewardUnavailable(Conflict):
    code = "reward_unavailable"
    title = "The reward is outside its validity window"


class RewardOutOfStock(Conflict):
    code = "reward_out_of_stock"
    title = "The reward is out of stock"


class MemberLimitReached(Conflict):
    code = "reward_member_limit_reached"
    title = "The member has reached the limit for this reward"


class PointsShort(Conflict):
    code = "points_short"
    title = "Not enough points"


class RedemptionNotCancellable(Conflict):
    code = "redemption_not_cancellable"
    title = "The redemption can no longer be cancelled"


class VoucherUnknown(NotFound):
    code = "voucher_unknown"
    title = "Unknown voucher code"


class VoucherExpired(Conflict):
    code = "voucher_expired"
    title = "The voucher has expired"


class VoucherAlreadyUsed(Conflict):
    code = "voucher_already_used"
    title = "The voucher has already been used"


class VoucherCancelled(Conflict):
    code = "voucher_cancelled"
    title = "The voucher was cancelled"


class VoucherWrongMember(Conflict):
    code = "voucher_wrong_member"
    title = "The voucher belongs to another member"


class VoucherMinimumNotMet(Conflict):
    code = "voucher_minimum_not_met"
    title = "The order is below the voucher's minimum"


class VoucherNotApplicable(InvalidInput):
    code = "voucher_not_applicable"
    title = "This voucher is not a discount on an order"


class VoucherCodesExhausted(Conflict):
    # Only reachable with a tiny code space or a broken random source; the unique index on the
    # voucher key remains the real guarantee.
    code = "voucher_codes_exhausted"
    title = "No free voucher code could be generated"


class DonationLimitReached(Conflict):
    code = "donation_limit_reached"
    title = "The daily donation limit is reached"
