"""Two transactions ingesting overlapping events at once, on PostgreSQL (SQLite serialises
writers at BEGIN). The second looks its keys up while the first has not committed yet, so it
meets the first's rows only at its claim or its new identities: it must then answer replays
and match the identities, never fail or duplicate."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from fidela.customer.models import Customer, CustomerIdentity
from fidela.event import service as events
from fidela.event.models import Event
from fidela.platform.db import Database
from tests.conftest import T0
from tests.customer.fixtures import context
from tests.event.builders import order


def _orders(prefix: str, customers: int) -> list[dict[str, Any]]:
    return [
        order(f"{prefix}-{n}", T0, customer={"email": f"new{n % customers}@example.com"})
        for n in range(40)
    ]


def _overlapping(
    database: Database, first: list[dict[str, Any]], second: list[dict[str, Any]]
) -> tuple[list[Any], list[Any]]:
    """Ingest ``first`` in a transaction kept open until ``second`` (another thread) has
    started and had time to look its keys up; both answers."""
    first_ingested, second_started = threading.Event(), threading.Event()
    answers: dict[str, list[Any]] = {}
    errors: list[BaseException] = []

    def run_first() -> None:
        try:
            with database.write() as session:
                answers["first"] = events.ingest_batch(
                    session, events=first, context=context(T0, "first")
                )
                first_ingested.set()
                second_started.wait(10)
                time.sleep(0.5)  # the second is now blocked on our uncommitted rows
        except BaseException as error:  # reported by the test thread
            errors.append(error)
            first_ingested.set()

    def run_second() -> None:
        first_ingested.wait(10)
        second_started.set()
        try:
            answers["second"] = database.write_retrying(
                lambda session: events.ingest_batch(
                    session, events=second, context=context(T0, "second")
                )
            )
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run_first), threading.Thread(target=run_second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return answers["first"], answers["second"]


def _count(database: Database, what: Any) -> int:
    with database.read() as session:
        return int(session.execute(select(func.count()).select_from(what)).scalar_one())


@pytest.fixture
def postgresql(committed_database: Database) -> Database:
    if committed_database.dialect != "postgresql":
        pytest.skip("SQLite serialises writers at BEGIN: no overlap to meet")
    return committed_database


def test_a_batch_sent_twice_at_once_is_ingested_once_and_replayed(postgresql: Database) -> None:
    batch = _orders("T", customers=10)
    first, second = _overlapping(postgresql, batch, batch)
    assert {item.status for item in first} == {"accepted"}
    assert {item.status for item in second} == {"duplicate"}
    assert [i.result.event_id for i in second] == [i.result.event_id for i in first]
    assert [i.result.customer_id for i in second] == [i.result.customer_id for i in first]
    assert _count(postgresql, Event) == 40
    assert _count(postgresql, Customer) == 10
    assert _count(postgresql, CustomerIdentity) == 10


def test_concurrent_batches_naming_the_same_new_customers_share_them(
    postgresql: Database,
) -> None:
    first, second = _overlapping(postgresql, _orders("A", customers=10), _orders("B", 10))
    assert {item.status for item in first + second} == {"accepted"}
    owners = {item.result.customer_id for item in first}
    assert {item.result.customer_id for item in second} == owners
    assert sum(item.result.customer_created for item in first + second) == 10
    assert _count(postgresql, Event) == 80
    assert _count(postgresql, Customer) == 10
