"""Group commit for single-event requests.

``POST /v1/events`` carries one event, but a transaction per event spends most of its time
on the commit and on per-statement round trips. Requests that arrive while a transaction is
running wait for the next one, which takes all of them (up to ``max_group``) through the
set-based ingestion path; each request is answered when the transaction holding its event
has committed. An idle server adds no delay: the first request starts a transaction at once.

Under load, the clients answered by one group send their next events a moment later, and a
group started at once would hold only the one or two that arrived first, paying a whole
transaction's fixed cost for them (with 8 clients, groups alternated between 1 and 7 events).
So before the next group the grouper waits until as many events are waiting as there were
senders during the last group (the events it held plus those that arrived meanwhile). A lone
client never waits: its next event is the one awaited.

How long it may wait (``gather_limit``) follows the load: as long as the last group ran, at
least ``gather_seconds`` (time for the clients just answered to send again) and at most
``gather_max_seconds``. Events arriving at a steady rate (an open loop: a shop's orders, not
clients waiting on their answers) never reach the target, so the wait is what sizes the
groups. With a fixed 2 ms, a process at half its capacity ran groups of one or two events
back to back, each paying the whole fixed cost of a transaction, and so used the CPU of a
process at full capacity: on a 2-core machine its requests queued behind one another (p99
95-118 ms at half of pgbench's rate). Waiting as long as the last group ran keeps a busy
process gathering about half of its time, so each group holds about twice the events that
arrive while one runs; a lightly loaded one runs short groups and waits little.

Each event keeps its own outcome: a rejected one is answered with its own problem and costs
the others nothing (``fidela.event.ingestion``). If the group's transaction fails as a whole
(a lost race on a unique identity with another process, say), every event of the group is
retried alone in its own transaction, so one event's trouble reaches only its own request.

With ``inline``, a group runs on the event loop's thread. The hand-off to a worker thread and
back (a queue, a thread switch, waking the loop) cost about a tenth of the server's CPU per
single event on PostgreSQL (0.47 against 0.43 ms in the bench), and it bought little: the
clients of a group are all waiting for it, and a process runs one group at a time anyway.
The price is that the process reads no other request while a group waits on PostgreSQL, as
a synchronous server's worker would; a group waiting on a row lock (a concurrent batch
earning for the same member) holds the others up until it gets it. SQLite keeps the worker
thread: a writer there may wait seconds for the database lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from starlette.concurrency import run_in_threadpool

from fidela.event import service
from fidela.event.schemas import EventIn, EventResult
from fidela.event.service import IngestContext
from fidela.kernel.errors import DomainError
from fidela.platform.db import Database
from fidela.wiring import Wiring

Outcome = EventResult | DomainError | BaseException


def gather_limit(last_run: float, floor: float, ceiling: float) -> float:
    """How long the next group may wait for events, in seconds: as long as the last group
    ran, at least ``floor``, at most ``ceiling`` (the floor wins if the two cross)."""
    return max(floor, min(ceiling, last_run))


@dataclass
class _Waiting:
    event: EventIn
    request_id: str | None
    future: asyncio.Future[EventResult]


@dataclass
class EventGrouper:
    database: Database
    wiring: Wiring
    clock: Callable[[], datetime]
    max_group: int = 500
    gather_seconds: float = 0.002
    gather_max_seconds: float = 0.020
    # Run each group on the event loop's own thread rather than handing it to a worker
    # thread (see the module's last paragraph).
    inline: bool = False
    _waiting: list[_Waiting] = field(default_factory=list)
    _running: bool = False
    _arrived: asyncio.Event | None = None

    async def ingest(self, event: EventIn, request_id: str | None) -> EventResult:
        """The event's result once its transaction committed; its domain error otherwise."""
        future: asyncio.Future[EventResult] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(event, request_id, future))
        if self._arrived is not None:
            self._arrived.set()
        if not self._running:
            self._running = True
            asyncio.create_task(self._drain())  # noqa: RUF006 - ends once no event comes
        return await future

    async def _drain(self) -> None:
        # Made here, in the loop that serves the requests (a test may run several loops).
        self._arrived = asyncio.Event()
        loop = asyncio.get_running_loop()
        target = 0
        ran = 0.0  # seconds the last group took
        try:
            while True:
                await self._gather(
                    target, gather_limit(ran, self.gather_seconds, self.gather_max_seconds)
                )
                if not self._waiting:
                    return
                group = self._waiting[: self.max_group]
                del self._waiting[: self.max_group]
                started = loop.time()
                try:
                    if self.inline:
                        outcomes = self._ingest_group(group)
                    else:
                        outcomes = await run_in_threadpool(self._ingest_group, group)
                except BaseException as exc:
                    outcomes = [exc] * len(group)
                ran = loop.time() - started
                # The clients about to be answered plus those that arrived meanwhile: about
                # as many as are sending now, so the next group waits for them.
                target = min(len(group) + len(self._waiting), self.max_group)
                for waiting, outcome in zip(group, outcomes, strict=True):
                    if waiting.future.done():  # the client went away
                        continue
                    if isinstance(outcome, BaseException):
                        waiting.future.set_exception(outcome)
                    else:
                        waiting.future.set_result(outcome)
        finally:
            self._running = False

    async def _gather(self, target: int, limit: float) -> None:
        """Wait, at most ``limit`` seconds, until ``target`` events are waiting."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        arrived = self._arrived
        while arrived is not None and len(self._waiting) < target:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            arrived.clear()
            try:
                await asyncio.wait_for(arrived.wait(), remaining)
            except TimeoutError:
                return

    def _context(self, request_ids: list[str | None]) -> IngestContext:
        return IngestContext(
            self.wiring.subscribers,
            self.wiring.policy,
            self.clock(),
            request_ids=request_ids,
        )

    def _ingest_group(self, group: list[_Waiting]) -> list[Outcome]:
        context = self._context([w.request_id for w in group])
        events = [w.event for w in group]
        try:
            try:
                # The transaction holds this group only: no savepoint (two round trips of
                # about fifteen) unless an event must be left out or a race was lost.
                return self.database.write_retrying(
                    lambda session: list(
                        service.ingest_many(session, events, context=context, isolated=False)
                    )
                )
            except service.NeedsIsolation:
                return self.database.write_retrying(
                    lambda session: list(service.ingest_many(session, events, context=context))
                )
        except Exception:
            if len(group) == 1:
                raise
        return [self._ingest_alone(waiting) for waiting in group]

    def _ingest_alone(self, waiting: _Waiting) -> Outcome:
        context = self._context([waiting.request_id])
        try:
            return self.database.write_retrying(
                lambda session: service.ingest_event(session, event=waiting.event, context=context)
            )
        except Exception as exc:
            return exc
