"""Order persistence."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fidela.commerce.models import SalesOrder, SalesOrderLine, SalesReturn
from fidela.platform.bulk import insert_with_children
from fidela.platform.db import table_of


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


_ORDER = table_of(SalesOrder)
_LINE = table_of(SalesOrderLine)


def add_orders(
    session: Session, orders: Sequence[dict[str, Any]], lines: Sequence[Sequence[dict[str, Any]]]
) -> list[int]:
    """Insert orders and all their lines (one statement for a few orders, two beyond: see
    ``insert_with_children``); the new order ids, in the order of ``orders``. ``lines[n]``
    are the lines of order n."""
    rows = [
        {**line, "order_id": position}
        for position, order_lines in enumerate(lines)
        for line in order_lines
    ]
    return insert_with_children(session, _ORDER, orders, _LINE, rows, link="order_id")


def add_return(session: Session, sales_return: SalesReturn) -> SalesReturn:
    session.add(sales_return)
    session.flush()
    return sales_return
