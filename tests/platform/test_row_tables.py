"""Rows as a table of arrays: the arrays are packed for the driver when the caller knows the
column kinds, and PostgreSQL reads them back as the rows given."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import BigInteger, Numeric, String, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeEngine

from fidela.platform import driver
from fidela.platform.db import Database
from fidela.platform.packed_arrays import PackedArray
from fidela.platform.row_tables import array_kinds, row_params, row_table
from fidela.platform.types import UTCDateTime

COLUMNS: list[tuple[str, TypeEngine[Any]]] = [
    ("id", BigInteger()),
    ("at", UTCDateTime()),
    ("ref", String(20)),
]
ROWS = [(1, datetime(2026, 1, 1, tzinfo=UTC), "a"), (2, datetime(2026, 2, 1, tzinfo=UTC), None)]


def test_the_kinds_of_the_hot_column_types_are_known_and_others_are_left_to_psycopg() -> None:
    dialect = postgresql.psycopg.dialect()  # type: ignore[no-untyped-call]
    assert array_kinds(COLUMNS, dialect) == ["BIGINT", "TIMESTAMP WITH TIME ZONE", "VARCHAR"]
    assert array_kinds([("amount", Numeric(12, 2))], dialect) == [None]


def test_row_params_are_packed_with_kinds_and_plain_lists_without() -> None:
    dialect = postgresql.psycopg.dialect()  # type: ignore[no-untyped-call]
    names = [name for name, _ in COLUMNS]
    plain = row_params("w", names, ROWS)
    assert plain == {"w_id": [1, 2], "w_at": [ROWS[0][1], ROWS[1][1]], "w_ref": ["a", None]}
    packed = row_params("w", names, ROWS, array_kinds(COLUMNS, dialect))
    assert all(isinstance(value, PackedArray) for value in packed.values())


def test_postgresql_reads_packed_row_params_as_the_rows_given(database: Database) -> None:
    with database.write() as session:
        dialect = session.get_bind().dialect
        if dialect.name != "postgresql":
            pytest.skip("SQLite's row table carries its rows inline")
        table = row_table("postgresql", "w", COLUMNS, None).table
        sql = str(select(table).compile(dialect=dialect))
        names = [name for name, _ in COLUMNS]
        rows = driver.run(session, sql, row_params("w", names, ROWS, array_kinds(COLUMNS, dialect)))
        assert [tuple(row) for row in rows] == ROWS
