"""What each member's current tier window counts, summed by the database.

The earning path re-qualifies every member it credits. Reading their qualifying history to
do it cost more the longer they had been members (every earn of the year, as Python
objects); yet for most of them the answer only depends on two facts, which the database
gives in one statement whatever the history: the amount their current window counts, and
whether the order behind their last upgrade has been returned (see
``fidela.tier.rules.settled_decision``).

Each fact is a correlated subquery per member, driven from the members' table of windows:
the plan follows the indexes from the member to their lots, clawbacks (or orders) even where
the planner has no statistics on a freshly loaded table, when a join of everything with
everything would scan every entry once per member. On a points ladder what is read is the
member's lots earned in the window and their clawbacks, so the cost of an earn does not grow
with the years of history behind the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Select,
    String,
    and_,
    bindparam,
    case,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from fidela.commerce.models import SalesOrder, SalesReturn
from fidela.ledger.models import LedgerAccount, LedgerEntry, LedgerLot
from fidela.ledger.rules.lots import LotState
from fidela.platform import driver
from fidela.platform.db import table_of
from fidela.platform.row_tables import RowTable, array_kinds, row_params, row_table
from fidela.platform.types import UTCDateTime
from fidela.tier.rules import Basis, TierLadder

ORDER_PREFIX = "order:"  # qualifying activity names its order "order:<id>"


@dataclass(frozen=True)
class Window:
    """A member's current window, counted over ``(start, now]`` (``start`` None: since the
    beginning), and the order of their last upgrade (None: none to ask about)."""

    start: datetime | None
    upgrade_order_ref: str | None = None


@dataclass(frozen=True)
class WindowCount:
    amount: int  # what the window counts, as ``qualifying_amount`` adds it up
    upgrade_returned: bool  # the window's upgrade order has a counted return


def window_counts(
    session: Session,
    *,
    programme_code: str,
    ladder: TierLadder,
    windows: dict[int, Window],
    now: datetime,
) -> dict[int, WindowCount]:
    """Per member (customer id), their window's count at ``now``, in one statement."""
    if not windows:
        return {}
    dialect = session.get_bind().dialect
    points = ladder.basis is Basis.POINTS
    rows = [
        (
            c,
            window.start,
            window.upgrade_order_ref if points else _order_id(window.upgrade_order_ref),
        )
        for c, window in sorted(windows.items())
    ]
    params: dict[str, Any] = {"programme": programme_code, "currency": ladder.currency, "now": now}
    if dialect.name == "postgresql":
        # Compiled once per kind of ladder: building these subqueries cost more CPU than
        # running them for a handful of members.
        key = (points, ladder.count_pending)
        if key not in _compiled:
            columns = _columns(points)
            built = _statement(row_table(dialect.name, "w", columns, None), key)
            compiled = built.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
            _compiled[key] = (str(compiled), dict(compiled.params), array_kinds(columns, dialect))
        sql, constants, kinds = _compiled[key]
        names = [name for name, _ in _columns(points)]
        params = constants | params | row_params("w", names, rows, kinds)
        result: Any = driver.run(session, sql, params)
    else:
        table = row_table(dialect.name, "w", _columns(points), rows)
        result = session.execute(_statement(table, (points, ladder.count_pending)), params)
    return {
        int(customer): WindowCount(int(amount or 0), bool(returned))
        for customer, amount, returned in result
    }


_compiled: dict[tuple[bool, bool], tuple[str, dict[str, Any], list[str | None]]] = {}


def _columns(points: bool) -> list[tuple[str, TypeEngine[Any]]]:
    # The upgrade's order: the lots' ``ref`` on a points ladder, the order's id on a spend one.
    upgrade: tuple[str, TypeEngine[Any]] = (
        ("upgrade", String()) if points else ("upgrade", BigInteger())
    )
    return [("customer_id", BigInteger()), ("start", UTCDateTime()), upgrade]


def _statement(table: RowTable, key: tuple[bool, bool]) -> Select[Any]:
    points, count_pending = key
    w = table.table
    return _points(w, count_pending) if points else _spend(w)


def _order_id(ref: str | None) -> int | None:
    if ref is None or not ref.startswith(ORDER_PREFIX):
        return None
    number = ref.removeprefix(ORDER_PREFIX)
    return int(number) if number.isdigit() else None


def _points(w: Any, count_pending: bool) -> Select[Any]:
    now = bindparam("now", None, type_=UTCDateTime())
    account = table_of(LedgerAccount).alias("account")
    # As the service reads activity: pending lots count only if the ladder says so.
    counted = (
        []
        if count_pending
        else [
            or_(
                LedgerLot.state != LotState.PENDING.value,
                and_(LedgerLot.activates_at.is_not(None), LedgerLot.activates_at <= now),
            )
        ]
    )
    # Points count at the date their lot was earned: an earn (every lot has exactly one earn
    # entry, of its amount and dated at its ``earned_at``: ``ledger.rules.post_earn``) and
    # every clawback of that lot alike. So the earns are the lots' amounts, read by earn date
    # over the window only, and the clawbacks (stored negative) come from a partial index
    # holding nothing but clawbacks: the statement reads the window, never the member's whole
    # history, which it did when it joined every entry of the member to its lot.
    in_window = (_after(LedgerLot.earned_at, w.c.start), LedgerLot.earned_at <= now)
    earned = (
        select(func.sum(LedgerLot.amount))
        .where(LedgerLot.account_id == account.c.id, *in_window, *counted)
        .scalar_subquery()
    )

    def clawbacks(column: Any, *where: Any) -> Select[Any]:
        return (
            select(column)
            .join(LedgerLot, LedgerLot.id == LedgerEntry.lot_id)
            .where(LedgerEntry.account_id == account.c.id, _CLAWBACK, *counted, *where)
        )

    clawed = clawbacks(func.sum(LedgerEntry.points), *in_window).scalar_subquery()
    returned = _first(clawbacks(LedgerEntry.id, LedgerLot.ref == w.c.upgrade))
    amount = func.coalesce(earned, 0) + func.coalesce(clawed, 0)
    return select(w.c.customer_id, amount, _only_for(w.c.upgrade, returned)).select_from(
        w.outerjoin(
            account,
            and_(
                account.c.customer_id == w.c.customer_id,
                account.c.programme == bindparam("programme", None, type_=String()),
            ),
        )
    )


# Written into the statement, not bound: only a literal lets PostgreSQL use the partial index
# in a generic plan (single-event groups keep theirs, ``Database.for_small_groups``).
_CLAWBACK = LedgerEntry.kind == literal_column("'clawback'")


def _spend(w: Any) -> Select[Any]:
    now = bindparam("now", None, type_=UTCDateTime())
    # As the service reads activity: orders in the ladder's currency less their returns,
    # both at the order's date.
    mine = (
        SalesOrder.customer_id == w.c.customer_id,
        SalesOrder.currency == bindparam("currency", None, type_=String()),
    )
    in_window = (_after(SalesOrder.ordered_at, w.c.start), SalesOrder.ordered_at <= now)
    spent = select(func.sum(SalesOrder.total_minor)).where(*mine, *in_window).scalar_subquery()
    refunded = (
        select(func.sum(SalesReturn.amount_minor))
        .join(SalesOrder, SalesOrder.id == SalesReturn.order_id)
        .where(*mine, *in_window)
        .scalar_subquery()
    )
    returned = _first(
        select(SalesReturn.id)
        .join(SalesOrder, SalesOrder.id == SalesReturn.order_id)
        .where(*mine, SalesReturn.order_id == w.c.upgrade)
    )
    amount = func.coalesce(spent, 0) - func.coalesce(refunded, 0)
    return select(w.c.customer_id, amount, _only_for(w.c.upgrade, returned))


# Before anything a window can count: a lifetime window (no start) starts here.
_BEGINNING = datetime(1, 1, 1, tzinfo=UTC)


def _after(instant: Any, start: Any) -> Any:
    """``instant`` after the window's ``start`` (any instant when there is none).

    Written as one comparison, not ``start IS NULL OR instant > start``: PostgreSQL can only
    bound an index scan on (member, instant) with the former, and with the latter read every
    lot (or order) the member ever had up to now to keep those of the window."""
    beginning = bindparam("beginning", _BEGINNING, type_=UTCDateTime())
    return instant > func.coalesce(start, beginning)


def _first(rows: Select[Any]) -> Any:
    # A LIMIT keeps PostgreSQL from turning the test into one hashed scan of every member's
    # rows (its choice for an EXISTS when it has no statistics): it looks up each member's.
    return rows.limit(1).scalar_subquery()


def _only_for(upgrade: Any, found: Any) -> Any:
    """Whether ``found`` finds a row, asked only for members whose upgrade may be undone."""
    return case((upgrade.is_(None), False), else_=found.is_not(None))
