"""Pure rules of tiers: no database, no clock (``now`` is always an argument).

Map of concepts (module in brackets):

- **Ladder** [ladder] (`TierLadder`): ordered **levels** (`Level`), each with a ``threshold``
  on the qualifying amount and its `Benefits` (earn multiplier, % discount, free shipping,
  priority service, event access, reward visibility tags). Level 0 is the base level at
  threshold 0 and thresholds strictly increase, so a level's position is its rank. A level is
  never deleted from a live ladder, only ``retired``: nobody reaches it any more, its members
  keep it until their next review.
- **Basis** [ladder]: the qualifying amount is *earned points* or *qualifying spend* (int
  minor units of the ladder's currency), never the spendable balance: redeeming or expiring
  points does not lower a tier (the Open Loyalty bug, DivanteLtd/open-loyalty#131). Pending
  points count only when the ladder says ``count_pending``.
- **Activity** [membership]: dated amounts with a kind. Earns and spends add; clawbacks and
  refunds subtract and are dated at the *returned order's* date, so a return lowers the window
  the order counted in, even when the return comes after the window closed.
- **Window** [windows]: which activity qualifies now. ``lifetime``: all of it;
  ``calendar_year``: since 1 January (ladder timezone); ``rolling``: the last N months;
  ``anniversary``: the current membership year, counted from the last upgrade, else from the
  join date. Every window is ``(start, end]``: the instant of an upgrade or review closes one
  window and opens the next, so the activity that earned a tier never also keeps it.
- **Membership** [membership]: the tier held, since when, the period under review and its
  ``review_at`` (the end of the window that started at the upgrade or at the last review), an
  optional ``grace_until``, and a snapshot of the state before the last upgrade (to undo it
  when its order is returned).
- **Decision** [decision] (`evaluate`): upgrade / keep / downgrade / grace, with the dated
  transitions and the reasons that led to it; `progress` tells the member what is missing
  ("3800 points to Gold", "600 points to keep Silver by 2027-01-01"); `apply_ladder_change`
  gives a member's standing when a new ladder version is saved; `settled_decision` gives
  evaluate's answer from the current window's amount alone when nothing else can move the
  member (no review or grace due, no upgrade a return may undo), or says it cannot.
- **Loading** [loading]: the JSON form, validated with a pointer for every problem.

Invariants:

- Upgrade is immediate (at ``now``), to the highest level the current amount reaches, and
  restarts the clock: the new tier is held until the end of the window that starts at the
  upgrade (Capillary's example: upgraded 15 Apr, reviewed 15 Apr next year); for a calendar
  year, the next full year (reached in November 2025, judged on 2026, reviewed 1 Jan 2027).
- A tier is lowered only (a) at its review date, or at the end of the grace that follows a
  failed review, or (b) when a return undoes the upgrade it caused (`OnReturn`). Never on
  earn, never on redeem, never when a ladder configuration is saved (`apply_ladder_change`).
- Downgrade goes one step or to the level qualified (`DowngradeTo`). Grace delays it by
  ``grace_days``; activity during grace counts toward the reviewed window.
- The base level has no review date, and lifetime ladders have none at all.
- Points are ``int``, spend ``int`` minor units; ``Decimal`` only for benefits' rates; every
  instant is timezone-aware.
"""

from __future__ import annotations

from fidela.tier.rules.decision import (
    activity_needed_since,
    apply_ladder_change,
    enrol,
    evaluate,
    progress,
    qualifying_amount,
    settled_decision,
)
from fidela.tier.rules.errors import InvalidActivity, InvalidLadder, LevelRemoved, UnknownTier
from fidela.tier.rules.ladder import (
    Basis,
    Benefits,
    DowngradeTo,
    Level,
    OnReturn,
    TierLadder,
    Window,
    WindowKind,
    benefits_for,
    check_ladder_change,
)
from fidela.tier.rules.loading import load_ladder
from fidela.tier.rules.membership import (
    Activity,
    ActivityKind,
    Cause,
    Goal,
    Membership,
    Outcome,
    TierDecision,
    TierProgress,
    Transition,
)
from fidela.tier.rules.windows import current_start

__all__ = [
    "Activity",
    "ActivityKind",
    "Basis",
    "Benefits",
    "Cause",
    "DowngradeTo",
    "Goal",
    "InvalidActivity",
    "InvalidLadder",
    "Level",
    "LevelRemoved",
    "Membership",
    "OnReturn",
    "Outcome",
    "TierDecision",
    "TierLadder",
    "TierProgress",
    "Transition",
    "UnknownTier",
    "Window",
    "WindowKind",
    "activity_needed_since",
    "apply_ladder_change",
    "benefits_for",
    "check_ladder_change",
    "current_start",
    "enrol",
    "evaluate",
    "load_ladder",
    "progress",
    "qualifying_amount",
    "settled_decision",
]
