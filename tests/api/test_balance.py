"""Batches spread over server processes: the fair-share rule and the per-process count."""

from __future__ import annotations

import pytest

from fidela.api.balance import BatchLoads, over_fair_share


@pytest.mark.parametrize(
    ("mine", "counts", "over"),
    [
        (4, [4, 0], True),
        (3, [3, 1], True),
        (2, [2, 2], False),
        (2, [2, 1], False),  # 3 over 2 processes: 2 and 1 is as even as it gets
        (1, [1, 2], False),
        (3, [3, 2], False),
        (3, [3, 0, 0], True),
        (2, [2, 2, 1], False),
        (5, [5], False),  # alone: nowhere else to go
        (0, [0, 0], False),
    ],
)
def test_a_process_is_over_its_share_only_above_an_even_spread(
    mine: int, counts: list[int], over: bool
) -> None:
    assert over_fair_share(mine, counts) is over


def test_a_batch_counts_in_its_slot_while_it_runs() -> None:
    counts = [0, 1]
    loads = BatchLoads(counts, 0)
    with loads.running():
        assert counts == [1, 1]
    assert counts == [0, 1]


@pytest.mark.parametrize(
    ("elsewhere", "keeps"),
    [
        # Two running here and none there: the second, ending over its share, is released;
        # the first, ending alone, stays.
        (0, (False, True)),
        # Two here, two there: even, both stay.
        (2, (True, True)),
    ],
)
def test_only_a_batch_ending_over_the_share_releases_its_connection(
    elsewhere: int, keeps: tuple[bool, bool]
) -> None:
    counts = [0, elsewhere]
    loads = BatchLoads(counts, 0)
    with loads.running() as first, loads.running() as second:
        pass
    assert (second.keep, first.keep) == keeps
    assert counts == [0, elsewhere]


def test_a_failed_batch_still_gives_its_count_back() -> None:
    counts = [0, 0]
    loads = BatchLoads(counts, 0)
    with pytest.raises(RuntimeError), loads.running():
        raise RuntimeError("rolled back")
    assert counts == [0, 0]


def test_a_process_started_again_takes_its_slot_over() -> None:
    counts = [3, 1]  # what the process that died left behind
    BatchLoads(counts, 0)
    assert counts == [0, 1]


def test_a_process_alone_never_releases_a_connection() -> None:
    loads = BatchLoads()
    with loads.running() as first, loads.running() as second:
        pass
    assert (first.keep, second.keep) == (True, True)
