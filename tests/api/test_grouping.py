"""Concurrent single-event requests share a transaction and keep their own answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy.orm import Session

from fidela.api.grouping import EventGrouper, gather_limit
from fidela.event.schemas import EventIn, EventResult
from fidela.kernel.errors import DomainError
from fidela.platform.db import Database
from tests.conftest import Clock
from tests.customer.fixtures import WIRING
from tests.event.builders import order


class CountingDatabase(Database):
    """The test database, counting the write transactions opened."""

    def __init__(self, inner: Database) -> None:
        self.inner = inner
        self.writes = 0

    @contextmanager
    def write(self) -> Iterator[Session]:
        self.writes += 1
        with self.inner.write() as session:
            yield session


async def send_all(grouper: EventGrouper, bodies: list[dict[str, Any]]) -> list[Any]:
    return await asyncio.gather(
        *(grouper.ingest(EventIn.model_validate(body), f"r-{n}") for n, body in enumerate(bodies)),
        return_exceptions=True,
    )


@pytest.mark.parametrize("inline", [False, True])
def test_concurrent_requests_commit_in_few_transactions_with_their_own_results(
    database: Database, clock: Clock, inline: bool
) -> None:
    counting = CountingDatabase(database)
    grouper = EventGrouper(counting, WIRING, clock, inline=inline)
    bodies = [order(f"T-{n}", clock(), customer={"email": f"c{n}@example.com"}) for n in range(40)]
    results = asyncio.run(send_all(grouper, bodies))
    assert all(isinstance(result, EventResult) for result in results)
    assert [result.external_id for result in results] == [f"T-{n}" for n in range(40)]
    assert len({result.customer_id for result in results}) == 40
    # All 40 arrived before the first transaction started: they share it.
    assert counting.writes == 1


@pytest.mark.parametrize("inline", [False, True])
def test_a_rejected_event_is_answered_with_its_own_error_only(
    database: Database, clock: Clock, inline: bool
) -> None:
    grouper = EventGrouper(database, WIRING, clock, inline=inline)
    bad = order("T-bad", clock(), customer={"email": "a@example.com"}, total_minor=1)
    good = [order(f"T-{n}", clock(), customer={"email": "a@example.com"}) for n in range(3)]
    results = asyncio.run(send_all(grouper, [good[0], bad, good[1], good[2]]))
    assert isinstance(results[1], DomainError)
    assert [p.pointer for p in results[1].problems] == ["/data/total_minor"]
    assert [type(r) for r in (results[0], results[2], results[3])] == [EventResult] * 3
    assert results[2].customer_id == results[0].customer_id


def test_group_size_is_bounded(database: Database, clock: Clock) -> None:
    counting = CountingDatabase(database)
    grouper = EventGrouper(counting, WIRING, clock, max_group=5)
    bodies = [order(f"T-{n}", clock(), customer={"card": "2900001234567"}) for n in range(21)]
    results = asyncio.run(send_all(grouper, bodies))
    assert all(isinstance(result, EventResult) for result in results)
    # 21 waiting, taken in groups of at most 5.
    assert counting.writes == 5


@pytest.mark.parametrize("replays", [1, 3])
def test_replays_in_one_group_get_the_first_result(
    database: Database, clock: Clock, replays: int
) -> None:
    grouper = EventGrouper(database, WIRING, clock)
    body = order("T-1", clock(), customer={"email": "a@example.com"})
    results = asyncio.run(send_all(grouper, [body] * (replays + 1)))
    assert results[0].replayed is False
    for replay in results[1:]:
        assert replay.model_dump() == {**results[0].model_dump(), "replayed": True}


async def closed_loop(grouper: EventGrouper, clients: int, rounds: int, at: Any) -> list[Any]:
    """``clients`` senders, each sending its next event a moment (n ms, as over a network)
    after the last one is answered."""

    async def client(n: int) -> list[Any]:
        answers = []
        for r in range(rounds):
            body = order(f"C{n}-{r}", at, customer={"email": f"c{n}@example.com"})
            answers.append(await grouper.ingest(EventIn.model_validate(body), None))
            await asyncio.sleep(0.001 * n)
        return answers

    answers = await asyncio.gather(*(client(n) for n in range(clients)))
    return [answer for answers_of_one in answers for answer in answers_of_one]


def test_clients_answered_together_are_waited_for_and_share_the_next_transaction(
    database: Database, clock: Clock
) -> None:
    counting = CountingDatabase(database)
    # A long wait limit: the test never depends on timing, only on who is awaited.
    grouper = EventGrouper(counting, WIRING, clock, gather_seconds=30, inline=True)
    results = asyncio.run(closed_loop(grouper, clients=6, rounds=4, at=clock()))
    assert all(isinstance(result, EventResult) for result in results)
    # One transaction per round: without the wait the first client to send again would
    # start a transaction of its own, and the others would share the one after.
    assert counting.writes == 4


def test_a_lone_client_is_never_made_to_wait(database: Database, clock: Clock) -> None:
    counting = CountingDatabase(database)
    grouper = EventGrouper(counting, WIRING, clock, gather_seconds=30)

    async def timed() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await closed_loop(grouper, clients=1, rounds=3, at=clock())
        return loop.time() - started

    # Each group awaits as many events as the last one held (one), which is already there.
    assert asyncio.run(timed()) < 20
    assert counting.writes == 3


@pytest.mark.parametrize(
    ("last_run", "limit"), [(0.0, 0.002), (0.005, 0.005), (0.5, 0.02), (0.001, 0.002)]
)
def test_the_next_group_waits_as_long_as_the_last_ran_within_bounds(
    last_run: float, limit: float
) -> None:
    assert gather_limit(last_run, floor=0.002, ceiling=0.02) == limit


def test_a_floor_above_the_ceiling_wins() -> None:
    assert gather_limit(0.5, floor=0.03, ceiling=0.02) == 0.03


class SlowDatabase(CountingDatabase):
    """Each transaction takes ``seconds`` longer, as a loaded machine's would."""

    def __init__(self, inner: Database, seconds: float) -> None:
        super().__init__(inner)
        self.seconds = seconds

    @contextmanager
    def write(self) -> Iterator[Session]:
        time.sleep(self.seconds)
        with super().write() as session:
            yield session


async def steady_stream(grouper: EventGrouper, count: int, every: float, at: Any) -> list[Any]:
    """``count`` events sent one every ``every`` seconds, whatever the answers (an open
    loop: orders arriving from a shop)."""
    sent = []
    for n in range(count):
        body = order(f"S-{n}", at, customer={"email": f"s{n % 7}@example.com"})
        sent.append(asyncio.ensure_future(grouper.ingest(EventIn.model_validate(body), None)))
        await asyncio.sleep(every)
    return await asyncio.gather(*sent)


def test_a_steady_stream_is_gathered_into_fewer_bigger_groups_when_groups_run_long(
    database: Database, clock: Clock
) -> None:
    def transactions(ceiling: float) -> int:
        slow = SlowDatabase(database, seconds=0.03)
        grouper = EventGrouper(
            slow, WIRING, clock, gather_seconds=0, gather_max_seconds=ceiling, inline=False
        )
        results = asyncio.run(steady_stream(grouper, count=300, every=0.0015, at=clock()))
        assert all(isinstance(result, EventResult) for result in results)
        return slow.writes

    # Without waiting, each group takes what arrived while the last one ran; waiting as
    # long as it ran doubles that (about 20 and 40 events a group here).
    fixed = transactions(ceiling=0)
    adaptive = transactions(ceiling=1.0)
    assert adaptive < 0.8 * fixed
