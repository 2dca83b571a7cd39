"""Statements run on psycopg's own cursor, inside the session's transaction (PostgreSQL).

The hot statements of ingestion are prebuilt SQL text with array parameters: SQLAlchemy
has nothing to compile or convert for them, yet running one through ``exec_driver_sql``
still builds an execution context and a result with its metadata. On the bench machine
that was 0.10-0.15 ms of CPU per statement on top of psycopg's own 0.23 ms (a 4-key identity
lookup), and a single-event group runs about ten such statements. Errors are raised as
SQLAlchemy raises the driver's everywhere else, so callers keep catching ``IntegrityError``
and the deadlock retry keeps finding ``DBAPIError``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg.pq import ExecStatus
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

# One cursor per connection, reused: a new cursor builds its own adaptation context, and
# asking a cursor for its description builds column objects; both were a tenth of the CPU of
# a small statement. It lives in the pool's record of the connection (``info`` lasts as long as
# the driver connection), and a connection serves one session, hence one thread, at a time.
_CURSOR = "fidela.driver_cursor"


def _cursor(info: dict[Any, Any], driver: psycopg.Connection[Any]) -> psycopg.Cursor[Any]:
    cursor: psycopg.Cursor[Any] | None = info.get(_CURSOR)
    if cursor is None or cursor.closed or cursor.connection is not driver:
        cursor = info[_CURSOR] = driver.cursor()
    return cursor


def run(
    session: Session, statement: str, params: Sequence[Any] | Mapping[str, Any]
) -> list[tuple[Any, ...]]:
    """Run ``statement`` with ``params`` in the session's transaction; the rows it returns
    (none for a statement without a result)."""
    connection = session.connection()  # begins the transaction if it has not begun
    record = connection.connection
    driver: psycopg.Connection[Any] = record.driver_connection  # type: ignore[assignment]
    try:
        cursor = _cursor(record.info, driver)
        cursor.execute(statement, params)
        result = cursor.pgresult
        if result is None or result.status != ExecStatus.TUPLES_OK:
            return []
        return cursor.fetchall()
    except psycopg.Error as error:
        if driver.broken:
            # As SQLAlchemy does for a lost connection: never handed out again by the pool.
            connection.invalidate(error)
        raise DBAPIError.instance(
            statement, params, error, psycopg.Error, connection_invalidated=driver.broken
        ) from error
