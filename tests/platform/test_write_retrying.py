"""A write unit of work that runs again when PostgreSQL breaks a deadlock by rolling it back:
what the ingestion shells (batch endpoint, grouped single events, imports) rely on when two
writers lock the same members in different orders."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from fidela.platform.db import Database, is_retryable
from fidela.platform.outbox import service as outbox
from fidela.platform.outbox.models import OutboxMessage

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


class _Driver(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def _failure(sqlstate: str) -> DBAPIError:
    return DBAPIError("UPDATE ...", {}, _Driver(sqlstate))


def test_only_deadlocks_and_serialisation_failures_are_retryable() -> None:
    assert is_retryable(_failure("40P01"))
    assert is_retryable(_failure("40001"))
    assert not is_retryable(_failure("23505"))  # a unique violation is a real answer
    assert not is_retryable(ValueError("40P01"))


def test_a_rolled_back_deadlock_victim_runs_again_until_it_commits(database: Database) -> None:
    calls: list[int] = []
    pauses: list[float] = []

    def operation(session: Session) -> str:
        calls.append(len(calls) + 1)
        if len(calls) < 3:
            raise _failure("40P01")
        return "done"

    assert database.write_retrying(operation, pause=pauses.append) == "done"
    assert calls == [1, 2, 3]
    assert len(pauses) == 2
    assert all(0 < p < 0.2 for p in pauses)


def test_other_errors_and_the_last_attempt_are_raised(database: Database) -> None:
    calls: list[int] = []

    def unique_violation(session: Session) -> None:
        calls.append(1)
        raise _failure("23505")

    with pytest.raises(DBAPIError):
        database.write_retrying(unique_violation, pause=lambda _: None)
    assert len(calls) == 1

    calls.clear()

    def always_deadlocked(session: Session) -> None:
        calls.append(1)
        raise _failure("40P01")

    with pytest.raises(DBAPIError):
        database.write_retrying(always_deadlocked, attempts=3, pause=lambda _: None)
    assert len(calls) == 3


def test_two_writers_locking_in_opposite_orders_both_commit_on_postgresql(
    committed_database: Database,
) -> None:
    if committed_database.dialect != "postgresql":
        pytest.skip("SQLite serialises writers at BEGIN: no deadlock to break")
    with committed_database.write() as session:
        ids = [
            outbox.enqueue_message(session, topic="t", key=f"row-{n}", payload={}, now=NOW).id
            for n in range(2)
        ]
    met = threading.Barrier(2, timeout=10)
    attempts: list[str] = []

    def writer(name: str, order: list[int]) -> str:
        def operation(session: Session) -> str:
            first_attempt = name not in attempts
            attempts.append(name)
            for position, row in enumerate(order):
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == row)
                    .values(attempts=OutboxMessage.attempts + 1)
                )
                if position == 0 and first_attempt:
                    met.wait()  # both hold their first row: each now waits for the other's
            return name

        return committed_database.write_retrying(operation)

    with ThreadPoolExecutor(2) as pool:
        done = sorted(
            pool.map(lambda args: writer(*args), [("a", ids), ("b", list(reversed(ids)))])
        )
    assert done == ["a", "b"]
    assert len(attempts) == 3  # PostgreSQL rolled one of them back once
    with committed_database.read() as session:
        counts = session.scalars(select(OutboxMessage.attempts).where(OutboxMessage.id.in_(ids)))
        # Each row was incremented once per committed writer: the victim's first try left
        # nothing behind.
        assert sorted(counts) == [2, 2]
