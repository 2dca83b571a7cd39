"""The rule set as data: frozen dataclasses built by ``loading.load_rule_set``.

Every rule has an ``id`` (stable, unique: the final tie-breaker), a ``priority`` (higher
first), an optional exclusive ``group`` and a :class:`~fidela.loyalty.rules.conditions.Scope`
(who, where, when). Awarding rules (spend, threshold, event, punch card) also carry
:class:`Limits` and an optional ``hold`` (their points' pending window); multipliers modify
the awards of spend rules and award nothing themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from typing import ClassVar

from fidela.kernel.points import Rounding
from fidela.ledger.rules import Hold
from fidela.loyalty.rules.conditions import AttributeMatch, LineFilter, Scope
from fidela.loyalty.rules.inputs import Event, MemberEvent, Order
from fidela.loyalty.rules.periods import Period


class RuleKind(StrEnum):
    SPEND = "spend"
    THRESHOLD = "threshold"
    MULTIPLIER = "multiplier"
    EVENT = "event"
    PUNCH_CARD = "punch_card"


class Combine(StrEnum):
    """How several promotional multipliers on the same line combine.

    ``max`` (the default) keeps the largest: a marketer who adds a double-points weekend
    does not silently turn an existing triple-points category into x6, so the cost of a
    promotion is bounded by its own factor. ``multiply`` compounds them when that is meant.
    The member's tier multiplier always multiplies on top: it is a status benefit ("Gold
    earns x1.5 on everything") that a promotion must not erase.
    """

    MAX = "max"
    MULTIPLY = "multiply"


class PunchUnit(StrEnum):
    ORDER = "order"  # one punch per qualifying order
    UNIT = "unit"  # one punch per unit bought on eligible lines ("10th coffee free")


@dataclass(frozen=True)
class Cap:
    """At most ``max_points`` per member in each ``period`` (calendar, in local time)."""

    period: Period
    max_points: int


@dataclass(frozen=True)
class UseLimit:
    """At most ``times`` awards per member per ``period`` ("once ever", "5 per month")."""

    times: int
    per: Period


@dataclass(frozen=True)
class Limits:
    """Caps on one awarding rule: per member per period, a use limit, a programme budget."""

    caps: tuple[Cap, ...] = ()
    limit: UseLimit | None = None
    budget: int | None = None  # total points the rule may issue, all members together


@dataclass(frozen=True, kw_only=True)
class RuleBase:
    kind: ClassVar[RuleKind]

    id: str
    name: str = ""
    priority: int = 0
    group: str | None = None
    scope: Scope = field(default_factory=Scope)

    @property
    def label(self) -> str:
        return self.name or self.id


@dataclass(frozen=True, kw_only=True)
class AwardingRule(RuleBase):
    """``hold``: how long this rule's points stay pending (``None``: the programme's hold for
    purchase rules, none for event rules)."""

    limits: Limits = field(default_factory=Limits)
    hold: Hold | None = None

    def concerns(self, event: Event) -> bool:
        """Whether the rule reacts to this kind of event at all (purchase rules: orders)."""
        return isinstance(event, Order)


@dataclass(frozen=True, kw_only=True)
class SpendRule(AwardingRule):
    """``rate`` points per major unit of the programme currency spent on eligible lines."""

    kind: ClassVar[RuleKind] = RuleKind.SPEND

    rate: Decimal
    lines: LineFilter = field(default_factory=LineFilter)
    include_shipping: bool = False
    earn_on_points_payment: bool = False


@dataclass(frozen=True)
class Step:
    """A basket-threshold step: ``points`` once the eligible amount reaches ``min_minor``."""

    min_minor: int
    points: int


@dataclass(frozen=True, kw_only=True)
class ThresholdRule(AwardingRule):
    """A ladder of basket bonuses: only the highest step reached applies."""

    kind: ClassVar[RuleKind] = RuleKind.THRESHOLD

    steps: tuple[Step, ...]  # ascending min_minor
    lines: LineFilter = field(default_factory=LineFilter)
    include_shipping: bool = False
    earn_on_points_payment: bool = False


@dataclass(frozen=True, kw_only=True)
class MultiplierRule(RuleBase):
    """Multiplies the points of spend rules (all, or those in ``applies_to``) on matching
    lines; a multiplier without line filters also applies to shipping when it earns."""

    kind: ClassVar[RuleKind] = RuleKind.MULTIPLIER

    factor: Decimal
    lines: LineFilter = field(default_factory=LineFilter)
    applies_to: frozenset[str] = frozenset()


@dataclass(frozen=True, kw_only=True)
class EventRule(AwardingRule):
    """Fixed ``points`` for a non-purchase event whose type matches ``event`` (exact, or a
    prefix ending in ``.*`` such as ``custom.*``) and whose attributes match ``where``."""

    kind: ClassVar[RuleKind] = RuleKind.EVENT

    event: str
    points: int
    where: tuple[AttributeMatch, ...] = ()

    def matches_type(self, event_type: str) -> bool:
        if self.event.endswith(".*"):
            return event_type.startswith(self.event[:-1])
        return event_type == self.event

    def concerns(self, event: Event) -> bool:
        return isinstance(event, MemberEvent) and self.matches_type(event.type)


@dataclass(frozen=True, kw_only=True)
class PunchCardRule(AwardingRule):
    """Every ``every``-th punch gives ``points`` and/or one ``reward`` (a reward code).

    A purchase qualifies when it has eligible lines whose amount reaches ``min_minor``
    (less the share paid with points, unless ``earn_on_points_payment``).
    ``reward_cost_minor`` values one reward for dry-run cost reports.
    """

    kind: ClassVar[RuleKind] = RuleKind.PUNCH_CARD

    every: int
    per: PunchUnit = PunchUnit.ORDER
    lines: LineFilter = field(default_factory=LineFilter)
    min_minor: int = 0
    earn_on_points_payment: bool = False
    points: int = 0
    reward: str | None = None
    reward_cost_minor: int = 0


Rule = SpendRule | ThresholdRule | MultiplierRule | EventRule | PunchCardRule
Awarding = SpendRule | ThresholdRule | EventRule | PunchCardRule


def precedence(rule: RuleBase) -> tuple[int, str]:
    """The sort key of rule precedence: higher priority first, then rule id.

    Never edit time or position in the configuration (Open Loyalty's "last edited wins" made
    results change when someone fixed a typo).
    """
    return (-rule.priority, rule.id)


@dataclass(frozen=True, kw_only=True)
class RuleSet:
    """A programme's earning rules, held in precedence order.

    ``cost_per_point_minor`` is what one point costs the business, in minor units of
    ``currency`` (``Decimal("0.5")`` = half a cent), used by cost reports only.
    """

    currency: str
    timezone: str
    rounding: Rounding = Rounding.DOWN
    cost_per_point_minor: Decimal = Decimal(0)
    combine_multipliers: Combine = Combine.MAX
    member_caps: tuple[Cap, ...] = ()
    rules: tuple[Rule, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", tuple(sorted(self.rules, key=precedence)))

    # Cached: the rules never change after construction (frozen), and the earning path asks
    # for these several times per event. ``cached_property`` writes the instance ``__dict__``
    # directly, which a frozen dataclass without slots allows.
    @cached_property
    def multipliers(self) -> tuple[MultiplierRule, ...]:
        return tuple(rule for rule in self.rules if isinstance(rule, MultiplierRule))

    @cached_property
    def awarding(self) -> tuple[Awarding, ...]:
        return tuple(rule for rule in self.rules if not isinstance(rule, MultiplierRule))

    @cached_property
    def shares_budgets(self) -> bool:
        """Whether a rule has a budget, which all members draw from in the order of their
        events (so events of different members are not independent)."""
        return any(rule.limits.budget is not None for rule in self.awarding)

    @cached_property
    def counts(self) -> bool:
        """Whether any evaluation may read a counter: a cap, limit or budget on a rule, a
        programme-wide member cap, or a punch card. Without one, no event needs counters."""
        return bool(self.member_caps) or any(
            rule.limits.caps
            or rule.limits.limit is not None
            or rule.limits.budget is not None
            or isinstance(rule, PunchCardRule)
            for rule in self.awarding
        )
