"""Order persistence."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fidela.commerce.models import SalesOrder, SalesOrderLine, SalesReturn
from fidela.platform.bulk import insert_rows, insert_with_children, select_matching, update_rows
from fidela.platform.db import table_of
from fidela.platform.id_lists import one_of

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


_RETURN = table_of(SalesReturn)
ORDER_KEY = ("source", "external_id")
RETURNED_ORDER = ("id", "source", "external_id", "customer_id", "currency", "total_minor")
RETURNED_LINE = ("id", "order_id", "line_no", "quantity", "amount_minor", "returned_quantity")


def lock_orders(
    session: Session, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """The orders named by (source, external id), locked for update (in id order, one
    statement): the columns a return reads, and what was returned of each so far."""
    columns = (*RETURNED_ORDER, "returned_minor")
    rows = select_matching(session, _ORDER, ORDER_KEY, list(keys), columns, lock=True)
    return {(row[1], row[2]): dict(zip(columns, row, strict=True)) for row in rows}


def lines_of_orders(session: Session, order_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Every line of these orders (read under their orders' locks), in line order."""
    columns = [_LINE.c[c] for c in (*RETURNED_LINE, "returned_minor")]
    statement = (
        select(*columns)
        .where(one_of(session, _LINE.c.order_id, order_ids))
        .order_by(_LINE.c.order_id, _LINE.c.line_no)
    )
    return [dict(row._mapping) for row in session.execute(statement)]


def add_returns(
    session: Session,
    returns: Sequence[dict[str, Any]],
    orders: Sequence[dict[str, Any]],
    lines: Sequence[dict[str, Any]],
) -> list[int]:
    """Insert ``returns`` and set what the orders (``id``, ``returned_minor``, ``status``)
    and lines (``id``, ``returned_quantity``, ``returned_minor``) they refund now stand at:
    three statements whatever their number. The new return ids, in the order given."""
    ids = [int(row[0]) for row in insert_rows(session, _RETURN, returns, returning=("id",))]
    update_rows(session, _ORDER, orders)
    update_rows(session, _LINE, lines)
    return ids
