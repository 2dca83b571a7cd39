"""Garbage-collector settings for the long-running processes (server, worker, imports).

CPython's cyclic collector runs a young-generation pass every 700 net allocations and, now and
then, a full pass that walks every tracked object. A Fidela process holds hundreds of
thousands of long-lived objects after start-up (SQLAlchemy metadata, pydantic validators,
FastAPI routes), so each full pass walked all of them while ingesting events, which allocate
heavily. Measured in process on 1,000 ``order.completed`` events: 200 ms of CPU with the
defaults, 128 ms after freezing the start-up heap, 116 ms with a larger young generation too.

Freezing moves what exists now to a permanent generation the collector skips; reference
counting still frees those objects, only cycles among them would be kept. That is why it is
called once, after start-up, in the processes that serve, and never by ``create_app`` (tests
build many apps in one process).

A batch of events keeps most of what it allocates alive until it commits (the events, their
rows, their results), so each young-generation pass during a batch walked tens of thousands
of live objects only to move them to the next generation, and the middle generation's passes
walked all of those: 10-16 ms of a batch of 1,000 orders (about a tenth of its CPU; 30 ms
with the demo programme), measured with ``gc.callbacks``. ``collection_paused`` holds the
collector off while a batch runs; once it has committed, reference counting frees nearly all
of it, and the next pass finds little to walk.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# Young-generation threshold: a pass every 10,000 net allocations instead of 700. Requests
# allocate tens of thousands of short-lived objects, nearly all freed by reference counting.
YOUNG_THRESHOLD = 10_000
OLDER_THRESHOLDS = (50, 50)


def settle_after_startup(enabled: bool = True) -> None:
    """Collect start-up garbage, freeze the survivors, space out young-generation passes
    (nothing when ``enabled`` is false: the ``settle_heap`` setting)."""
    if not enabled:
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)


# Net allocations past which a batch that ends while others still run collects anyway:
# batches overlapping back to back in one process's threads would otherwise keep the
# collector off for good, and cycles made meanwhile would never be freed.
PAUSED_YOUNG_LIMIT = 20 * YOUNG_THRESHOLD


class _Pause:
    """The process's batches running with the collector held off (the collector is
    process-wide state), and its state before the first of them."""

    lock = threading.Lock()
    holders = 0
    was_enabled = True


@contextmanager
def collection_paused() -> Iterator[None]:
    """No automatic cyclic collection while the block runs (a batch of events), in this
    process; the collector is restored as it was when the last such block ends. A block
    ending while others run collects the generations due, as the collector would have,
    once more than ``PAUSED_YOUNG_LIMIT`` net allocations are waiting."""
    with _Pause.lock:
        if _Pause.holders == 0:
            _Pause.was_enabled = gc.isenabled()
            gc.disable()
        _Pause.holders += 1
    try:
        yield
    finally:
        with _Pause.lock:
            _Pause.holders -= 1
            if _Pause.holders == 0:
                if _Pause.was_enabled:
                    gc.enable()
            elif _Pause.was_enabled and gc.get_count()[0] > PAUSED_YOUNG_LIMIT:
                gc.collect(_generation_due())


def _generation_due() -> int:
    """The oldest generation whose count passed its threshold (as the collector picks)."""
    counts, thresholds = gc.get_count(), gc.get_threshold()
    for generation in (2, 1):
        if counts[generation] > thresholds[generation]:
            return generation
    return 0
