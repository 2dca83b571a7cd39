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
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session


def run(
    session: Session, statement: str, params: Sequence[Any] | Mapping[str, Any]
) -> list[tuple[Any, ...]]:
    """Run ``statement`` with ``params`` in the session's transaction; the rows it returns
    (none for a statement without a result)."""
    connection = session.connection()  # begins the transaction if it has not begun
    driver: psycopg.Connection[Any] = connection.connection.driver_connection  # type: ignore[assignment]
    try:
        with driver.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall() if cursor.description is not None else []
    except psycopg.Error as error:
        if driver.broken:
            # As SQLAlchemy does for a lost connection: never handed out again by the pool.
            connection.invalidate(error)
        raise DBAPIError.instance(
            statement, params, error, psycopg.Error, connection_invalidated=driver.broken
        ) from error
