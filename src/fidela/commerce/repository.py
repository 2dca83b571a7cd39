"""Order persistence."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from fidela.commerce.models import SalesOrder, SalesOrderLine, SalesReturn
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
_INSERT_ORDER = insert(_ORDER).returning(_ORDER.c.id)
_INSERT_LINE = insert(_LINE)


def add_order(session: Session, order: dict[str, Any], lines: Sequence[dict[str, Any]]) -> int:
    """Insert an order and its lines (Core: one statement for the order, one executemany for
    the lines; this is on the path of every order event)."""
    connection = session.connection()
    order_id = int(connection.execute(_INSERT_ORDER, order).scalar_one())
    connection.execute(_INSERT_LINE, [{**line, "order_id": order_id} for line in lines])
    return order_id


def add_return(session: Session, sales_return: SalesReturn) -> SalesReturn:
    session.add(sales_return)
    session.flush()
    return sales_return
