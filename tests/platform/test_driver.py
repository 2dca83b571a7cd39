"""Statements on psycopg's own cursor behave as SQLAlchemy's would: same transaction, same
errors, and a lost connection is never lent again."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError, ProgrammingError

from fidela.platform import driver
from fidela.platform.db import Database, sqlstate_of


def _postgres_only(database: Database) -> None:
    if database.dialect != "postgresql":
        pytest.skip("the driver path is PostgreSQL's (SQLite goes through SQLAlchemy Core)")


def test_rows_come_back_as_tuples_and_the_statement_sees_the_sessions_writes(
    database: Database,
) -> None:
    _postgres_only(database)
    with database.write() as session:
        session.execute(text("CREATE TEMP TABLE driver_probe (id int PRIMARY KEY, note text)"))
        session.execute(text("INSERT INTO driver_probe VALUES (1, 'one')"))
        assert driver.run(session, "INSERT INTO driver_probe VALUES (%s, %s)", (2, "two")) == []
        rows = driver.run(
            session, "SELECT id, note FROM driver_probe WHERE id = ANY(%s) ORDER BY id", ([1, 2],)
        )
        assert rows == [(1, "one"), (2, "two")]


def test_a_driver_error_is_raised_as_sqlalchemys_with_its_sqlstate(database: Database) -> None:
    _postgres_only(database)
    with database.write() as session:
        session.execute(text("CREATE TEMP TABLE driver_probe (id int PRIMARY KEY)"))
        driver.run(session, "INSERT INTO driver_probe VALUES (%s)", (1,))
        with pytest.raises(IntegrityError) as conflict, session.begin_nested():
            driver.run(session, "INSERT INTO driver_probe VALUES (%s)", (1,))
        assert sqlstate_of(conflict.value) == "23505"
        with pytest.raises(ProgrammingError), session.begin_nested():
            driver.run(session, "SELEC 1", ())
        # The savepoints took the failures: the transaction goes on.
        assert driver.run(session, "SELECT count(*) FROM driver_probe", ()) == [(1,)]


def test_a_connection_lost_mid_transaction_is_invalidated(committed_database: Database) -> None:
    _postgres_only(committed_database)
    held: list[int] = []

    def killed_under_a_statement() -> None:
        with committed_database.write() as session:
            held.append(session.execute(text("SELECT pg_backend_pid()")).scalar_one())
            with committed_database.write() as admin:
                admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": held[0]})
            driver.run(session, "SELECT 1", ())

    with pytest.raises(DBAPIError) as raised:
        killed_under_a_statement()
    assert raised.value.connection_invalidated
    with committed_database.read() as session:
        # A fresh connection: the dead one was not lent again.
        assert session.execute(text("SELECT pg_backend_pid()")).scalar_one() != held[0]
