"""Cutting an import's units into the chunks committed one transaction each.

With a loyalty programme in force, a chunk books its members' events in waves: a member's
first event in the chunk goes in the first wave, their second in the second, and so on,
each wave costing a fixed set of statements whatever its size. An export sorted by
customer puts all of a heavy customer's orders in one chunk (118 of 1,000 in the demo
data), so that chunk took 118 waves, most of them of one event.

``ChunkSpreader(depth=n)`` deals the units so that no key (customer) appears more than
``n`` times in a chunk: a customer's later units wait, in their order, for the next chunks,
and other customers' units fill the chunk meanwhile. Each key's units keep their order and
each chunk is committed before the next, so a customer's events are ingested in the
file's order; only the interleaving of different customers changes, which ingestion never
promised (two import processes already split customers between them, and a batch books
different members in waves, not in the order of the file). Units without a key (a guest's
order) concern no member and are dealt as their own key.

The units held back are bounded (``hold``): past it, chunks are cut whatever the depth,
so a file that is one customer's orders only costs what it did before.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterator
from itertools import count
from typing import Any

# Two of a customer's orders per chunk: 141 waves for the 39 chunks of the demo data's
# 38,602 orders, against 198 at one (more held back, so more left for the last chunks),
# 183 at four and 1,781 without a limit (a simulation of the cutting on that file).
SPREAD_DEPTH = 2
# Enough to fill chunks of 1,000 from other customers while a heavy one's orders wait
# (4,600 units held at most in the demo data at depth 2), few enough to bound memory.
HOLD_CHUNKS = 10


_IN_ORDER = "in order"


class ChunkSpreader:
    """Units in, chunks of ``size`` out; with ``depth``, at most ``depth`` units of a key per
    chunk (without, the units in their order). ``add`` a unit, take the chunks ``ready``,
    and at the end the ``rest``."""

    def __init__(self, size: int, depth: int | None = None, hold: int | None = None) -> None:
        if size < 1 or (depth is not None and depth < 1):
            raise ValueError("chunks hold at least one unit, and a key at least once")
        self._size = size
        self._depth = depth
        self._hold = hold if hold is not None else size * HOLD_CHUNKS
        # Keys in the order of their oldest unit held: a key that waits keeps its place.
        self._queues: dict[Hashable, deque[Any]] = {}
        self._held = 0
        self._takeable = 0  # units a depth-bound chunk could take now: sum of min(len, depth)
        self._unkeyed = count()

    @property
    def held(self) -> int:
        return self._held

    def add(self, key: Hashable | None, unit: Any) -> None:
        if self._depth is None:
            key = _IN_ORDER  # one queue: the units leave in the order they came
        elif key is None:
            key = ("no key", next(self._unkeyed))
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = deque()
        if self._depth is None or len(queue) < self._depth:
            self._takeable += 1
        queue.append(unit)
        self._held += 1

    def ready(self) -> Iterator[list[Any]]:
        """The chunks that can be cut now: full ones within the depth, or any once more than
        ``hold`` units wait."""
        while self._takeable >= self._size or self._held > self._hold:
            depth = self._depth if self._takeable >= self._size else None
            yield self._take(depth)

    def rest(self) -> Iterator[list[Any]]:
        """What is left once every unit was added, in chunks of ``size`` whatever the depth
        (the last customers' orders would otherwise go a few to a chunk)."""
        while self._held:
            yield self._take(None)

    def _take(self, depth: int | None) -> list[Any]:
        chunk: list[Any] = []
        for key in list(self._queues):
            queue = self._queues[key]
            before = len(queue)
            room = self._size - len(chunk)
            taking = min(before, room) if depth is None else min(before, depth, room)
            chunk.extend(queue.popleft() for _ in range(taking))
            self._takeable -= self._capped(before) - self._capped(len(queue))
            if not queue:
                del self._queues[key]
            if len(chunk) >= self._size:
                break
        self._held -= len(chunk)
        return chunk

    def _capped(self, queued: int) -> int:
        return queued if self._depth is None else min(queued, self._depth)
