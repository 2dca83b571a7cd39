"""Evaluate a rule set against one order or non-purchase event.

Steps, all pure:

1. Read the event's local time in the member's calendar (member timezone, else the
   programme's); refuse an order in another currency than the programme's.
2. Keep the rules that concern the event (order rules for orders, event rules whose type
   matches) and whose scope admits it (channel, store, tier, instant window, dates, hours).
3. Each kept rule proposes an award; a rule *applies* when its own condition holds (eligible
   lines exist, a threshold step is reached, the attributes match, the purchase qualifies),
   whether or not it yields points this time.
4. Exclusive groups: of the applying rules of one group, only the first in precedence
   (highest priority, then smallest rule id) stays. Precedence rather than "best for the
   member" because it is what the operator configured, it does not depend on the basket, and
   it means the same thing for rules that give rewards instead of points. A group winner
   that a cap then reduces does not hand over to the next rule: caps are a cost ceiling,
   not a switch to another promotion.
5. Caps, in precedence order, so the higher-priority rules use a shared cap first.

Rounding happens once per award, in :func:`fidela.kernel.points.to_points`: a spend award is
the exact decimal ``sum(line amount x line multiplier) x rate x tier multiplier x share not
paid with points`` rounded once. Splitting a basket into more lines of the same multiplier
therefore never changes its points.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import TypeVar

from fidela.kernel.errors import FieldProblem
from fidela.kernel.money import minor_exponent
from fidela.kernel.points import to_points
from fidela.loyalty.rules.awards import Award, Evaluation, PunchProgress, points_cost_minor
from fidela.loyalty.rules.caps import grant
from fidela.loyalty.rules.conditions import Situation
from fidela.loyalty.rules.counters import Counters
from fidela.loyalty.rules.definitions import (
    Awarding,
    Combine,
    EventRule,
    MultiplierRule,
    PunchCardRule,
    RuleBase,
    RuleSet,
    SpendRule,
    ThresholdRule,
)
from fidela.loyalty.rules.errors import CurrencyNotProgramme
from fidela.loyalty.rules.inputs import Event, Member, MemberEvent, Order, OrderLine
from fidela.loyalty.rules.periods import local_time, zone
from fidela.loyalty.rules.punch import punch, punches_for

# Working precision for the one division (the share not paid with points): far beyond any
# amount x rate, so the single rounding in to_points is the only one that matters.
_PRECISION = 60

R = TypeVar("R", bound=RuleBase)


def first_per_group(rules: Iterable[R]) -> list[R]:
    """Rules in precedence order with, for each exclusive group, only its first rule."""
    taken: set[str] = set()
    kept = []
    for rule in rules:
        if rule.group is not None:
            if rule.group in taken:
                continue
            taken.add(rule.group)
        kept.append(rule)
    return kept


@dataclass(frozen=True)
class _Proposal:
    rule: Awarding
    points: int
    reason: str
    lines: tuple[int, ...] = ()
    amount_minor: int = 0
    reward_count: int = 0
    progress: PunchProgress | None = None


def _money(amount_minor: int, currency: str) -> str:
    return f"{Decimal(amount_minor).scaleb(-minor_exponent(currency))} {currency}"


def _unpaid_share(quantity: Decimal, order: Order, earn_on_points_payment: bool) -> Decimal:
    """``quantity`` reduced to the share of the order not paid with points."""
    if earn_on_points_payment or order.points_paid_minor == 0:
        return quantity
    total = order.total_minor
    return quantity * (total - order.points_paid_minor) / total


def _reaches(amount_minor: int, minimum: int, order: Order, earn_on_points_payment: bool) -> bool:
    """Whether the eligible amount, less its share paid with points, reaches ``minimum``.

    Compared in integers (amount x unpaid >= minimum x total) to stay exact.
    """
    if earn_on_points_payment or order.points_paid_minor == 0:
        return amount_minor >= minimum
    total = order.total_minor
    return amount_minor * (total - order.points_paid_minor) >= minimum * total


def _line_factor(
    spend: SpendRule,
    line: OrderLine | None,
    multipliers: Sequence[MultiplierRule],
    combine: Combine,
) -> tuple[Decimal, tuple[MultiplierRule, ...]]:
    """The combined promotional multiplier of one line (``None`` = shipping) for ``spend``."""
    matching = first_per_group(
        multiplier
        for multiplier in multipliers
        if (not multiplier.applies_to or spend.id in multiplier.applies_to)
        and (multiplier.lines.matches(line) if line is not None else multiplier.lines.is_open)
    )
    if not matching:
        return Decimal(1), ()
    if combine is Combine.MAX:
        best = max(matching, key=lambda multiplier: multiplier.factor)  # first of equal ones
        return best.factor, (best,)
    factor = Decimal(1)
    for multiplier in matching:
        factor *= multiplier.factor
    return factor, tuple(matching)


def _eligible(
    rule: SpendRule | ThresholdRule | PunchCardRule, order: Order, include_shipping: bool
) -> tuple[list[OrderLine], int] | None:
    """Eligible lines and shipping; ``None`` when there is nothing to apply to."""
    lines = [line for line in order.lines if rule.lines.matches(line)]
    shipping = order.shipping_minor if include_shipping else 0
    if not lines and shipping == 0:
        return None
    return lines, shipping


def _spend(
    rule: SpendRule,
    order: Order,
    member: Member,
    multipliers: Sequence[MultiplierRule],
    rule_set: RuleSet,
) -> _Proposal | None:
    found = _eligible(rule, order, rule.include_shipping)
    if found is None:
        return None
    lines, shipping = found
    parts: list[tuple[OrderLine | None, int]] = [(line, line.amount_minor) for line in lines]
    if shipping:
        parts.append((None, shipping))
    # Per multiplier: on how many lines it applied, and whether on shipping (for the reason).
    applied: dict[str, tuple[MultiplierRule, int, bool]] = {}
    with localcontext(prec=_PRECISION):
        weighted = Decimal(0)
        for line, amount in parts:
            factor, used = _line_factor(rule, line, multipliers, rule_set.combine_multipliers)
            weighted += amount * factor
            for multiplier in used:
                _, count, on_shipping = applied.get(multiplier.id, (multiplier, 0, False))
                if line is None:
                    applied[multiplier.id] = (multiplier, count, True)
                else:
                    applied[multiplier.id] = (multiplier, count + 1, on_shipping)
        exponent = minor_exponent(rule_set.currency)
        quantity = weighted.scaleb(-exponent) * rule.rate * member.tier_multiplier
        quantity = _unpaid_share(quantity, order, rule.earn_on_points_payment)
        points = to_points(quantity, rule_set.rounding)
    amount = sum(amount for _, amount in parts)
    currency = rule_set.currency
    notes = [f"{rule.label}: {rule.rate} pt per {currency} on {_money(amount, currency)}"]
    for multiplier, count, on_shipping in applied.values():
        where = "" if count == len(lines) else f" on {count} of {len(lines)} lines"
        if shipping and on_shipping:
            where += " and shipping" if where else " incl. shipping"
        notes.append(f"x{multiplier.factor} {multiplier.label}{where}")
    if member.tier_multiplier != 1:
        notes.append(f"x{member.tier_multiplier} tier {member.tier or ''}".rstrip())
    if order.points_paid_minor and not rule.earn_on_points_payment:
        notes.append(f"{_money(order.points_paid_minor, currency)} paid with points earns nothing")
    return _Proposal(rule, points, ", ".join(notes), tuple(line.line_no for line in lines), amount)


def _threshold(rule: ThresholdRule, order: Order, currency: str) -> _Proposal | None:
    found = _eligible(rule, order, rule.include_shipping)
    if found is None:
        return None
    lines, shipping = found
    amount = sum(line.amount_minor for line in lines) + shipping
    reached = [
        step
        for step in rule.steps
        if _reaches(amount, step.min_minor, order, rule.earn_on_points_payment)
    ]
    if not reached:
        return None
    step = reached[-1]  # steps ascend: the highest reached is the only one that counts
    reason = (
        f"{rule.label}: {_money(amount, currency)} reached the "
        f"{_money(step.min_minor, currency)} step, +{step.points}"
    )
    return _Proposal(rule, step.points, reason, tuple(line.line_no for line in lines), amount)


def _punch_card(rule: PunchCardRule, order: Order, counters: Counters) -> _Proposal | None:
    found = _eligible(rule, order, include_shipping=False)
    if found is None:
        return None
    lines, _ = found
    amount = sum(line.amount_minor for line in lines)
    if not _reaches(amount, rule.min_minor, order, rule.earn_on_points_payment):
        return None
    progress = punch(rule, before=counters.punches.get(rule.id, 0), added=punches_for(rule, lines))
    reason = (
        f"{rule.label}: {progress.completed} card(s) of {rule.every} completed, "
        f"{progress.in_card}/{rule.every} on the current card"
    )
    return _Proposal(
        rule,
        progress.completed * rule.points,
        reason,
        tuple(line.line_no for line in lines),
        amount,
        reward_count=progress.completed if rule.reward is not None else 0,
        progress=progress,
    )


def _event(rule: EventRule, event: MemberEvent) -> _Proposal | None:
    if not all(match.matches(event.attributes) for match in rule.where):
        return None
    return _Proposal(rule, rule.points, f"{rule.label}: {event.type}")


def _propose(
    rule: Awarding,
    event: Event,
    member: Member,
    counters: Counters,
    multipliers: Sequence[MultiplierRule],
    rule_set: RuleSet,
) -> _Proposal | None:
    if isinstance(event, MemberEvent):
        return _event(rule, event) if isinstance(rule, EventRule) else None
    if isinstance(rule, SpendRule):
        return _spend(rule, event, member, multipliers, rule_set)
    if isinstance(rule, ThresholdRule):
        return _threshold(rule, event, rule_set.currency)
    if isinstance(rule, PunchCardRule):
        return _punch_card(rule, event, counters)
    return None


def evaluate(
    rule_set: RuleSet,
    event: Event,
    *,
    member: Member | None = None,
    counters: Counters | None = None,
) -> Evaluation:
    """Decide the awards of ``event`` for ``member`` given what ``counters`` already used.

    Points are ``int`` and never negative; ``cost_minor`` is in minor units of the programme
    currency. Evaluating is a dry run by nature: nothing is read from or written to storage.
    Raises :class:`CurrencyNotProgramme` for an order in another currency.
    """
    member = member or Member()
    counters = counters or Counters()
    timezone = member.timezone or rule_set.timezone
    zone(timezone, "/member/timezone" if member.timezone else "/timezone")
    local = local_time(event.occurred_at, timezone)
    if isinstance(event, Order) and event.currency != rule_set.currency:
        raise CurrencyNotProgramme(
            f"the order is in {event.currency}; this programme earns on {rule_set.currency}",
            [FieldProblem("/currency", f"must be {rule_set.currency}")],
        )
    situation = Situation(event.occurred_at, local, event.channel, event.store_id, member.tier)
    multipliers = [rule for rule in rule_set.multipliers if rule.scope.admits(situation)]
    proposals = [
        proposal
        for rule in rule_set.awarding
        if rule.concerns(event) and rule.scope.admits(situation)
        for proposal in [_propose(rule, event, member, counters, multipliers, rule_set)]
        if proposal is not None
    ]
    kept = {rule.id for rule in first_per_group(proposal.rule for proposal in proposals)}

    used, usage = counters, Counters()
    awards: list[Award] = []
    progress: list[PunchProgress] = []
    for proposal in proposals:
        rule = proposal.rule
        if rule.id not in kept:
            continue
        if proposal.progress is not None:
            progress.append(proposal.progress)
            usage = usage.plus(Counters(punches={rule.id: proposal.progress.added}))
        if proposal.points == 0 and proposal.reward_count == 0:
            continue
        granted = grant(
            rule,
            points=proposal.points,
            reward_count=proposal.reward_count,
            used=used,
            member_caps=rule_set.member_caps,
            local=local,
        )
        used, usage = used.plus(granted.usage), usage.plus(granted.usage)
        reward_cost = (
            granted.reward_count * rule.reward_cost_minor if isinstance(rule, PunchCardRule) else 0
        )
        awards.append(
            Award(
                rule_id=rule.id,
                kind=rule.kind,
                points=granted.points,
                uncapped_points=proposal.points,
                reason=proposal.reason,
                lines=proposal.lines,
                amount_minor=proposal.amount_minor,
                reward=rule.reward if isinstance(rule, PunchCardRule) else None,
                reward_count=granted.reward_count,
                reward_cost_minor=reward_cost,
                capped_by=granted.capped_by,
            )
        )
    total = sum(award.points for award in awards)
    cost = points_cost_minor(total, rule_set.cost_per_point_minor)
    return Evaluation(
        event_id=event.id,
        customer_id=event.customer_id,
        currency=rule_set.currency,
        awards=tuple(awards),
        total_points=total,
        cost_minor=cost + sum(award.reward_cost_minor for award in awards),
        punch_cards=tuple(progress),
        usage=usage,
    )


def line_weights(
    rule_set: RuleSet, order: Order, rule_id: str, *, member: Member | None = None
) -> dict[int, Decimal]:
    """What each eligible line weighs in spend rule ``rule_id``'s award for ``order``: its
    amount times its promotional multiplier (the same factors :func:`evaluate` used).

    Lets a shell attribute an award to lines, so returning a triple-points line takes back
    triple points. Shipping is left out: it is never returned line by line.
    """
    member = member or Member()
    rule = next(
        (r for r in rule_set.awarding if isinstance(r, SpendRule) and r.id == rule_id), None
    )
    if rule is None:
        return {}
    local = local_time(order.occurred_at, member.timezone or rule_set.timezone)
    situation = Situation(order.occurred_at, local, order.channel, order.store_id, member.tier)
    multipliers = [m for m in rule_set.multipliers if m.scope.admits(situation)]
    weights: dict[int, Decimal] = {}
    for line in order.lines:
        if rule.lines.matches(line):
            factor, _ = _line_factor(rule, line, multipliers, rule_set.combine_multipliers)
            weights[line.line_no] = line.amount_minor * factor
    return weights
