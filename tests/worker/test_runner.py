from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from fidela.platform.db import Database
from fidela.platform.outbox import service as outbox
from fidela.platform.outbox.registry import JobContext, JobRegistry, PeriodicTask, PermanentFailure
from fidela.platform.outbox.rules import OutboxMessageNotDead, RetryPolicy
from fidela.worker.runner import Worker
from tests.conftest import Clock

FAST_RETRY = RetryPolicy(max_attempts=3, base=timedelta(seconds=10), factor=2)


class Recorder:
    """A handler that records what it was given and fails on demand."""

    def __init__(self, failures: int = 0, permanent: bool = False) -> None:
        self.calls: list[tuple[str, int, dict[str, Any]]] = []
        self.failures = failures
        self.permanent = permanent

    def __call__(self, context: JobContext, payload: dict[str, Any]) -> None:
        self.calls.append((context.key, context.attempt, payload))
        if self.permanent:
            raise PermanentFailure("address rejected")
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("provider timed out")


def make_worker(database: Database, clock: Clock, recorder: Recorder, name: str = "w1") -> Worker:
    registry = JobRegistry()
    registry.add_handler("test.send", recorder, retry=FAST_RETRY)
    return Worker(
        database=database,
        registry=registry,
        worker_id=name,
        clock=clock,
        lease=timedelta(minutes=1),
    )


def enqueue(database: Database, clock: Clock, key: str, **extra: Any) -> outbox.Enqueued:
    with database.write() as session:
        return outbox.enqueue_message(
            session,
            topic=extra.pop("topic", "test.send"),
            key=key,
            payload={"to": key},
            now=clock(),
            **extra,
        )


def counts(database: Database) -> dict[str, int]:
    with database.read() as session:
        return outbox.outbox_counts(session)


def test_enqueueing_the_same_key_twice_creates_one_message(
    database: Database, clock: Clock
) -> None:
    first = enqueue(database, clock, "order-1:email")
    second = enqueue(database, clock, "order-1:email")
    assert first.created
    assert not second.created
    assert first.id == second.id
    assert counts(database)["pending"] == 1


def test_worker_delivers_each_message_once_with_its_key_and_payload(
    database: Database, clock: Clock
) -> None:
    recorder = Recorder()
    for n in range(3):
        enqueue(database, clock, f"m{n}")
    stats = make_worker(database, clock, recorder).run_until_idle()
    assert stats.done == 3
    assert sorted(call[0] for call in recorder.calls) == ["m0", "m1", "m2"]
    assert recorder.calls[0][2] == {"to": recorder.calls[0][0]}
    assert counts(database)["done"] == 3


def test_failed_delivery_is_retried_after_backoff_then_succeeds(
    database: Database, clock: Clock
) -> None:
    recorder = Recorder(failures=1)
    worker = make_worker(database, clock, recorder)
    enqueue(database, clock, "m")
    assert worker.run_until_idle().retried == 1
    assert worker.run_until_idle().claimed == 0  # not due yet: back-off
    clock.now += timedelta(seconds=13)
    assert worker.run_until_idle().done == 1
    assert [call[1] for call in recorder.calls] == [1, 2]  # attempt numbers


def test_message_is_dead_lettered_after_max_attempts_and_can_be_retried_by_hand(
    database: Database, clock: Clock
) -> None:
    recorder = Recorder(failures=10)
    worker = make_worker(database, clock, recorder)
    created = enqueue(database, clock, "m", max_attempts=3)
    for _ in range(3):
        worker.run_until_idle()
        clock.now += timedelta(hours=1)
    assert counts(database)["dead"] == 1
    assert len(recorder.calls) == 3
    with database.read() as session:
        [dead] = outbox.list_outbox(session, status=None)
        assert dead.last_error is not None
        assert "ConnectionError" in dead.last_error
    recorder.failures = 0
    with database.write() as session:
        outbox.retry_dead_message(session, message_id=created.id, now=clock())
    assert worker.run_until_idle().done == 1


def test_only_dead_messages_can_be_retried_by_hand(database: Database, clock: Clock) -> None:
    created = enqueue(database, clock, "m")
    with pytest.raises(OutboxMessageNotDead), database.write() as session:
        outbox.retry_dead_message(session, message_id=created.id, now=clock())


def test_permanent_failure_and_unknown_topic_are_dead_at_once(
    database: Database, clock: Clock
) -> None:
    recorder = Recorder(permanent=True)
    enqueue(database, clock, "bad-address")
    enqueue(database, clock, "orphan", topic="nobody.handles.this")
    stats = make_worker(database, clock, recorder).run_until_idle()
    assert stats.dead == 2
    assert len(recorder.calls) == 1


def test_expired_message_is_never_delivered(database: Database, clock: Clock) -> None:
    recorder = Recorder()
    enqueue(database, clock, "sms-tomorrow", expires_at=clock() + timedelta(hours=2))
    clock.now += timedelta(hours=3)
    assert make_worker(database, clock, recorder).run_until_idle().dead == 1
    assert recorder.calls == []


def test_message_of_a_crashed_worker_is_taken_over_when_its_lease_lapses(
    database: Database, clock: Clock
) -> None:
    recorder = Recorder()
    enqueue(database, clock, "m")
    with database.write() as session:  # worker "crashed" holds the lease and dies
        [claimed] = outbox.claim_messages(
            session, worker_id="crashed", now=clock(), lease=timedelta(minutes=1), limit=10
        )
    survivor = make_worker(database, clock, recorder, name="survivor")
    assert survivor.run_until_idle().claimed == 0  # lease still valid
    clock.now += timedelta(minutes=2)
    assert survivor.run_until_idle().done == 1
    with database.write() as session:  # the crashed worker's late report changes nothing
        assert not outbox.complete_message(
            session, message_id=claimed.id, worker_id="crashed", now=clock()
        )
    assert counts(database) == {"pending": 0, "running": 0, "done": 1, "dead": 0}


def test_periodic_task_is_enqueued_once_per_slot_whatever_the_number_of_workers(
    database: Database, clock: Clock
) -> None:
    recorder = Recorder()
    workers = [make_worker(database, clock, recorder, name=f"w{n}") for n in range(3)]
    for worker in workers:
        worker.registry.add_periodic(PeriodicTask("digest", "test.send", timedelta(hours=1)))
    for worker in workers:
        worker.run_until_idle()
    assert len(recorder.calls) == 1
    clock.now += timedelta(hours=1)
    for worker in workers:
        worker.run_until_idle()
    assert len(recorder.calls) == 2


def test_a_periodic_slot_reached_after_it_ended_is_skipped_not_dead_lettered(
    database: Database, clock: Clock
) -> None:
    recorder = Recorder()
    late = make_worker(database, clock, recorder, name="late")
    late.registry.add_periodic(PeriodicTask("tick", "test.send", timedelta(minutes=1)))
    late.schedule_periodic(clock())  # enqueued, then the worker is busy for two minutes
    clock.now += timedelta(minutes=2)
    stats = late.run_until_idle()
    # The stale slot is skipped (the current slot's message ran instead), nothing is dead.
    assert (stats.skipped, stats.dead, len(recorder.calls)) == (1, 0, 1)
    assert counts(database)["dead"] == 0


def test_concurrent_workers_never_deliver_a_message_twice(
    committed_database: Database, clock: Clock
) -> None:
    total = 300
    with committed_database.write() as session:
        for n in range(total):
            outbox.enqueue_message(session, topic="test.send", key=f"m{n}", payload={}, now=clock())
    seen: list[str] = []
    lock = threading.Lock()

    def handler(context: JobContext, _payload: dict[str, Any]) -> None:
        with lock:
            seen.append(context.key)

    def run(name: str) -> None:
        registry = JobRegistry()
        registry.add_handler("test.send", handler)
        Worker(
            database=committed_database,
            registry=registry,
            worker_id=name,
            clock=clock,
            batch_size=7,
        ).run_until_idle()

    threads = [threading.Thread(target=run, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == total
    assert len(set(seen)) == total
    assert counts(committed_database)["done"] == total


def test_a_claim_takes_lapsed_leases_first_then_due_messages_oldest_first_up_to_its_limit(
    database: Database, clock: Clock
) -> None:
    for key in ("old", "older"):
        enqueue(database, clock, key)
    with database.write() as session:  # a worker leases both, then dies
        outbox.claim_messages(
            session, worker_id="crashed", now=clock(), lease=timedelta(minutes=1), limit=10
        )
    for key in ("first", "second", "third"):
        clock.now += timedelta(seconds=10)
        enqueue(database, clock, key)
    clock.now += timedelta(minutes=2)  # the leases lapsed; the three new ones are due
    with database.write() as session:
        taken = outbox.claim_messages(
            session, worker_id="w", now=clock(), lease=timedelta(minutes=1), limit=4
        )
        keys = [message.key for message in taken]
    assert sorted(keys[:2]) == ["old", "older"]
    assert keys[2:] == ["first", "second"]
    with database.write() as session:
        rest = outbox.claim_messages(
            session, worker_id="w", now=clock(), lease=timedelta(minutes=1), limit=4
        )
        assert [message.key for message in rest] == ["third"]
