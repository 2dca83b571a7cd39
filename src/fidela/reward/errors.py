"""Errors of the reward service (the rules' errors are in ``rules.errors``): unknown or
duplicate catalogue entries, stale versions, unknown redemptions and charities."""

from __future__ import annotations

from fidela.kernel.errors import Conflict, InvalidInput, NotFound


class RewardUnknown(NotFound):
    code = "reward_unknown"
    title = "Unknown reward"


class RewardExists(Conflict):
    code = "reward_exists"
    title = "A reward with this code exists"


class RewardVersionConflict(Conflict):
    code = "reward_version_conflict"
    title = "The reward was changed since it was read"


class StockAdjustmentInvalid(InvalidInput):
    code = "reward_stock_invalid"
    title = "The stock cannot be adjusted this way"


class RedemptionUnknown(NotFound):
    code = "redemption_unknown"
    title = "Unknown redemption"


class ChannelInvalid(InvalidInput):
    code = "channel_invalid"
    title = "Unknown channel"


class CharityUnknown(NotFound):
    code = "charity_unknown"
    title = "Unknown charity"


class CharityExists(Conflict):
    code = "charity_exists"
    title = "A charity or pledge with this code exists"
