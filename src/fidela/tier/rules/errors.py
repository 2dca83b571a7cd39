"""The domain errors of tier ladders and qualification, each with a stable ``code``."""

from __future__ import annotations

from fidela.kernel.errors import Conflict, InvalidInput, NotFound


class InvalidLadder(InvalidInput):
    code = "tier_ladder_invalid"
    title = "The tier ladder is invalid"


class LevelRemoved(Conflict):
    code = "tier_level_removed"
    title = "A tier level cannot be removed from a live ladder"


class UnknownTier(NotFound):
    code = "tier_unknown"
    title = "The tier is not on this ladder"


class InvalidActivity(InvalidInput):
    code = "tier_activity_invalid"
    title = "The qualifying activity is invalid"
