"""Importing with several processes: one Python process is one core at most.

Rows are dealt to the workers by a partition key (the customer a row is about), so every row
of one customer goes to the same worker and keeps its place in the file: a first order stays
the first, a profile update follows the creation. Each worker commits its rows in chunks, one
transaction per chunk, as a single process would; different customers are written in
parallel, which ingestion already handles (deadlocks retried, an identity or key committed
concurrently replays the round).

The workers are forked once the parent has loaded everything, before it opens a database
connection or starts the progress bar's thread, and each opens its own connections.
"""

from __future__ import annotations

import functools
import multiprocessing
import queue
import traceback
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

from sqlalchemy.orm import Session, configure_mappers

from fidela.cli import context
from fidela.cli.import_chunks import ChunkSpreader
from fidela.imports.service import ImportReport
from fidela.platform.db import Database
from fidela.platform.heap import collection_paused

# A unit is one row of the file, ready for its worker: (row number, what the row became).
Unit = tuple[int, Any]
Units = list[Unit]
Process = Callable[[Session, Units], ImportReport]
# Units with their partition key (the customer they are about; None when unknown).
Keyed = list[tuple[str | None, Unit]]

CHUNK_ROWS = 1_000
# Chunks waiting per worker: enough to keep it busy, few enough to bound memory.
QUEUE_DEPTH = 4


def partition_of(key: str | None, partitions: int) -> int:
    """The worker a key goes to: stable across runs (unlike ``hash``), spread evenly."""
    if not key:
        return 0
    return zlib.crc32(key.encode()) % partitions


@dataclass(frozen=True)
class _Done:
    report: ImportReport
    rows: int


@dataclass(frozen=True)
class _Failed:
    error: str


def apply_units(process: Process, units: Units, session: Session) -> ImportReport:
    """``process`` with its arguments in the order ``write_retrying`` partial calls need; the
    cyclic collector waits while a chunk is imported (see fidela.platform.heap)."""
    with collection_paused():
        return process(session, units)


def _work(process: Process, inbox: Any, outbox: Any) -> None:
    # A fresh engine: nothing of the parent's pool may be shared with a forked child.
    current = context.settings()
    database = Database.from_url(current.database_url, pool_size=1)
    try:
        while (chunk := inbox.get()) is not None:
            report = database.write_retrying(functools.partial(apply_units, process, chunk))
            outbox.put(_Done(report, len(chunk)))
    except BaseException:  # reported to the parent, which stops the import
        outbox.put(_Failed(traceback.format_exc()))
    finally:
        database.dispose()


class ImportFailed(RuntimeError):
    """A worker failed; what it committed stays (re-running the import changes nothing)."""


class Workers:
    """``jobs`` forked workers fed by partition; start before any thread or connection."""

    def __init__(self, process: Process, jobs: int, *, depth: int | None = None) -> None:
        self._depth = depth  # at most this many units of a key per chunk (ChunkSpreader)
        # SQLAlchemy configures the mappers on the first ORM query of a process: done here,
        # once, rather than by every worker (4.5 % of the workers' CPU importing 20,000
        # orders, session 22).
        configure_mappers()
        forking = multiprocessing.get_context("fork")
        self._inboxes = [forking.Queue(QUEUE_DEPTH) for _ in range(jobs)]
        self._outbox = forking.Queue()
        self._processes: list[BaseProcess] = [
            forking.Process(target=_work, args=(process, inbox, self._outbox), daemon=True)
            for inbox in self._inboxes
        ]
        for worker in self._processes:
            worker.start()
        self._pending = 0  # chunks sent and not yet answered

    def run(
        self, chunks: Iterator[Keyed], total: ImportReport, advance: Callable[[int], None]
    ) -> None:
        """Deal the units of ``chunks`` to the workers by key and add their reports to
        ``total`` once all committed; ``advance`` is told the units of every chunk committed."""
        spreaders = [ChunkSpreader(CHUNK_ROWS, self._depth) for _ in self._inboxes]
        failed = True
        try:
            for chunk in chunks:
                for key, unit in chunk:
                    n = partition_of(key, len(self._inboxes))
                    spreaders[n].add(key, unit)
                    for units in spreaders[n].ready():
                        self._send(n, units, total, advance)
            for n, spreader in enumerate(spreaders):
                for units in spreader.rest():
                    self._send(n, units, total, advance)
            for n in range(len(self._inboxes)):
                self._put(n, None, total, advance)  # the end of the units
            while self._pending:
                self._receive(total, advance, wait=True)
            failed = False
        finally:
            self._stop(failed)

    def _send(
        self, n: int, chunk: Units, total: ImportReport, advance: Callable[[int], None]
    ) -> None:
        self._put(n, chunk, total, advance)
        self._pending += 1

    def _put(
        self, n: int, message: Units | None, total: ImportReport, advance: Callable[[int], None]
    ) -> None:
        """Queue ``message`` for worker ``n``, taking answers while its inbox is full: a
        worker that failed meanwhile stops the import instead of leaving this put waiting."""
        while True:
            self._receive(total, advance, wait=False)
            try:
                self._inboxes[n].put(message, timeout=0.2)
            except queue.Full:
                self._check_alive()
                continue
            return

    def _receive(self, total: ImportReport, advance: Callable[[int], None], *, wait: bool) -> None:
        """Take the workers' answers: at least one when ``wait``, else those already there."""
        while True:
            try:
                message = self._outbox.get(timeout=0.5) if wait else self._outbox.get_nowait()
            except queue.Empty:
                self._check_alive()
                if wait:
                    continue
                return
            if isinstance(message, _Failed):
                raise ImportFailed(message.error)
            total.add(message.report)
            advance(message.rows)
            self._pending -= 1
            wait = False

    def _check_alive(self) -> None:
        for worker in self._processes:
            if worker.exitcode not in (0, None):
                raise ImportFailed(f"an import worker exited with code {worker.exitcode}")

    def _stop(self, failed: bool) -> None:
        for worker in self._processes:
            if failed:
                worker.terminate()
            worker.join(timeout=30)
        if failed:
            # Chunks still buffered for workers that are gone would keep this process from
            # exiting (a queue flushes its buffer at exit): drop them.
            for inbox in self._inboxes:
                inbox.cancel_join_thread()
