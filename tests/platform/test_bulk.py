"""Bulk inserts store the same rows whichever way they travel (COPY for many rows on
PostgreSQL, one prepared INSERT for a few), and report conflicts the same way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, select
from sqlalchemy.exc import IntegrityError

from fidela.platform.bulk import COPY_FROM_ROWS, insert_rows
from fidela.platform.db import Database
from fidela.platform.types import UTCDateTime

PROBE = Table(
    "bulk_probe",
    MetaData(),
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("note", String(20)),
    Column("data", JSON),
    Column("at", UTCDateTime),
)
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def rows(count: int, first: int = 1) -> list[dict[str, object]]:
    return [
        {"id": n, "note": f"n{n}", "data": {"n": n, "tags": ["a"]}, "at": T0 + timedelta(minutes=n)}
        for n in range(first, first + count)
    ]


@pytest.mark.parametrize("count", [3, COPY_FROM_ROWS + 36])
def test_rows_are_stored_as_given_and_a_conflict_is_an_integrity_error(
    database: Database, count: int
) -> None:
    with database.write() as session:
        PROBE.create(session.connection())
        insert_rows(session, PROBE, rows(count))
        stored = session.execute(select(PROBE).order_by(PROBE.c.id)).all()
        assert [tuple(row) for row in stored] == [
            (r["id"], r["note"], r["data"], r["at"]) for r in rows(count)
        ]
        with pytest.raises(IntegrityError), session.begin_nested():
            insert_rows(session, PROBE, rows(count, first=count))
