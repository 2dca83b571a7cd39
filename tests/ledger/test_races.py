"""Real races on PostgreSQL: many threads, each its own transaction on its own connection,
then conservation is asserted. SQLite serialises every writer at BEGIN IMMEDIATE, so the same
runs there would prove nothing about the row locks."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from fidela.ledger import service
from fidela.ledger.models import LedgerAllocation, LedgerEntry
from fidela.ledger.rules import InsufficientPoints
from fidela.platform.db import Database
from tests.conftest import T0
from tests.ledger.builders import PROGRAMME, cached, new_customer


@pytest.fixture(autouse=True)
def _postgresql_only(committed_database: Database) -> None:
    if committed_database.dialect != "postgresql":
        pytest.skip("row-lock races need PostgreSQL (SQLite serialises writers at BEGIN)")


def _member(database: Database) -> int:
    with database.write() as session:
        return new_customer(session, T0)


def _all_at_once(threads: int, work: Callable[[int], object], jobs: int) -> list[object]:
    """Run ``work(0..jobs-1)`` on ``threads`` threads released together."""
    start = threading.Barrier(min(threads, jobs))

    def run(index: int) -> object:
        if index < threads:
            start.wait(timeout=30)
        return work(index)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(run, range(jobs)))


def test_fifty_concurrent_redemptions_against_ten_covered_never_overdraw(
    committed_database: Database,
) -> None:
    database = committed_database
    member = _member(database)
    with database.write() as session:
        service.earn_points(
            session, customer_id=member, programme=PROGRAMME, points=30, now=T0, key="a"
        )
        service.earn_points(
            session, customer_id=member, programme=PROGRAMME, points=70, now=T0, key="b"
        )

    def redeem(index: int) -> bool:
        try:
            with database.write() as session:
                service.spend_points(
                    session,
                    customer_id=member,
                    programme=PROGRAMME,
                    points=10,
                    now=T0,
                    ref=f"redemption-{index}",
                )
        except InsufficientPoints:
            return False
        return True

    outcomes = _all_at_once(50, redeem, 50)

    assert outcomes.count(True) == 10
    assert outcomes.count(False) == 40
    with database.read() as session:
        assert cached(session, member) == (0, 0)
        assert session.scalar(select(func.sum(LedgerAllocation.points))) == 100
        spends = select(func.count()).where(LedgerEntry.kind == "spend")
        assert session.scalar(spends) == 10
        assert service.verify(session) == []


def test_a_thousand_concurrent_earns_from_twenty_threads_sum_exactly(
    committed_database: Database,
) -> None:
    database = committed_database
    member = _member(database)

    def earn(index: int) -> int:
        points = index % 7 + 1
        with database.write() as session:
            service.earn_points(
                session,
                customer_id=member,
                programme=PROGRAMME,
                points=points,
                now=T0,
                key=f"order-{index}",
            )
        return points

    earned = _all_at_once(20, earn, 1_000)

    expected = sum(index % 7 + 1 for index in range(1_000))
    assert sum(int(points) for points in earned) == expected  # type: ignore[call-overload]
    with database.read() as session:
        assert cached(session, member) == (expected, 0)
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 1_000
        assert service.verify(session) == []


def test_the_same_earn_replayed_concurrently_under_new_request_ids_posts_once(
    committed_database: Database,
) -> None:
    database = committed_database
    member = _member(database)

    def replay(_index: int) -> bool:
        # Each call is a new request; the posting key is the order's, so it is the same.
        with database.write() as session:
            return service.earn_points(
                session,
                customer_id=member,
                programme=PROGRAMME,
                points=25,
                now=T0,
                key="order:A-1001",
            ).replayed

    replayed = _all_at_once(20, replay, 20)

    assert replayed.count(False) == 1
    with database.read() as session:
        assert cached(session, member) == (25, 0)
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 1
        assert service.verify(session) == []
