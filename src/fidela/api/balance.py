"""Batch senders' connections spread evenly over the server processes.

Each ``fidela serve --workers N`` process listens on a socket of its own and the kernel
places every new connection by a hash of its addresses (``fidela.cli.processes``). A sender
keeps its connection for as long as it sends, so that one placement decides, for the whole
run, which process pays for its batches. A batch is hundreds of milliseconds of one
process's CPU: four senders on two processes were placed two and two in four runs of
twelve, and a run placed three and one ingested about 15 % fewer events than one placed two
and two, four and none about 30 % fewer, one core idle part of the time (docs/benchmarks.md,
session 21).

So each process counts the batches it is running in a slot of an array shared by all of
them. A batch that ends while its process runs more than its fair share of all the batches
running (their total over the processes, rounded up, its own included) is answered with
``Connection: close``: the sender's next connection is placed again, and the processes settle
at even shares within a few batches. Batches in flight, not connections, are counted: a
connection closed by its sender leaves nothing stale behind. Single events are left alone:
they are cheap next to a new connection, and their senders are many.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, MutableSequence, Sequence
from contextlib import contextmanager
from dataclasses import dataclass


def over_fair_share(mine: int, counts: Sequence[int]) -> bool:
    """Whether a process running ``mine`` batches runs more than an even spread of
    ``counts`` (every process's count, its own included) gives any process."""
    if len(counts) < 2:
        return False
    fair = -(-sum(counts) // len(counts))  # rounded up: 3 over 2 processes is 2 and 1
    return mine > fair


@dataclass
class Placement:
    """Whether the connection of a batch that ended may stay open."""

    keep: bool = True


class BatchLoads:
    """This process's batches in flight, published in ``counts[slot]``. A process serving
    alone has one slot and never closes a connection."""

    def __init__(self, counts: MutableSequence[int] | None = None, slot: int = 0) -> None:
        counts = counts if counts is not None else [0]
        self.counts = counts
        self.slot = slot
        # Batches run on the server's thread pool; each process writes its own slot only.
        self._lock = threading.Lock()
        counts[slot] = 0  # a process started again takes its slot over

    @contextmanager
    def running(self) -> Iterator[Placement]:
        """A batch in flight; once it ends, ``keep`` is False if this process ran more than
        its share and its connection should be closed after the answer."""
        placement = Placement()
        with self._lock:
            self.counts[self.slot] += 1
        try:
            yield placement
        finally:
            with self._lock:
                mine = self.counts[self.slot]
                placement.keep = not over_fair_share(mine, list(self.counts))
                self.counts[self.slot] = mine - 1


_installed: BatchLoads | None = None


def install(counts: MutableSequence[int], slot: int) -> None:
    """Make this process one of several sharing ``counts`` (before its app is built)."""
    global _installed
    _installed = BatchLoads(counts, slot)


def installed() -> BatchLoads | None:
    return _installed
