from __future__ import annotations

from fidela.imports.statistics import FIRST_REFRESH_ROWS, RefreshSchedule


def test_statistics_are_refreshed_at_doubling_row_counts() -> None:
    schedule = RefreshSchedule()
    due = [n for n in range(1, 1_000_001, 1_000) if schedule.due_after(1_000)]
    # After 5k, 10k, 20k, ... 640k rows: eight refreshes for a million rows.
    assert len(due) == 8
    assert schedule.next_at == FIRST_REFRESH_ROWS * 2**8


def test_a_chunk_crossing_several_thresholds_refreshes_once() -> None:
    schedule = RefreshSchedule()
    assert schedule.due_after(50_000) is True
    assert schedule.next_at == 80_000
    assert schedule.due_after(1_000) is False
