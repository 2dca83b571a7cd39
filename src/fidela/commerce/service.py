"""Recording orders and returns from ``order.*`` events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fidela.commerce import repository
from fidela.commerce.models import SalesOrder
from fidela.commerce.rules import (
    CurrencyDiffers,
    LineIn,
    OrderAmounts,
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


Figures = tuple[str, list[int], OrderAmounts]


def _figures(data: OrderCompleted) -> Figures:
    """The currency, line numbers and amounts of an order; raises on bad figures."""
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
    return currency, numbers, amounts


def check_order(data: OrderCompleted) -> Figures:
    """Refuse an order whose figures ``record_orders`` would refuse (the ingestion's check,
    run before anything is written: see ``fidela.event.dispatch``); the figures, which
    ``record_orders`` then takes as they are."""
    return _figures(data)


def _order_rows(event: DispatchedEvent) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The order row and line rows of an ``order.completed`` event; raises on bad figures
    before anything is written."""
    # The catalogue validated the data already; validate again only if called with a dict.
    data = (
        event.payload
        if isinstance(event.payload, OrderCompleted)
        else OrderCompleted.model_validate(event.data)
    )
    # Worked out by the ingestion's check, when it ran (the path through ``record_orders``).
    checked: Figures | None = event.checked.get(check_order)
    currency, numbers, amounts = checked if checked is not None else _figures(data)
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


@dataclass
class _Returning:
    """An order as this batch's returns leave it so far: later returns of the same order in
    the batch refund what is left after the earlier ones."""

    row: dict[str, Any]
    returned_minor: int
    lines: dict[int, OrderLineState]
    line_ids: dict[int, int]
    changed_lines: set[int] = field(default_factory=set)


def _returned(event: DispatchedEvent) -> OrderReturned:
    # The catalogue validated the data already; validate again only if called with a dict.
    if isinstance(event.payload, OrderReturned):
        return event.payload
    return OrderReturned.model_validate(event.data)


def record_returns(
    session: Session, events: Sequence[DispatchedEvent]
) -> list[dict[str, Any] | DomainError | None]:
    """Store the returns of ``order.returned`` events against their orders, in order: the
    orders named are locked at once (so concurrent returns cannot over-refund), then read
    with their lines, and every return, order and line written in one statement each. A
    return of an unknown order, in another currency, or beyond what is left to refund is
    rejected and writes nothing."""
    data = [_returned(event) for event in events]
    keys = [
        (d.order_source or event.source, d.order_id) for event, d in zip(events, data, strict=True)
    ]
    orders = repository.lock_orders(session, sorted(set(keys)))
    states: dict[int, _Returning] = {
        row["id"]: _Returning(row, row["returned_minor"], {}, {}) for row in orders.values()
    }
    wanting_lines = sorted(
        {orders[key]["id"] for key, d in zip(keys, data, strict=True) if d.lines and key in orders}
    )
    for line in repository.lines_of_orders(session, wanting_lines) if wanting_lines else []:
        state = states[line["order_id"]]
        state.lines[line["line_no"]] = OrderLineState(
            line["line_no"],
            line["quantity"],
            line["amount_minor"],
            line["returned_quantity"],
            line["returned_minor"],
        )
        state.line_ids[line["line_no"]] = line["id"]
    outcomes: list[dict[str, Any] | DomainError | None] = []
    rows: list[dict[str, Any]] = []
    for event, returned, key in zip(events, data, keys, strict=True):
        try:
            state, row = _take_return(orders.get(key), states, event, returned, key)
        except DomainError as error:
            outcomes.append(error)
            continue
        rows.append(row)
        outcomes.append(
            {
                "customer_id": state.row["customer_id"],
                "return_id": None,  # known once inserted, below
                "order_id": state.row["id"],
                "amount_minor": row["amount_minor"],
                "order_total_minor": state.row["total_minor"],
                "order_returned_minor": state.returned_minor,
                **({"lines": row["lines"]} if row["lines"] else {}),
            }
        )
    if not rows:
        return outcomes
    touched = [s for s in states.values() if s.returned_minor != s.row["returned_minor"]]
    return_ids = iter(
        repository.add_returns(
            session,
            rows,
            [
                {
                    "id": s.row["id"],
                    "returned_minor": s.returned_minor,
                    "status": order_status(s.row["total_minor"], s.returned_minor),
                }
                for s in touched
            ],
            [
                {
                    "id": s.line_ids[n],
                    "returned_quantity": s.lines[n].returned_quantity,
                    "returned_minor": s.lines[n].returned_minor,
                }
                for s in states.values()
                for n in sorted(s.changed_lines)
            ],
        )
    )
    for outcome in outcomes:
        if isinstance(outcome, dict):
            outcome["return_id"] = next(return_ids)
    return outcomes


def _take_return(
    order: dict[str, Any] | None,
    states: dict[int, _Returning],
    event: DispatchedEvent,
    data: OrderReturned,
    key: tuple[str, str],
) -> tuple[_Returning, dict[str, Any]]:
    """The return's row, with ``states`` moved on by it; raises, changing nothing, for a
    return that cannot be taken."""
    if order is None:
        raise UnknownOrder(
            f"no order '{key[1]}' from source '{key[0]}'",
            [FieldProblem("/data/order_id", "unknown order")],
        )
    state = states[order["id"]]
    if (
        data.currency is not None
        and _currency(data.currency, "/data/currency") != order["currency"]
    ):
        raise CurrencyDiffers(
            f"the order was paid in {order['currency']}",
            [FieldProblem("/data/currency", f"the order's currency is {order['currency']}")],
        )
    refunded_lines: list[dict[str, int]] = []
    if data.lines:
        refunds = refund_lines(state.lines, [(line.line_no, line.quantity) for line in data.lines])
        for refund in refunds:
            line = state.lines[refund.line_no]
            state.lines[refund.line_no] = replace(
                line,
                returned_quantity=line.returned_quantity + refund.quantity,
                returned_minor=line.returned_minor + refund.amount_minor,
            )
            state.changed_lines.add(refund.line_no)
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
            data.amount_minor or 0, order["total_minor"], state.returned_minor
        )
    state.returned_minor += amount
    return state, {
        "order_id": order["id"],
        "customer_id": order["customer_id"],
        "source": event.source,
        "external_id": event.external_id,
        "event_id": event.id,
        "amount_minor": amount,
        "refund_method": data.refund_method,
        "reason": data.reason,
        "lines": refunded_lines,
        "returned_at": event.occurred_at,
        "created_at": event.now,
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
