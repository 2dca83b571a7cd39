"""Order persistence."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from fidela.commerce.models import SalesOrder, SalesOrderLine, SalesReturn


def find_order(
    session: Session, *, source: str, external_id: str, for_update: bool = False
) -> SalesOrder | None:
    query = select(SalesOrder).where(
        SalesOrder.source == source, SalesOrder.external_id == external_id
    )
    if for_update:
        query = query.with_for_update()
    return session.execute(query).scalar_one_or_none()


def order_lines(session: Session, order_id: int) -> Sequence[SalesOrderLine]:
    return list(
        session.execute(
            select(SalesOrderLine)
            .where(SalesOrderLine.order_id == order_id)
            .order_by(SalesOrderLine.line_no)
        ).scalars()
    )


def add_order(session: Session, order: SalesOrder, lines: Sequence[SalesOrderLine]) -> SalesOrder:
    session.add(order)
    session.flush()
    for line in lines:
        line.order_id = order.id
    session.add_all(lines)
    session.flush()
    return order


def add_return(session: Session, sales_return: SalesReturn) -> SalesReturn:
    session.add(sales_return)
    session.flush()
    return sales_return


def customer_orders(session: Session, customer_id: int, limit: int) -> Sequence[SalesOrder]:
    return list(
        session.execute(
            select(SalesOrder)
            .where(SalesOrder.customer_id == customer_id)
            .order_by(SalesOrder.ordered_at.desc())
            .limit(limit)
        ).scalars()
    )
