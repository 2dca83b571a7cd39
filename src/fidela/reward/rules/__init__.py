"""Pure rules of rewards: no database, no clock (``now`` is always an argument).

Map of concepts (module in brackets):

- **Reward** [catalogue]: a catalogue entry as data: ``terms`` by kind (fixed-amount voucher,
  percent voucher, pay-with-points / cashback at a ``Decimal`` value per point with a minimum
  and a step, free shipping, free product, experience with a date, an end and a capacity), a
  cost in points, ``stock`` (``None`` unlimited; seats for an experience), a per-member limit
  per day / week / month / year or ever, a validity window, visibility by tier, segment and
  tier-benefit tags, and the voucher spec (prefix, length, validity in days).
- **Eligibility** [redemption]: `can_redeem` lists every reason a member cannot redeem (not
  visible, outside the window, out of stock, member limit reached, not enough points);
  `affordable_rewards` is the member's "what can I get now" list.
- **Redemption plan** [redemption]: the points to debit, the stock decrement, the voucher to
  issue and the money granted. The service writes it with the ledger's guarded debit and a
  guarded stock update.
- **Cancellation** [redemption]: an unused, unexpired voucher, or an experience booking before
  its cut-off, may be cancelled; the ledger restores the points to their original lots.
- **Voucher** [voucher]: unique codes from a random source passed in (deterministic tests),
  in Crockford base32 without ambiguous characters, looked up by a canonical key; use
  validation (unknown, wrong member, cancelled, used, expired) and the discount on an order.
- **Charity** [charity]: points donated at the charity's rate with a minimum, multiples and a
  daily limit; pledges of impact per qualifying order ("a tree per purchase") with their cost
  to the business and a budget.
- **Loading** [loading]: the JSON forms, validated with a pointer for every problem.

Invariants:

- stock never goes below 0: a plan needs ``stock >= 1`` and takes exactly 1;
- a member never exceeds a reward's limit in its period, counted in the limit's timezone;
- points turn into money rounded down: a point is never worth more than its rate;
- a discount is never more than the order; a pledge never exceeds its budget;
- every instant is timezone-aware; points are ``int``, money ``int`` minor units plus currency,
  ``Decimal`` only for rates.
"""

from __future__ import annotations

from fidela.reward.rules.catalogue import (
    Experience,
    ExperienceKind,
    FixedValue,
    FreeProduct,
    FreeShipping,
    LimitPeriod,
    MemberLimit,
    PercentOff,
    PointsToMoney,
    Reward,
    RewardKind,
    Terms,
    Visibility,
    VoucherSpec,
    points_value,
)
from fidela.reward.rules.charity import (
    Charity,
    Donation,
    DonationPlan,
    Pledge,
    PledgeOutcome,
    plan_donation,
    pledge_for_order,
)
from fidela.reward.rules.errors import (
    DonationLimitReached,
    InvalidCharity,
    InvalidPointsAmount,
    InvalidReward,
    MemberLimitReached,
    PointsShort,
    RedemptionNotCancellable,
    RewardNotVisible,
    RewardOutOfStock,
    RewardUnavailable,
    VoucherAlreadyUsed,
    VoucherCancelled,
    VoucherCodesExhausted,
    VoucherExpired,
    VoucherMinimumNotMet,
    VoucherNotApplicable,
    VoucherUnknown,
    VoucherWrongMember,
)
from fidela.reward.rules.loading import load_charity, load_pledge, load_reward
from fidela.reward.rules.redemption import (
    CancelDecision,
    CancelRefusal,
    Eligibility,
    MemberView,
    PastRedemption,
    Reason,
    RedemptionPlan,
    RedemptionRecord,
    Refusal,
    affordable_rewards,
    can_redeem,
    cancellation,
    ensure_can_redeem,
    ensure_cancellable,
    max_payable_points,
    plan_redemption,
    points_to_spend,
    redemptions_in_period,
    visible_to,
)
from fidela.reward.rules.voucher import (
    CODE_ALPHABET,
    IssuedVoucher,
    RandomSource,
    VoucherIssue,
    check_voucher_use,
    generate_voucher_code,
    issue_voucher,
    voucher_discount,
    voucher_key,
)

__all__ = [
    "CODE_ALPHABET",
    "CancelDecision",
    "CancelRefusal",
    "Charity",
    "Donation",
    "DonationLimitReached",
    "DonationPlan",
    "Eligibility",
    "Experience",
    "ExperienceKind",
    "FixedValue",
    "FreeProduct",
    "FreeShipping",
    "InvalidCharity",
    "InvalidPointsAmount",
    "InvalidReward",
    "IssuedVoucher",
    "LimitPeriod",
    "MemberLimit",
    "MemberLimitReached",
    "MemberView",
    "PastRedemption",
    "PercentOff",
    "Pledge",
    "PledgeOutcome",
    "PointsShort",
    "PointsToMoney",
    "RandomSource",
    "Reason",
    "RedemptionNotCancellable",
    "RedemptionPlan",
    "RedemptionRecord",
    "Refusal",
    "Reward",
    "RewardKind",
    "RewardNotVisible",
    "RewardOutOfStock",
    "RewardUnavailable",
    "Terms",
    "Visibility",
    "VoucherAlreadyUsed",
    "VoucherCancelled",
    "VoucherCodesExhausted",
    "VoucherExpired",
    "VoucherIssue",
    "VoucherMinimumNotMet",
    "VoucherNotApplicable",
    "VoucherSpec",
    "VoucherUnknown",
    "VoucherWrongMember",
    "affordable_rewards",
    "can_redeem",
    "cancellation",
    "check_voucher_use",
    "ensure_can_redeem",
    "ensure_cancellable",
    "generate_voucher_code",
    "issue_voucher",
    "load_charity",
    "load_pledge",
    "load_reward",
    "max_payable_points",
    "plan_donation",
    "plan_redemption",
    "pledge_for_order",
    "points_to_spend",
    "points_value",
    "redemptions_in_period",
    "visible_to",
    "voucher_discount",
    "voucher_key",
]
