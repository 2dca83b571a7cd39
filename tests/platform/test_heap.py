"""The start-up heap settling runs in a fresh interpreter: it changes process-wide state."""

from __future__ import annotations

import json
import subprocess
import sys

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
