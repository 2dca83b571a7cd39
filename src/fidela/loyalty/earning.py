"""The earning subscriber: every accepted event goes through the programmes in force.

For each active programme with a rule set, an event may:

- earn points (``order.completed`` through the spend, threshold and punch card rules; other
  types through event rules): the rule set is evaluated with the member's tier multiplier and
  counters, the points are posted to the ledger as one lot per distinct hold of the rules
  that awarded them (a rule's own hold, else the programme's for purchases, none for member
  events), dated at the event's ``occurred_at`` (clamped to now); the counters are
  incremented, and for orders what each line earned is kept (``loyalty_earning``) for
  returns; the member's tier is then re-evaluated (upgrade at once);
- spend the points an order was paid with, under the reference
  ``order:<source>:<external id>`` (idempotent: a checkout that already spent them under that
  reference is not charged again), so a refund can give them back to their lots;
- activate the held points of an order that wait for this event type (the programme's
  activation event, or a rule's);
- keep the member's points alive when its type counts as activity under the expiry policy.

No programme, or an event no programme cares about, costs one small query per batch. Members
are enrolled on their first earning: the ledger account and the tier membership are created
then (there is no separate enrolment step).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from fidela.commerce.models import SalesOrder
from fidela.commerce.rules import LineIn, line_numbers, order_amounts
from fidela.event.catalogue import OrderCompleted
from fidela.event.dispatch import Effect
from fidela.event.rules import DispatchedEvent
from fidela.kernel.errors import DomainError, FieldProblem, InvalidInput
from fidela.ledger import activity as ledger_activity
from fidela.ledger import service as ledger
from fidela.ledger.batch import EarnRequest, FreshEarn, earn_many, fresh_posting, lock_accounts
from fidela.ledger.rules import Activity as LedgerActivity
from fidela.ledger.rules import Hold
from fidela.loyalty.config import activity_kinds
from fidela.loyalty.counters import add_counters, counter_rows, load_counters, lock_counters
from fidela.loyalty.models import LoyaltyEarning
from fidela.loyalty.programmes import Programme, programmes_in_force
from fidela.loyalty.rules import (
    Award,
    Counters,
    Evaluation,
    EventRule,
    Member,
    MemberEvent,
    Order,
    OrderLine,
    RuleKind,
    RuleSet,
    counters_needed,
    evaluate,
    line_weights,
    lot_key,
    split_by_hold,
)
from fidela.platform.bulk import insert_rows, update_rows
from fidela.platform.db import table_of
from fidela.platform.upsert import insert_ignoring_conflicts
from fidela.tier import service as tiers
from fidela.tier.rules import benefits_for

LOYALTY_ACTOR = "fidela:loyalty"
ORDER_COMPLETED = "order.completed"


class PointsPaymentWithoutMember(InvalidInput):
    code = "points_payment_without_member"
    title = "A points payment needs a member"


def order_ref(order_id: int) -> str:
    """The ``ref`` of the lots an order earned (returns and activations find them by it)."""
    return f"order:{order_id}"


def payment_ref(source: str, external_id: str) -> str:
    """The ledger spend that pays an order with points."""
    return f"order:{source}:{external_id}"


def spread(total: int, weights: Sequence[Decimal | int]) -> list[int]:
    """``total`` split in proportion to ``weights`` (whole numbers, largest remainders first,
    so the parts add up exactly)."""
    if total <= 0:  # checked first: an order without discount skips the Decimal sum
        return [0 for _ in weights]
    base = sum(weights, Decimal(0))
    if base <= 0:
        return [0 for _ in weights]
    exact = [Decimal(total) * w / base for w in weights]
    parts = [int(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


@dataclass(frozen=True)
class OrderFacts:
    order: Order
    line_amounts: dict[int, int]  # line number -> amount before the order-level discount
    total_minor: int
    points_paid: int


def _order_facts(event: DispatchedEvent, customer_id: int, order_id: int) -> OrderFacts:
    data = (
        event.payload
        if isinstance(event.payload, OrderCompleted)
        else OrderCompleted.model_validate(event.data)
    )
    return order_facts(data, key=order_ref(order_id), customer_id=customer_id, at=event.occurred_at)


def order_facts(data: OrderCompleted, *, key: str, customer_id: int, at: datetime) -> OrderFacts:
    """The engine's view of an ``order.completed`` payload: line amounts net of the
    order-level discount, the share paid with points, the points spent."""
    numbers = line_numbers([line.line_no for line in data.lines])
    amounts = order_amounts(
        [
            LineIn(n, line.quantity, line.unit_price_minor, line.discount_minor)
            for n, line in zip(numbers, data.lines, strict=True)
        ],
        shipping_minor=data.shipping_minor,
        discount_minor=data.discount_minor,
        stated_total=data.total_minor,
    )
    # Points are earned on what was paid: the order-level discount comes off the lines.
    discount = spread(data.discount_minor, list(amounts.line_amounts))
    lines = [
        OrderLine(
            line_no=n,
            product_id=line.product_id,
            amount_minor=max(0, amount - cut),
            quantity=line.quantity,
            sku=line.sku,
            category=line.category,
        )
        for n, line, amount, cut in zip(
            numbers, data.lines, amounts.line_amounts, discount, strict=True
        )
    ]
    shipping = data.shipping_minor - max(0, data.discount_minor - sum(discount))
    points_payments = [p for p in data.payments if p.method == "points"]
    order = Order(
        id=key,
        customer_id=customer_id,
        currency=data.currency.upper(),
        occurred_at=at,
        lines=lines,
        channel=data.channel,
        store_id=data.store_id,
        shipping_minor=max(0, shipping),
        points_paid_minor=min(sum(p.amount_minor for p in points_payments), amounts.total_minor),
    )
    return OrderFacts(
        order=order,
        line_amounts=dict(zip(numbers, amounts.line_amounts, strict=True)),
        total_minor=amounts.total_minor,
        points_paid=sum(p.points or 0 for p in points_payments),
    )


def _member_event(event: DispatchedEvent, customer_id: int) -> MemberEvent:
    return member_event(
        event.data,
        key=f"event:{event.id}",
        type_=event.type,
        customer_id=customer_id,
        at=event.occurred_at,
    )


def member_event(
    data: dict[str, Any], *, key: str, type_: str, customer_id: int, at: datetime
) -> MemberEvent:
    """The engine's view of a non-purchase event: its scalar data are the attributes."""
    attributes = {
        name: value
        for name, value in data.items()
        if isinstance(value, str | int | bool) or value is None
    }
    channel = data.get("channel")
    store = data.get("store_id")
    return MemberEvent(
        id=key,
        customer_id=customer_id,
        type=type_,
        occurred_at=at,
        attributes=attributes,
        channel=channel if isinstance(channel, str) else None,
        store_id=store if isinstance(store, str) else None,
    )


def _earns_on(programme: Programme, event_type: str) -> bool:
    rule_set = programme.rule_set
    if rule_set is None:
        return False
    if event_type == ORDER_COMPLETED:
        return any(not isinstance(rule, EventRule) for rule in rule_set.awarding)
    return any(
        isinstance(rule, EventRule) and rule.matches_type(event_type) for rule in rule_set.awarding
    )


def member_of(session: Session, programme: Programme, customer_id: int) -> Member:
    """Who earns: the member's tier and its earn multiplier, fed into the evaluation."""
    if programme.ladder is None:
        return Member()
    code = tiers.tiers_of(session, programme_id=programme.id, customer_ids=[customer_id]).get(
        customer_id, programme.ladder.base.code
    )
    return Member(tier=code, tier_multiplier=benefits_for(programme.ladder, code).earn_multiplier)


def reason_rule(programme: Programme, awards: Sequence[Award]) -> str:
    """``v<version>:<rule ids>``: which rule set version and rules awarded an entry."""
    rules = ",".join(award.rule_id for award in awards if award.points > 0)
    return f"v{programme.rule_set_version}:{rules}"[:100]


def _line_earnings(
    rule_set: RuleSet, facts: OrderFacts, member: Member, awards: Sequence[Award]
) -> list[dict[str, int]]:
    """Points each line earned: every spend award spread over its lines by amount times the
    line's multiplier; basket bonuses and punch cards belong to the order as a whole."""
    by_line: dict[int, int] = dict.fromkeys(facts.line_amounts, 0)
    for award in awards:
        if award.kind is not RuleKind.SPEND or award.points <= 0:
            continue
        weights = line_weights(rule_set, facts.order, award.rule_id, member=member)
        numbers = sorted(weights)
        for n, part in zip(
            numbers, spread(award.points, [weights[n] for n in numbers]), strict=True
        ):
            by_line[n] = by_line.get(n, 0) + part
    return [
        {"line_no": n, "amount_minor": facts.line_amounts[n], "points": points}
        for n, points in sorted(by_line.items())
        if points > 0 and facts.line_amounts.get(n, 0) > 0
    ]


def _evaluate(
    session: Session, programme: Programme, event: Order | MemberEvent, member: Member
) -> Evaluation:
    rule_set = programme.rule_set
    assert rule_set is not None  # noqa: S101 - programmes_in_force keeps those with rules
    needs = counters_needed(rule_set, event, member)
    counters = load_counters(
        session, programme_id=programme.id, needs=[(event.customer_id, needs)]
    ).get(event.customer_id)
    return evaluate(rule_set, event, member=member, counters=counters)


def default_hold(programme: Programme, subject: Order | MemberEvent) -> Hold:
    """The hold of points whose rule names none: the programme's return window for
    purchases; member events' points are not held unless their rule says so."""
    return programme.hold.hold if isinstance(subject, Order) else Hold.immediate()


def earn_requests(
    programme: Programme,
    event: DispatchedEvent,
    subject: Order | MemberEvent,
    evaluation: Evaluation,
    *,
    key: str,
) -> list[EarnRequest]:
    """The lots an evaluation posts: one per distinct hold of its awards, all with ``ref``
    ``key`` (a return or an activation finds every one) and dated at the purchase."""
    rule_set = programme.rule_set
    assert rule_set is not None  # noqa: S101 - programmes_in_force keeps those with rules
    default = default_hold(programme, subject)
    return [
        EarnRequest(
            customer_id=subject.customer_id,
            points=part.points,
            key=lot_key(key, part.hold, default),
            ref=key,
            hold=part.hold,
            reason=ledger.Reason(
                rule=reason_rule(programme, part.awards), event_id=event.id, actor=LOYALTY_ACTOR
            ),
            earned_at=subject.occurred_at,
        )
        for part in split_by_hold(rule_set, evaluation.awards, default)
    ]


def _earn(
    session: Session,
    programme: Programme,
    event: DispatchedEvent,
    subject: Order | MemberEvent,
    evaluation: Evaluation,
    *,
    key: str,
) -> int:
    add_counters(session, counter_rows(programme.id, subject.customer_id, evaluation.usage))
    if evaluation.total_points <= 0:
        return 0
    for request in earn_requests(programme, event, subject, evaluation, key=key):
        ledger.earn_points(
            session,
            customer_id=request.customer_id,
            programme=programme.code,
            points=request.points,
            now=event.now,
            key=request.key,
            ref=request.ref,
            hold=request.hold,
            expiry=programme.expiry,
            reason=request.reason,
            earned_at=request.earned_at,
        )
    return evaluation.total_points


def _on_order(
    session: Session,
    programme: Programme,
    event: DispatchedEvent,
    customer_id: int | None,
    paying: bool,
) -> dict[str, Any] | None:
    recorded = event.effects.get("order")
    if not isinstance(recorded, dict) or "order_id" not in recorded:
        return None
    order_id = int(recorded["order_id"])
    if customer_id is None:
        data = event.data
        if any(p.get("method") == "points" for p in data.get("payments", []) if paying):
            raise PointsPaymentWithoutMember(
                "an order paid with points must name the member",
                [FieldProblem("/customer", "required for a points payment")],
            )
        return None
    facts = _order_facts(event, customer_id, order_id)
    if facts.order.currency != programme.currency:
        # Another currency's orders belong to another programme; the order itself stands.
        return {"skipped": f"order in {facts.order.currency}"} if paying else None
    if paying and facts.points_paid > 0:
        ledger.spend_points(
            session,
            customer_id=customer_id,
            programme=programme.code,
            points=facts.points_paid,
            now=event.now,
            ref=payment_ref(event.source, event.external_id),
            reason=ledger.Reason(event_id=event.id, actor=LOYALTY_ACTOR),
        )
    member = member_of(session, programme, customer_id)
    rule_set = programme.rule_set
    if rule_set is None:  # pragma: no cover - programmes_in_force keeps those with rules
        return None
    evaluation = _evaluate(session, programme, facts.order, member)
    points = _earn(
        session,
        programme,
        event,
        facts.order,
        evaluation,
        key=order_ref(order_id),
    )
    paid = facts.points_paid if paying else 0
    if points > 0 or paid > 0:
        session.execute(
            insert_ignoring_conflicts(session, LoyaltyEarning, "programme_id", "order_id").values(
                programme_id=programme.id,
                customer_id=customer_id,
                order_id=order_id,
                event_id=event.id,
                rule_set_version=programme.rule_set_version,
                amount_minor=facts.total_minor,
                points=points,
                lines=_line_earnings(rule_set, facts, member, evaluation.awards),
                points_paid=paid,
                clawed_back=0,
                given_back=0,
                created_at=event.now,
            )
        )
    return _after_earning(session, programme, event, customer_id, points, paid)


def _after_earning(
    session: Session,
    programme: Programme,
    event: DispatchedEvent,
    customer_id: int,
    points: int,
    paid: int,
) -> dict[str, Any] | None:
    effect: dict[str, Any] = {}
    if points:
        effect["points"] = points
    if paid:
        effect["points_paid"] = paid
    if points and programme.ladder is not None:
        decision = tiers.qualify(
            session,
            ladder=tiers.LadderRef(
                programme.id, programme.code, programme.ladder, programme.ladder_version
            ),
            customer_id=customer_id,
            now=event.now,
            joined_at=event.occurred_at,
        )
        if decision.changed:
            effect["tier"] = decision.membership.tier_code
    return effect or None


def _activation(
    session: Session, programme: Programme, event: DispatchedEvent, customer_id: int | None
) -> int:
    if event.type not in programme.activation_events or customer_id is None:
        return 0
    external = event.data.get("order_id")
    if not isinstance(external, str):
        return 0
    source = event.data.get("order_source") or event.source
    order_id = session.execute(
        select(SalesOrder.id).where(SalesOrder.source == source, SalesOrder.external_id == external)
    ).scalar_one_or_none()
    if order_id is None:
        return 0
    return ledger_activity.activate_ref(
        session,
        customer_id=customer_id,
        programme=programme.code,
        ref=order_ref(order_id),
        now=event.now,
        expiry=programme.expiry,
        reason=ledger.Reason(event_id=event.id, actor=LOYALTY_ACTOR),
        event=event.type,
        # Lots held before holds named their event wait for the programme's.
        unnamed=event.type == programme.hold.event,
    )


def _for_programme(
    session: Session, programme: Programme, event: DispatchedEvent, paying: bool
) -> dict[str, Any] | None:
    customer_id = event.customer_id
    effect: dict[str, Any] = {}
    if _earns_on(programme, event.type) or (event.type == ORDER_COMPLETED and paying):
        if event.type == ORDER_COMPLETED:
            effect |= _on_order(session, programme, event, customer_id, paying) or {}
        elif customer_id is not None:
            subject = _member_event(event, customer_id)
            member = member_of(session, programme, customer_id)
            evaluation = _evaluate(session, programme, subject, member)
            points = _earn(
                session,
                programme,
                event,
                subject,
                evaluation,
                key=f"event:{event.id}",
            )
            effect |= _after_earning(session, programme, event, customer_id, points, 0) or {}
    activated = _activation(session, programme, event, customer_id)
    if activated:
        effect["activated"] = activated
    if customer_id is not None and event.type in activity_kinds(programme.expiry):
        ledger_activity.record_activity(
            session,
            customer_ids=[customer_id],
            programme=programme.code,
            kind=event.type,
            at=event.occurred_at,
            points=int(effect.get("points", 0)),
            expiry=programme.expiry,
        )
    return effect or None


def _paying_programme(programmes: Sequence[Programme], event: DispatchedEvent) -> int | None:
    """The programme an order's points payment is charged to: the first in force in the
    order's currency."""
    currency = str(event.data.get("currency", "")).upper()
    return next((p.id for p in programmes if p.currency == currency), None)


def _concerns(programme: Programme, event: DispatchedEvent, paying: bool) -> bool:
    """Whether the programme has anything to do for the event."""
    return (
        _earns_on(programme, event.type)
        or paying
        or event.type in programme.activation_events
        or (event.customer_id is not None and event.type in activity_kinds(programme.expiry))
    )


def _is_plain(programme: Programme, event: DispatchedEvent, paying: bool) -> bool:
    """Whether the event only earns in this programme (no points payment, activation or
    activity to book): such events go through the set-based wave path."""
    if event.customer_id is None:
        return False
    if not (_earns_on(programme, event.type) or event.type in activity_kinds(programme.expiry)):
        return False
    if event.type in programme.activation_events:
        return False
    if event.type != ORDER_COMPLETED:
        return True
    recorded = event.effects.get("order")
    pays = any(p.get("method") == "points" for p in event.data.get("payments", []))
    return isinstance(recorded, dict) and "order_id" in recorded and not (paying and pays)


@dataclass
class _Planned:
    index: int
    event: DispatchedEvent
    subject: Order | MemberEvent
    facts: OrderFacts | None
    order_id: int | None


def _plan(programme: Programme, index: int, event: DispatchedEvent) -> _Planned | None:
    customer_id = event.customer_id
    assert customer_id is not None  # noqa: S101 - _is_plain checked it
    if event.type != ORDER_COMPLETED:
        return _Planned(index, event, _member_event(event, customer_id), None, None)
    order_id = int(event.effects["order"]["order_id"])
    facts = _order_facts(event, customer_id, order_id)
    if facts.order.currency != programme.currency:
        return None  # another currency's orders belong to another programme
    return _Planned(index, event, facts.order, facts, order_id)


def _plans(
    programme: Programme, concerned: Sequence[tuple[int, DispatchedEvent, bool]]
) -> dict[int, _Planned | DomainError | None]:
    """Per index, the plan of each plain event (None: not this programme's currency), or
    the error that refuses it."""
    plans: dict[int, _Planned | DomainError | None] = {}
    for index, event, paying in concerned:
        if _is_plain(programme, event, paying):
            try:
                plans[index] = _plan(programme, index, event)
            except DomainError as error:
                plans[index] = error
    return plans


# Evaluating a batch's events before the locks costs one statement more on a programme
# with a ladder (the members' tiers, read without locking): worth it where other batches
# may be waiting for those locks, not for the handful of members of a group of single
# events, which pays it on every transaction.
EARLY_MEMBERS = 64


@dataclass(frozen=True)
class _Assessed:
    """What a plain event earns: its evaluation, the lots it posts (each request with its
    posting on an account owing nothing, as of the event's ``now``) and, for an order, the
    points of each line (all empty without points)."""

    evaluation: Evaluation
    requests: list[EarnRequest]
    postings: list[FreshEarn]
    lines: list[dict[str, Any]]


def _assess(programme: Programme, item: _Planned, member: Member, counters: Counters) -> _Assessed:
    rule_set = programme.rule_set
    assert rule_set is not None  # noqa: S101 - only programmes with rules plan events
    evaluation = evaluate(rule_set, item.subject, member=member, counters=counters)
    if evaluation.total_points <= 0:
        return _Assessed(evaluation, [], [], [])
    key = order_ref(item.order_id) if item.order_id is not None else f"event:{item.event.id}"
    requests = earn_requests(programme, item.event, item.subject, evaluation, key=key)
    return _Assessed(
        evaluation,
        requests,
        # Pure, so made here: for a batch, that is before its members are locked.
        [fresh_posting(r, now=item.event.now, expiry=programme.expiry) for r in requests],
        []
        if item.facts is None
        else _line_earnings(rule_set, item.facts, member, evaluation.awards),
    )


@dataclass(frozen=True)
class _Early:
    """An assessment made before the locks, and for whom (the member's tier then)."""

    member: Member
    assessed: _Assessed


def _evaluate_early(
    session: Session, programme: Programme, plans: dict[int, _Planned | DomainError | None]
) -> dict[int, _Early]:
    """Every plain event assessed (evaluated, its lots and line points made) before the
    members are locked, so that concurrent batches sharing members wait for less (the first
    wave's assessments were about a fifth of the time the locks were held, in batches of
    1,000 with the demo programme; a member's later events, a tenth of what was left).

    Only where an evaluation reads nothing but the member's tier: no counter (cap, limit,
    budget or punch card). An assessment is used in whichever wave books its event, only
    where the tier read then, under the locks and after the earlier waves, is the one read
    here (``_flush_wave``): a member whose first order lifts them to the next tier has their
    second one assessed again at that tier.
    """
    rule_set = programme.rule_set
    if rule_set is None or rule_set.counts:
        return {}
    planned = [p for p in plans.values() if isinstance(p, _Planned)]  # in the events' order
    members = sorted({p.subject.customer_id for p in planned})
    if programme.ladder is not None and len(members) < EARLY_MEMBERS:
        return {}
    codes: dict[int, str] = {}
    if programme.ladder is not None:
        codes = tiers.tiers_of(session, programme_id=programme.id, customer_ids=members)
    early: dict[int, _Early] = {}
    for item in planned:
        member = _member(programme, codes, item.subject.customer_id)
        early[item.index] = _Early(member, _assess(programme, item, member, Counters()))
    return early


def _earning_row(
    programme: Programme, item: _Planned, assessed: _Assessed
) -> dict[str, Any] | None:
    """What an order earned, as its ``loyalty_earning`` row (None: not an order, or no
    points)."""
    points = assessed.evaluation.total_points
    if points <= 0 or item.facts is None or item.order_id is None:
        return None
    return {
        "programme_id": programme.id,
        "customer_id": item.subject.customer_id,
        "order_id": item.order_id,
        "event_id": item.event.id,
        "rule_set_version": programme.rule_set_version,
        "amount_minor": item.facts.total_minor,
        "points": points,
        "lines": assessed.lines,
        "points_paid": 0,
        "clawed_back": 0,
        "given_back": 0,
        "created_at": item.event.now,
    }


def _record_early(
    session: Session,
    programme: Programme,
    plans: dict[int, _Planned | DomainError | None],
    early: dict[int, _Early],
) -> set[int]:
    """Write the order earnings of the early assessments before the locks (with its foreign
    keys checked row by row, the statement was the longest a batch ran under them); the
    events whose row is written. A wave that assesses one of them again corrects its row
    (``_correct_earnings``)."""
    rows: dict[int, dict[str, Any]] = {}
    for index, made in early.items():
        planned = plans[index]
        if isinstance(planned, _Planned):
            row = _earning_row(programme, planned, made.assessed)
            if row is not None:
                rows[index] = row
    # Only this transaction's new orders are named: nothing can conflict, as under the locks.
    insert_rows(
        session,
        table_of(LoyaltyEarning),
        list(rows.values()),
        skip_conflicts_on=("programme_id", "order_id"),
    )
    return set(rows)


def _correct_earnings(
    session: Session, programme: Programme, corrected: list[tuple[int, dict[str, Any] | None]]
) -> None:
    """Set the written earnings of orders assessed again (by order id) to the new
    assessment: only their points and line points can differ (None: the order earns nothing
    after all). One statement for the changed, one for the withdrawn, as for any wave."""
    table = table_of(LoyaltyEarning)
    update_rows(
        session,
        table,
        [
            {
                "programme_id": programme.id,
                "order_id": order_id,
                "points": row["points"],
                "lines": row["lines"],
            }
            for order_id, row in corrected
            if row is not None
        ],
        key=("programme_id", "order_id"),
    )
    withdrawn = [order_id for order_id, row in corrected if row is None]
    if withdrawn:
        session.execute(
            delete(table).where(
                table.c.programme_id == programme.id, table.c.order_id.in_(withdrawn)
            )
        )


@dataclass(frozen=True)
class _Locked:
    """The accounts and memberships a batch locked up front, as read then: the first wave
    uses them instead of reading them again, as long as nothing has written to them."""

    accounts: Sequence[Any]
    memberships: Sequence[Any]


def _member(programme: Programme, codes: dict[int, str], customer_id: int) -> Member:
    """Who earns, for the evaluation: their tier (``codes``, the base tier if absent) and
    its multiplier."""
    if programme.ladder is None:
        return Member()
    code = codes.get(customer_id, programme.ladder.base.code)
    return Member(tier=code, tier_multiplier=benefits_for(programme.ladder, code).earn_multiplier)


def _flush_wave(
    session: Session,
    programme: Programme,
    wave: list[_Planned],
    effects: list[dict[str, Any]],
    locked: _Locked | None = None,
    early: dict[int, _Early] | None = None,
    recorded: set[int] | None = None,
) -> bool:
    """Evaluate a wave (each member at most once) and write it in a constant number of
    statements: counters, lots, entries, caches, order earnings, then the tiers. Whether
    there was anything to write. ``early``: evaluations made before the locks (see
    ``_evaluate_early``), used where the member is still who they were then; ``recorded``:
    the events whose order earning was written from it then (``_record_early``)."""
    rule_set = programme.rule_set
    if not wave or rule_set is None:
        return False
    customers = [item.subject.customer_id for item in wave]
    codes: dict[int, str] = {}
    if programme.ladder is not None:
        codes = (
            tiers.tier_codes(locked.memberships)
            if locked is not None
            else tiers.tiers_of(session, programme_id=programme.id, customer_ids=customers)
        )
    members = {c: _member(programme, codes, c) for c in customers}
    early = early or {}
    needs = [
        (item.subject.customer_id, counters_needed(rule_set, item.subject, members[c]))
        for item, c in zip(wave, customers, strict=True)
    ]
    loaded = load_counters(session, programme_id=programme.id, needs=needs)
    budgets: dict[str, int] = dict(next(iter(loaded.values())).budget_used) if loaded else {}
    requests: list[EarnRequest] = []
    postings: list[FreshEarn | None] = []
    counters: list[dict[str, Any]] = []
    earnings: list[dict[str, Any]] = []
    corrected: list[tuple[int, dict[str, Any] | None]] = []
    recorded = recorded or set()
    earned: dict[int, int] = {}
    now = wave[0].event.now
    for item in wave:
        customer = item.subject.customer_id
        known = loaded.get(customer) or Counters()
        mine = Counters(known.points, known.awards, known.punches, budgets)
        made = early.get(item.index)
        kept = made.assessed if made is not None and made.member == members[customer] else None
        assessed = kept or _assess(programme, item, members[customer], mine)
        row = _earning_row(programme, item, assessed)
        if item.index not in recorded:
            if row is not None:
                earnings.append(row)
        elif kept is None and item.order_id is not None:
            corrected.append((item.order_id, row))
        evaluation = assessed.evaluation
        # Rule budgets are shared by all members: later events of the wave see the usage.
        budgets = dict(Counters(budget_used=budgets).plus(evaluation.usage).budget_used)
        counters += counter_rows(programme.id, customer, evaluation.usage)
        points = evaluation.total_points
        if points <= 0:
            continue
        requests += assessed.requests
        # Made as of the event's ``now``: good for the wave's, which is the same in practice.
        same_now = item.event.now == now
        postings += assessed.postings if same_now else [None] * len(assessed.requests)
        earned[item.index] = points
    add_counters(session, counters)
    earn_many(
        session,
        programme=programme.code,
        requests=requests,
        now=now,
        expiry=programme.expiry,
        locked=None if locked is None else locked.accounts,
        # Keys name the event's order or the event itself, both created in this transaction
        # (an existing order is refused by its unique key before earning runs).
        fresh_keys=True,
        postings=postings,
    )
    # Arrays through ``insert_rows`` rather than an ORM executemany: the JSON lines and the
    # thousand parameter sets were costlier to bind than the statement to run.
    insert_rows(
        session, table_of(LoyaltyEarning), earnings, skip_conflicts_on=("programme_id", "order_id")
    )
    _correct_earnings(session, programme, corrected)
    kinds = activity_kinds(programme.expiry)
    ledger_activity.record_activities(
        session,
        programme=programme.code,
        activities=[
            (
                item.subject.customer_id,
                LedgerActivity(item.event.type, item.event.occurred_at, earned.get(item.index, 0)),
            )
            for item in wave
            if item.event.type in kinds
        ],
        expiry=programme.expiry,
    )
    decisions = {}
    if programme.ladder is not None and requests:
        decisions = tiers.qualify_many(
            session,
            ladder=tiers.LadderRef(
                programme.id, programme.code, programme.ladder, programme.ladder_version
            ),
            customer_ids=sorted({r.customer_id for r in requests}),
            now=now,
            locked=None if locked is None else locked.memberships,
            # A member enrolled now joins at their first purchase of the wave (history
            # imported late), not at the import (see ``qualify_many``).
            joined={item.subject.customer_id: item.subject.occurred_at for item in wave},
        )
    for item in wave:
        points = earned.get(item.index, 0)
        if not points:
            continue
        effect: dict[str, Any] = {"points": points}
        decision = decisions.get(item.subject.customer_id)
        if decision is not None and decision.changed:
            effect["tier"] = decision.membership.tier_code
        effects[item.index][programme.code] = effect
    return True


@dataclass(frozen=True)
class _Booked:
    """An event that does more than earn (a points payment, an activation, activity to
    keep): booked on its own, after the plain events of its wave."""

    index: int
    event: DispatchedEvent
    paying: bool


@dataclass
class _Waves:
    """The events of one programme waiting to be booked, in waves: a member's first pending
    event goes in wave 0, their second in wave 1, and so on, so each wave holds a member at
    most once and a member's later events see what the earlier ones did. In a wave, the
    plain events are evaluated together and written set-based, then the others are booked
    one by one: only the member's own earlier events bear on them, and those are booked.

    Events of different members are independent, except through a rule budget, which all
    members draw from in order: with one (``in_order``), a wave is cut at its first repeated
    member instead, so that budgets are granted in the order of the events, and an event
    that does more than earn is booked after all that came before it."""

    in_order: bool
    fresh: _Locked | None
    # Evaluations made before the locks: each good where its member's tier is unchanged.
    early: dict[int, _Early] = field(default_factory=dict)
    # The events whose order earning was written from its early evaluation.
    recorded: set[int] = field(default_factory=set)
    waves: list[list[_Planned | _Booked]] = field(default_factory=list)
    pending: dict[int, int] = field(default_factory=dict)  # member -> events waiting

    def cuts_before(self, customer_id: int) -> bool:
        """Whether the waves waiting must be booked before an event of this member joins."""
        return self.in_order and customer_id in self.pending

    def add(self, customer_id: int, item: _Planned | _Booked) -> None:
        depth = self.pending.get(customer_id, 0)
        if depth == len(self.waves):
            self.waves.append([])
        self.waves[depth].append(item)
        self.pending[customer_id] = depth + 1

    def flush(
        self, session: Session, programme: Programme, effects: list[dict[str, Any]]
    ) -> dict[int, DomainError]:
        """Book every wave in turn; the events that failed, by index. A plain wave that
        fails is reported by its first event, and the waves after it are left: the
        ingestion replays the batch without the events reported."""
        waves, self.waves, self.pending = self.waves, [], {}
        failed: dict[int, DomainError] = {}
        for wave in waves:
            plain = [item for item in wave if isinstance(item, _Planned)]
            try:
                if _flush_wave(
                    session, programme, plain, effects, self.fresh, self.early, self.recorded
                ):
                    self.fresh = None  # what was read under the locks is stale now
            except DomainError as error:
                failed[plain[0].index] = error
                return failed
            for item in wave:
                if not isinstance(item, _Booked):
                    continue
                self.fresh = None
                try:
                    outcome = _for_programme(session, programme, item.event, item.paying)
                except DomainError as error:
                    # What was written for it is rolled back with the batch's savepoint.
                    failed[item.index] = error
                    continue
                if outcome:
                    effects[item.index][programme.code] = outcome
        return failed


def earn_on_events(
    session: Session, events: Sequence[DispatchedEvent]
) -> list[Effect | DomainError]:
    """Batch subscriber for every event type: one evaluation per event and programme.

    Events that only earn go in *waves* (each member at most once per wave, a member's waves
    in the order of their events, so their second order sees the first one's counters and
    tier; see ``_Waves``): each wave is evaluated in Python and written set-based. An event
    that does more (a points payment, an activation, activity) joins its member's place in
    the waves too and is booked on its own after its wave's plain events. So every event sees
    what its member's events before it did, as if ingested one by one, and a batch books in
    as many waves as its busiest member has events (a points payment used to book every
    wave waiting first, which cut a batch into nearly one wave per event).
    """
    programmes = programmes_in_force(session)
    if not programmes:
        return [None for _ in events]
    failed: dict[int, DomainError] = {}
    effects: list[dict[str, Any]] = [{} for _ in events]
    for programme in programmes:
        # (index, event, whether it pays with points here) for the events this programme
        # has anything to do with: only their members are locked (a member without an
        # account is held on their profile row, a write: not for a page view's visitor).
        concerned = [
            (index, event, paying)
            for index, event in enumerate(events)
            if index not in failed
            for paying in [
                event.type == ORDER_COMPLETED
                and _paying_programme(programmes, event) == programme.id
            ]
            if _concerns(programme, event, paying)
        ]
        members = sorted({e.customer_id for _, e, _ in concerned if e.customer_id is not None})
        # The plain events' plans (the order as the engine sees it) are pure: made before the
        # locks, they no longer lengthen the time the members stay locked, which concurrent
        # batches sharing members wait out one after the other.
        plans = _plans(programme, concerned)
        early = _evaluate_early(session, programme, plans)
        recorded = _record_early(session, programme, plans, early)
        # Every lock the waves below will take, taken now in one global order (accounts, then
        # memberships, then counters; primary-key order in each): see ledger.batch.lock_accounts.
        accounts = lock_accounts(session, programme=programme.code, customer_ids=members)
        memberships: Sequence[Any] = []
        if programme.ladder is not None:
            memberships = tiers.lock_memberships(
                session, programme_id=programme.id, customer_ids=members
            )
        if programme.rule_set is not None and programme.rule_set.counts:
            # Without a cap, limit, budget or punch card no evaluation uses a counter: the
            # batch writes none, so there is nothing to lock.
            lock_counters(session, programme_id=programme.id, customer_ids=members)
        waves = _Waves(
            in_order=programme.rule_set is not None and programme.rule_set.shares_budgets,
            # Good until the first write (most batches and groups are one wave).
            fresh=_Locked(accounts, memberships),
            early=early,
            recorded=recorded,
        )

        for index, event, paying in concerned:
            customer_id = event.customer_id
            try:
                if index in plans:
                    planned = plans[index]
                    if isinstance(planned, DomainError):
                        raise planned
                    if planned is None:
                        continue
                    item: _Planned | _Booked = planned
                elif customer_id is not None and not waves.in_order:
                    # It waits for the member's own earlier events only, not for everyone's.
                    item = _Booked(index, event, paying)
                else:
                    if customer_id is not None:  # a rule budget: after all that came before
                        failed |= waves.flush(session, programme, effects)
                        waves.fresh = None
                    # Without a member nothing is read or written for it (a points payment
                    # is refused): no wave needs booking first.
                    outcome = _for_programme(session, programme, event, paying)
                    if outcome:
                        effects[index][programme.code] = outcome
                    continue
            except DomainError as error:
                # The ingestion replays the batch without this event: what was written for
                # it is rolled back with the batch's savepoint.
                failed[index] = error
                continue
            assert customer_id is not None  # noqa: S101 - plain and booked events have one
            if waves.cuts_before(customer_id):
                failed |= waves.flush(session, programme, effects)
            waves.add(customer_id, item)
        failed |= waves.flush(session, programme, effects)
    return [failed.get(n) or (effects[n] or None) for n in range(len(events))]


def dry_run(session: Session, programme: Programme, subject: Order | MemberEvent) -> Evaluation:
    """A dry run of one event for a member as they stand now (tier, counters): nothing is
    written."""
    return _evaluate(
        session, programme, subject, member_of(session, programme, subject.customer_id)
    )
