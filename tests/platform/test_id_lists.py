"""A statement built once answers as Core would: the same rows, readable by position and by
column name, with the column types' conversions applied both ways (on PostgreSQL it runs on
the driver's cursor, see ``fidela.platform.id_lists.run_built``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from fidela.platform.db import Database
from fidela.platform.id_lists import AnySelect, _compile, one_of_param, run_built
from fidela.platform.packed_arrays import PackedArray
from fidela.platform.types import UTCDateTime

PROBE = Table(
    "id_list_probe",
    MetaData(),
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(20)),
    Column("at", UTCDateTime),
)
T0 = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


def _since_statement(dialect: str) -> AnySelect:
    return (
        select(PROBE.c.id, PROBE.c.kind, PROBE.c.at)
        .where(
            one_of_param(dialect, PROBE.c.id, "ids"),
            PROBE.c.at > bindparam("since", type_=UTCDateTime()),
        )
        .order_by(PROBE.c.id)
    )


def _expanding_statement(dialect: str) -> AnySelect:
    return select(PROBE.c.id).where(PROBE.c.kind.in_(("a", "b")))


@pytest.fixture
def session(database: Database) -> Iterator[Session]:
    with database.write() as session:
        PROBE.create(session.connection())
        session.execute(
            PROBE.insert(),
            [{"id": n, "kind": f"k{n}", "at": T0 + timedelta(hours=n)} for n in range(1, 6)],
        )
        yield session


def test_rows_come_back_as_core_reads_them_by_position_and_by_name(session: Session) -> None:
    # Given in another offset: the parameter is converted to UTC as Core converts it.
    since = (T0 + timedelta(hours=1)).astimezone(timezone(timedelta(hours=5)))
    params = {"ids": [1, 2, 4, 5, 99], "since": since}
    rows = run_built(session, _since_statement, params)
    dialect = session.get_bind().dialect.name
    expected = session.connection().execute(_since_statement(dialect), params).all()
    assert [tuple(row) for row in rows] == [tuple(row) for row in expected]
    assert [row.id for row in rows] == [2, 4, 5]
    assert [row[1] for row in rows] == ["k2", "k4", "k5"]
    # Instants are tagged UTC, as the column type reads them.
    assert all(row.at.utcoffset() == timedelta(0) for row in rows)
    assert rows[0].at == T0 + timedelta(hours=2)


def test_a_naive_instant_is_refused_as_the_column_type_refuses_it(session: Session) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        run_built(session, _since_statement, {"ids": [1], "since": T0.replace(tzinfo=None)})


def test_rows_added_in_the_session_are_seen(session: Session) -> None:
    session.execute(PROBE.insert(), [{"id": 7, "kind": "k7", "at": T0 + timedelta(days=1)}])
    rows = run_built(session, _since_statement, {"ids": [7], "since": T0})
    assert [row.kind for row in rows] == ["k7"]


def test_an_expanding_in_list_is_refused_where_the_text_is_kept(session: Session) -> None:
    if session.get_bind().dialect.name != "postgresql":
        # SQLite runs the statement through Core, which renders the list each time.
        assert [row.id for row in run_built(session, _expanding_statement, {})] == []
        return
    with pytest.raises(ValueError, match="expanding IN"):
        run_built(session, _expanding_statement, {})


def test_id_arrays_reach_the_driver_packed_and_answer_as_lists_did(session: Session) -> None:
    # psycopg's adaptation of a plain list cost two to five times the CPU of the packed
    # array (``platform.packed_arrays``); the answers must not change with it.
    dialect = session.get_bind().dialect
    for ids, expected in (([], []), ([3], [3]), ([5, 1, 3, 99], [1, 3, 5])):
        rows = run_built(session, _since_statement, {"ids": ids, "since": T0})
        assert [row.id for row in rows] == expected
    if dialect.name != "postgresql":
        return  # SQLite runs the statement through Core, with an expanding IN
    compiled = _compile(_since_statement(dialect.name), dialect)
    params = compiled.params({"ids": [1, 2], "since": T0})
    assert isinstance(params["ids"], PackedArray)
    # Beyond BIGINT the list goes to psycopg as before, which reports it as it always did.
    assert compiled.params({"ids": [2**70], "since": T0})["ids"] == [2**70]
