"""Recording orders and returns from ``order.*`` events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fidela.commerce import repository
from fidela.commerce.models import SalesOrder, SalesReturn
from fidela.commerce.rules import (
    CurrencyDiffers,
    LineIn,
    OrderLineState,
    UnknownOrder,
    check_amount_refund,
    line_numbers,
    order_amounts,
    order_status,
    refund_lines,
)
from fidela.event.catalogue import OrderCompleted, OrderReturned
from fidela.event.rules import DispatchedEvent
from fidela.kernel.errors import DomainError, FieldProblem
from fidela.kernel.money import UnknownCurrency, parse_currency


def _currency(value: str, pointer: str) -> str:
    try:
        return parse_currency(value)
    except UnknownCurrency as exc:
        raise UnknownCurrency(
            exc.detail, [FieldProblem(pointer, "unknown ISO 4217 currency")]
        ) from None


def _order_rows(event: DispatchedEvent) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The order row and line rows of an ``order.completed`` event; raises on bad figures
    before anything is written."""
    # The catalogue validated the data already; validate again only if called with a dict.
    data = (
        event.payload
        if isinstance(event.payload, OrderCompleted)
        else OrderCompleted.model_validate(event.data)
    )
    currency = _currency(data.currency, "/data/currency")
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
    points_payments = [p for p in data.payments if p.method == "points"]
    order = {
        "customer_id": event.customer_id,
        "source": event.source,
        "external_id": event.external_id,
        "event_id": event.id,
        "channel": data.channel,
        "store_id": data.store_id,
        "currency": currency,
        "subtotal_minor": amounts.subtotal_minor,
        "shipping_minor": data.shipping_minor,
        "discount_minor": data.discount_minor,
        "total_minor": amounts.total_minor,
        "points_redeemed": sum(p.points or 0 for p in points_payments),
        "paid_with_points_minor": sum(p.amount_minor for p in points_payments),
        "returned_minor": 0,
        "status": "completed",
        "payments": [p.model_dump(mode="json", exclude_none=True) for p in data.payments],
        "ordered_at": event.occurred_at,
        "created_at": event.now,
    }
    lines = [
        {
            "line_no": n,
            "product_id": line.product_id,
            "sku": line.sku,
            "name": line.name,
            "category": line.category,
            "quantity": line.quantity,
            "unit_price_minor": line.unit_price_minor,
            "discount_minor": line.discount_minor,
            "amount_minor": amount,
            "returned_quantity": 0,
            "returned_minor": 0,
        }
        for n, line, amount in zip(numbers, data.lines, amounts.line_amounts, strict=True)
    ]
    return order, lines


def record_orders(
    session: Session, events: Sequence[DispatchedEvent]
) -> list[dict[str, Any] | DomainError | None]:
    """Store the orders of ``order.completed`` events (each keyed by its event's business
    key): every order row in one statement, every line in one executemany. An event with bad
    figures is rejected and writes nothing."""
    outcomes: list[dict[str, Any] | DomainError | None] = []
    orders: list[dict[str, Any]] = []
    lines: list[list[dict[str, Any]]] = []
    for event in events:
        try:
            order, order_lines = _order_rows(event)
        except DomainError as error:
            outcomes.append(error)
            continue
        orders.append(order)
        lines.append(order_lines)
        outcomes.append(order)
    order_ids = iter(repository.add_orders(session, orders, lines))
    return [
        outcome
        if isinstance(outcome, DomainError) or outcome is None
        else {
            "order_id": next(order_ids),
            "total_minor": outcome["total_minor"],
            "currency": outcome["currency"],
        }
        for outcome in outcomes
    ]


def record_return(session: Session, event: DispatchedEvent) -> dict[str, Any]:
    """Store a return against its order (locked, so concurrent returns cannot over-refund)."""
    data = (
        event.payload
        if isinstance(event.payload, OrderReturned)
        else OrderReturned.model_validate(event.data)
    )
    order = repository.find_order(
        session,
        source=data.order_source or event.source,
        external_id=data.order_id,
        for_update=True,
    )
    if order is None:
        raise UnknownOrder(
            f"no order '{data.order_id}' from source '{data.order_source or event.source}'",
            [FieldProblem("/data/order_id", "unknown order")],
        )
    if data.currency is not None and _currency(data.currency, "/data/currency") != order.currency:
        raise CurrencyDiffers(
            f"the order was paid in {order.currency}",
            [FieldProblem("/data/currency", f"the order's currency is {order.currency}")],
        )
    lines = {line.line_no: line for line in repository.order_lines(session, order.id)}
    refunded_lines: list[dict[str, int]] = []
    if data.lines:
        states = {
            n: OrderLineState(
                n, line.quantity, line.amount_minor, line.returned_quantity, line.returned_minor
            )
            for n, line in lines.items()
        }
        refunds = refund_lines(states, [(line.line_no, line.quantity) for line in data.lines])
        for refund in refunds:
            line = lines[refund.line_no]
            line.returned_quantity += refund.quantity
            line.returned_minor += refund.amount_minor
            refunded_lines.append(
                {
                    "line_no": refund.line_no,
                    "quantity": refund.quantity,
                    "amount_minor": refund.amount_minor,
                }
            )
        amount = sum(refund.amount_minor for refund in refunds)
    else:
        amount = check_amount_refund(
            data.amount_minor or 0, order.total_minor, order.returned_minor
        )
    order.returned_minor += amount
    order.status = order_status(order.total_minor, order.returned_minor)
    sales_return = repository.add_return(
        session,
        SalesReturn(
            order_id=order.id,
            customer_id=order.customer_id,
            source=event.source,
            external_id=event.external_id,
            event_id=event.id,
            amount_minor=amount,
            refund_method=data.refund_method,
            reason=data.reason,
            lines=refunded_lines,
            returned_at=event.occurred_at,
            created_at=event.now,
        ),
    )
    return {
        "customer_id": order.customer_id,
        "return_id": sales_return.id,
        "order_id": order.id,
        "amount_minor": amount,
        "order_total_minor": order.total_minor,
        "order_returned_minor": order.returned_minor,
    }


def order_totals(session: Session) -> tuple[int, int, int]:
    """(orders, total_minor, returned_minor) over all orders: the figures erasure must keep."""
    row = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(SalesOrder.total_minor), 0),
            func.coalesce(func.sum(SalesOrder.returned_minor), 0),
        )
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


def summary_for(session: Session, customer_id: int, now: datetime) -> dict[str, Any]:
    """The customer-360 section of commerce."""
    row = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(SalesOrder.total_minor - SalesOrder.returned_minor), 0),
            func.min(SalesOrder.ordered_at),
            func.max(SalesOrder.ordered_at),
        ).where(SalesOrder.customer_id == customer_id)
    ).one()
    return {
        "orders": int(row[0]),
        "net_spend_minor": int(row[1]),
        "first_order_at": row[2].isoformat() if row[2] else None,
        "last_order_at": row[3].isoformat() if row[3] else None,
    }
