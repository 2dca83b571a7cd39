"""The job runner.

One loop: enqueue due periodic tasks, lease a batch of due messages in a short transaction,
run each handler after that commit (outside any transaction, so a slow SMTP server never
holds a database lock), then record the outcome in its own short transaction. A worker that
dies mid-batch leaves leases that lapse; another worker, or this one restarted, takes the
messages again, and handlers are idempotent on the message key.

The same runner serves PostgreSQL (several worker processes, ``FOR UPDATE SKIP LOCKED``) and
SQLite (one in-process thread next to the API server).
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from fidela.kernel.clock import utc_now
from fidela.kernel.ids import random_token
from fidela.platform.db import Database
from fidela.platform.logging import get_logger
from fidela.platform.metrics import OUTBOX_PROCESSED
from fidela.platform.outbox import service as outbox
from fidela.platform.outbox.registry import JobContext, JobRegistry, PermanentFailure
from fidela.platform.outbox.rules import MessageStatus, UnknownTopic, is_expired, periodic_slot

log = get_logger(__name__)

PERIODIC_EPOCH = datetime(2000, 1, 3, tzinfo=UTC)  # a Monday, so weekly slots start on Mondays
PERIODIC_PREFIX = "periodic:"


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{random_token(4)}"


@dataclass
class RunStats:
    claimed: int = 0
    done: int = 0
    retried: int = 0
    dead: int = 0
    lost: int = 0  # lease taken over by another worker before we finished
    skipped: int = 0  # periodic slots that ended before a worker reached them

    def add(self, other: RunStats) -> None:
        self.claimed += other.claimed
        self.done += other.done
        self.retried += other.retried
        self.dead += other.dead
        self.lost += other.lost
        self.skipped += other.skipped


@dataclass
class Worker:
    database: Database
    registry: JobRegistry
    worker_id: str = field(default_factory=default_worker_id)
    batch_size: int = 50
    lease: timedelta = timedelta(minutes=5)
    clock: Callable[[], datetime] = utc_now
    _last_slots: dict[str, datetime] = field(default_factory=dict)

    def schedule_periodic(self, now: datetime) -> int:
        """Enqueue every periodic task whose current slot has not been enqueued yet."""
        created = 0
        for task in self.registry.periodic:
            slot = periodic_slot(now, task.every, PERIODIC_EPOCH)
            if self._last_slots.get(task.name) == slot:
                continue
            with self.database.write() as session:
                result = outbox.enqueue_message(
                    session,
                    topic=task.topic,
                    key=f"{PERIODIC_PREFIX}{task.name}:{slot.isoformat()}",
                    payload={**task.payload, "slot": slot.isoformat()},
                    now=now,
                    expires_at=slot + task.every,
                )
            created += int(result.created)
            self._last_slots[task.name] = slot
        return created

    def run_once(self) -> RunStats:
        """Schedule, lease one batch and process it. Returns what happened."""
        now = self.clock()
        self.schedule_periodic(now)
        with self.database.write() as session:
            batch = outbox.claim_messages(
                session, worker_id=self.worker_id, now=now, lease=self.lease, limit=self.batch_size
            )
        stats = RunStats(claimed=len(batch))
        for message in batch:
            stats.add(self._process(message))
        return stats

    def _process(self, message: outbox.ClaimedMessage) -> RunStats:
        started = self.clock()
        error: str | None = None
        retryable = True
        if is_expired(message.expires_at, started) and message.key.startswith(PERIODIC_PREFIX):
            # The next slot's message does this work: a late slot is superseded, not a dead
            # letter an operator would have to look at (a busy worker reaches one-minute
            # slots late routinely).
            with self.database.write() as session:
                kept = outbox.complete_message(
                    session, message_id=message.id, worker_id=self.worker_id, now=started
                )
            log.info("periodic_slot_skipped", topic=message.topic, key=message.key)
            return RunStats(skipped=int(kept), lost=int(not kept))
        if is_expired(message.expires_at, started):
            error, retryable = "expired before delivery", False
        else:
            try:
                spec = self.registry.spec(message.topic)
                spec.handler(
                    JobContext(
                        message_id=message.id,
                        topic=message.topic,
                        key=message.key,
                        attempt=message.attempt,
                        now=started,
                        database=self.database,
                    ),
                    message.payload,
                )
            except (PermanentFailure, UnknownTopic) as exc:
                error, retryable = f"{type(exc).__name__}: {exc}", False
            except Exception as exc:  # any handler failure is recorded and retried
                error = f"{type(exc).__name__}: {exc}"
                log.warning("job_failed", topic=message.topic, id=message.id, error=error)
        finished = self.clock()
        with self.database.write() as session:
            if error is None:
                kept = outbox.complete_message(
                    session, message_id=message.id, worker_id=self.worker_id, now=finished
                )
                outcome = MessageStatus.DONE if kept else None
            else:
                outcome = outbox.fail_message(
                    session,
                    message=message,
                    worker_id=self.worker_id,
                    now=finished,
                    error=error,
                    retryable=retryable,
                )
        label = (
            "lost"
            if outcome is None
            else ("retried" if outcome is MessageStatus.PENDING else outcome.value)
        )
        OUTBOX_PROCESSED.labels(topic=message.topic, outcome=label).inc()
        return RunStats(
            done=int(outcome is MessageStatus.DONE),
            retried=int(outcome is MessageStatus.PENDING),
            dead=int(outcome is MessageStatus.DEAD),
            lost=int(outcome is None),
        )

    def run_until_idle(self, max_batches: int = 1_000_000) -> RunStats:
        """Process batches until nothing is due (used by ``fidela worker --once`` and tests)."""
        total = RunStats()
        for _ in range(max_batches):
            stats = self.run_once()
            total.add(stats)
            if stats.claimed == 0:
                break
        return total

    def run_forever(self, stop: threading.Event, poll_seconds: float) -> None:
        log.info("worker_started", worker_id=self.worker_id, topics=self.registry.topics)
        while not stop.is_set():
            try:
                stats = self.run_once()
            except Exception:  # the database may be briefly unavailable: keep the loop alive
                log.exception("worker_loop_error")
                stop.wait(min(poll_seconds * 10, 10))
                continue
            if stats.claimed < self.batch_size:
                stop.wait(poll_seconds)
        log.info("worker_stopped", worker_id=self.worker_id)


def start_in_thread(
    worker: Worker, poll_seconds: float
) -> tuple[threading.Thread, threading.Event]:
    """Run a worker next to the API server (the SQLite deployment: one process)."""
    stop = threading.Event()
    thread = threading.Thread(
        target=worker.run_forever, args=(stop, poll_seconds), name="fidela-worker", daemon=True
    )
    thread.start()
    return thread, stop
