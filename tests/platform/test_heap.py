"""The start-up heap settling runs in a fresh interpreter: it changes process-wide state."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import threading
import weakref

import pytest

from fidela.platform import heap
from fidela.platform.heap import collection_paused

SCRIPT = """
import gc, json, sys
from fidela.platform.heap import YOUNG_THRESHOLD, settle_after_startup
settle_after_startup(sys.argv[1] == "on")
print(json.dumps({"frozen": gc.get_freeze_count(), "threshold": gc.get_threshold()[0],
                  "young": YOUNG_THRESHOLD}))
"""


def _settle(flag: str) -> dict[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, flag], capture_output=True, text=True, check=True
    )
    result: dict[str, int] = json.loads(done.stdout)
    return result


def test_settling_freezes_the_start_up_heap_and_spaces_out_young_collections() -> None:
    settled = _settle("on")
    assert settled["frozen"] > 1_000
    assert settled["threshold"] == settled["young"]


def test_settling_switched_off_leaves_the_collector_alone() -> None:
    untouched = _settle("off")
    assert untouched["frozen"] == 0
    assert untouched["threshold"] == 700


class _Cycle:
    """An object in a reference cycle: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


def _garbage_cycle() -> weakref.ref[_Cycle]:
    return weakref.ref(_Cycle())


def test_a_paused_block_holds_the_collector_off_and_restores_it_after() -> None:
    assert gc.isenabled()
    with collection_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_switched_off_before_stays_off_after_the_block() -> None:
    gc.disable()
    try:
        with collection_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_collector_comes_back_only_when_the_last_overlapping_block_ends() -> None:
    first_in, second_out = threading.Event(), threading.Event()
    seen: list[bool] = []

    def other_batch() -> None:
        with collection_paused():
            first_in.set()
            second_out.wait(5)
            seen.append(gc.isenabled())

    thread = threading.Thread(target=other_batch)
    thread.start()
    first_in.wait(5)
    with collection_paused():
        pass
    still_off = not gc.isenabled()  # the other batch still runs
    second_out.set()
    thread.join(5)
    assert still_off
    assert seen == [False]
    assert gc.isenabled()


def test_a_block_ending_past_the_limit_while_another_runs_collects_the_cycles(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(heap, "PAUSED_YOUNG_LIMIT", 100)
    with collection_paused():
        with collection_paused():
            cycle = _garbage_cycle()
            keep: list[list[int]] = [[] for _ in range(500)]  # past the limit
        assert cycle() is None
        assert keep
        assert not gc.isenabled()


def test_a_block_ending_under_the_limit_while_another_runs_leaves_the_cycles() -> None:
    with collection_paused():
        with collection_paused():
            cycle = _garbage_cycle()
        assert cycle() is not None
    gc.collect()
    assert cycle() is None
