"""Dry runs against stored data: one event as a member stands now, or the programme's rule
set (or a draft of another) replayed over a date range of recorded orders. Nothing is
written: the caller runs these in a read-only unit of work."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from fidela.commerce.models import SalesOrder, SalesOrderLine
from fidela.event.catalogue import OrderCompleted
from fidela.kernel.errors import FieldProblem, InvalidInput
from fidela.loyalty.counters import load_counters
from fidela.loyalty.earning import (
    ORDER_COMPLETED,
    member_event,
    member_of,
    order_facts,
    spread,
)
from fidela.loyalty.programmes import Programme, _checked_rules
from fidela.loyalty.rules import (
    Counters,
    Evaluation,
    Member,
    Order,
    OrderLine,
    ReplayReport,
    RuleSet,
    counters_needed,
    evaluate,
    load_rule_set,
    replay,
)
from fidela.platform.validation import problems_from

MAX_REPLAY_ORDERS = 200_000


class ReplayTooLarge(InvalidInput):
    code = "replay_too_large"
    title = "Replay range too large"


def _rule_set(programme: Programme, draft: Mapping[str, Any] | None) -> RuleSet:
    if draft is not None:
        return load_rule_set(
            _checked_rules(draft, programme.currency, programme.cost_per_point_minor)
        )
    if programme.rule_set is None:
        raise InvalidInput(
            f"programme '{programme.code}' has no rule set; send one as 'rules'",
            [FieldProblem("/rules", "required: the programme has no rules yet")],
        )
    return programme.rule_set


def dry_run_event(
    session: Session,
    *,
    programme: Programme,
    event_type: str,
    data: dict[str, Any],
    occurred_at: datetime,
    customer_id: int | None,
    rules: Mapping[str, Any] | None = None,
) -> Evaluation:
    """Evaluate one event for ``customer_id`` as they stand now (tier, counters), or for a
    new member when None, under the programme's rules or the ``rules`` draft."""
    rule_set = _rule_set(programme, rules)
    member = Member() if customer_id is None else member_of(session, programme, customer_id)
    who = customer_id or 0
    subject: Any
    if event_type == ORDER_COMPLETED:
        try:
            payload = OrderCompleted.model_validate(data)
        except ValidationError as error:
            problems = problems_from(error, "/data")
            raise InvalidInput("invalid order data", problems) from None
        subject = order_facts(payload, key="dry-run", customer_id=who, at=occurred_at).order
    else:
        subject = member_event(
            data, key="dry-run", type_=event_type, customer_id=who, at=occurred_at
        )
    counters = Counters()
    if customer_id is not None:
        needs = counters_needed(rule_set, subject, member)
        counters = load_counters(
            session, programme_id=programme.id, needs=[(customer_id, needs)]
        ).get(customer_id, Counters())
    return evaluate(rule_set, subject, member=member, counters=counters)


def replay_orders(
    session: Session,
    *,
    programme: Programme,
    start: datetime,
    end: datetime,
    rules: Mapping[str, Any] | None = None,
) -> ReplayReport:
    """What the rules would have issued on the orders recorded in ``[start, end)`` (counters
    start from zero, members as new: a what-if of the rules, not of the members' past)."""
    if end <= start:
        raise InvalidInput("'to' must be after 'from'", [FieldProblem("/to", "after 'from'")])
    rule_set = _rule_set(programme, rules)
    orders = (
        session.execute(
            select(SalesOrder)
            .where(
                SalesOrder.ordered_at >= start,
                SalesOrder.ordered_at < end,
                SalesOrder.customer_id.is_not(None),
            )
            .order_by(SalesOrder.ordered_at, SalesOrder.id)
            .limit(MAX_REPLAY_ORDERS + 1)
        )
        .scalars()
        .all()
    )
    if len(orders) > MAX_REPLAY_ORDERS:
        raise ReplayTooLarge(
            f"more than {MAX_REPLAY_ORDERS} orders in the range; replay a shorter one",
            [FieldProblem("/from", "narrow the range")],
        )
    lines: dict[int, list[OrderLine]] = defaultdict(list)
    ids = [order.id for order in orders]
    for chunk in range(0, len(ids), 5_000):
        for row in session.execute(
            select(SalesOrderLine)
            .where(SalesOrderLine.order_id.in_(ids[chunk : chunk + 5_000]))
            .order_by(SalesOrderLine.order_id, SalesOrderLine.line_no)
        ).scalars():
            lines[row.order_id].append(
                OrderLine(
                    row.line_no,
                    row.product_id,
                    row.amount_minor,
                    row.quantity,
                    row.sku,
                    row.category,
                )
            )
    history = []
    for order in orders:
        mine = lines[order.id]
        if not mine or order.customer_id is None:
            continue
        # As the live path does: the order-level discount comes off the lines first.
        cuts = spread(order.discount_minor, [line.amount_minor for line in mine])
        net = [
            replace(line, amount_minor=max(0, line.amount_minor - cut))
            for line, cut in zip(mine, cuts, strict=True)
        ]
        shipping = max(0, order.shipping_minor - max(0, order.discount_minor - sum(cuts)))
        total = sum(line.amount_minor for line in net) + shipping
        history.append(
            (
                Order(
                    id=f"order:{order.id}",
                    customer_id=order.customer_id,
                    currency=order.currency,
                    occurred_at=order.ordered_at,
                    lines=net,
                    channel=order.channel,
                    store_id=order.store_id,
                    shipping_minor=shipping,
                    points_paid_minor=min(order.paid_with_points_minor, total),
                ),
                Member(),
            )
        )
    return replay(rule_set, history)
