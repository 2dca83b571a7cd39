"""Order persistence."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fidela.commerce.models import SalesOrder, SalesOrderLine, SalesReturn
from fidela.platform.bulk import insert_rows
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
    """Insert orders (one multi-row statement) and then all their lines (one executemany);
    the new order ids, in the order of ``orders``. ``lines[n]`` are the lines of order n."""
    if not orders:
        return []
    ids = [int(row[0]) for row in insert_rows(session, _ORDER, orders, returning=("id",))]
    rows = [
        {**line, "order_id": order_id}
        for order_id, order_lines in zip(ids, lines, strict=True)
        for line in order_lines
    ]
    insert_rows(session, _LINE, rows)
    return ids


def add_return(session: Session, sales_return: SalesReturn) -> SalesReturn:
    session.add(sales_return)
    session.flush()
    return sales_return
