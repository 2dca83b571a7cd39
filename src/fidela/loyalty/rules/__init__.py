"""Earning rules: a pure engine that turns an order or an event into point awards.

Concepts:
- A **rule set** is a programme's configuration, loaded from data by :func:`load_rule_set`
  (every problem reported with a JSON pointer such as ``/rules/3/rate``). It has one
  currency, one timezone, one rounding mode, a cost per point and its rules.
- **Rules**: ``spend`` (points per major currency unit on eligible lines), ``threshold``
  (basket bonus ladder: the highest step reached only), ``multiplier`` (category, channel,
  store, tier, date-window and weekday/hour promotions on spend rules), ``event`` (fixed
  points for signup, birthday, review, ``custom.*``..., with "N times per period" limits)
  and ``punch_card`` (every Nth qualifying purchase gives points or a reward).
- **Conditions** narrow a rule: eligible lines (categories/products in, SKUs/categories/
  products out; shipping out unless included) and a scope (channels, stores, tiers, instant
  window, local date ranges, local weekday/hour windows).
- **Precedence**: higher ``priority`` first, then the smaller rule ``id``; never edit time.
  Rules in an exclusive ``group``: only the first applying rule in precedence applies;
  rules without a group stack (add up).
- **Multipliers** on one line combine by ``max`` (default) or ``multiply``; the member's
  tier multiplier always multiplies on top. They apply to spend rules only.
- **Caps**: per rule and per programme, per member per calendar period (day, ISO week,
  month, year, ever, in the member's or the programme's timezone), and a per-rule budget
  across all members. A capped award is reduced and lists the caps that bit.
- **Counters** (what was used) come in with the event; the evaluation returns the delta
  (``usage``). **Dry runs**: :func:`evaluate` for one event, :func:`replay` for a history.
- **Holds**: an awarding rule may carry its own pending window (none, N days, until an
  activation event); an event's points become one lot per distinct hold
  (:func:`split_by_hold`), each naming the rules that earned it.
- **Referral fraud**: :func:`check_referral` holds a referral for review on self-referral
  (shared identities) or bursts from one referrer or source.

Invariants:
- Points are ``int`` and never negative; money is ``int`` minor units in the programme
  currency (another currency is refused, never converted); rates and multipliers are
  ``Decimal``; nothing here reads the clock or storage.
- Each award is rounded once, by :func:`fidela.kernel.points.to_points`, from the exact
  decimal product of its amounts, rate and multipliers: splitting a basket into more lines
  with the same multipliers gives exactly the same points.
- Granted points never exceed any cap, limit or budget given the counters passed in.
- The result does not depend on the order rules are listed in the configuration.
"""

from __future__ import annotations

from fidela.loyalty.rules.awards import (
    Award,
    CapHit,
    CapKind,
    Evaluation,
    PunchProgress,
    points_cost_minor,
)
from fidela.loyalty.rules.conditions import AttributeMatch, LineFilter, Scope
from fidela.loyalty.rules.counters import (
    PROGRAMME,
    CounterKey,
    CounterNeeds,
    Counters,
    counters_needed,
)
from fidela.loyalty.rules.definitions import (
    Cap,
    Combine,
    EventRule,
    Limits,
    MultiplierRule,
    PunchCardRule,
    PunchUnit,
    Rule,
    RuleKind,
    RuleSet,
    SpendRule,
    Step,
    ThresholdRule,
    UseLimit,
    precedence,
)
from fidela.loyalty.rules.dry_run import Rejected, ReplayReport, RuleTotals, replay
from fidela.loyalty.rules.earning import evaluate, line_weights
from fidela.loyalty.rules.errors import CurrencyNotProgramme, InvalidEarningInput, InvalidRuleSet
from fidela.loyalty.rules.holds import (
    HeldPoints,
    activation_events,
    hold_of,
    lot_key,
    split_by_hold,
)
from fidela.loyalty.rules.inputs import Event, Member, MemberEvent, Order, OrderLine
from fidela.loyalty.rules.loading import load_rule_set
from fidela.loyalty.rules.periods import DateRange, HourWindow, Period, bucket
from fidela.loyalty.rules.referral import (
    BurstLimit,
    CompletedReferral,
    FraudReason,
    Identities,
    ReferralDecision,
    ReferralPolicy,
    Verdict,
    check_referral,
    email_mailbox,
)

__all__ = [
    "PROGRAMME",
    "AttributeMatch",
    "Award",
    "BurstLimit",
    "Cap",
    "CapHit",
    "CapKind",
    "Combine",
    "CompletedReferral",
    "CounterKey",
    "CounterNeeds",
    "Counters",
    "CurrencyNotProgramme",
    "DateRange",
    "Evaluation",
    "Event",
    "EventRule",
    "FraudReason",
    "HeldPoints",
    "HourWindow",
    "Identities",
    "InvalidEarningInput",
    "InvalidRuleSet",
    "Limits",
    "LineFilter",
    "Member",
    "MemberEvent",
    "MultiplierRule",
    "Order",
    "OrderLine",
    "Period",
    "PunchCardRule",
    "PunchProgress",
    "PunchUnit",
    "ReferralDecision",
    "ReferralPolicy",
    "Rejected",
    "ReplayReport",
    "Rule",
    "RuleKind",
    "RuleSet",
    "RuleTotals",
    "Scope",
    "SpendRule",
    "Step",
    "ThresholdRule",
    "UseLimit",
    "Verdict",
    "activation_events",
    "bucket",
    "check_referral",
    "counters_needed",
    "email_mailbox",
    "evaluate",
    "hold_of",
    "line_weights",
    "load_rule_set",
    "lot_key",
    "points_cost_minor",
    "precedence",
    "replay",
    "split_by_hold",
]
