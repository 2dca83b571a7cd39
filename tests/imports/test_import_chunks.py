"""How an import's units are cut into the chunks committed one transaction each."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from fidela.cli.import_chunks import ChunkSpreader

Unit = tuple[str | None, int]


def _cut(spreader: ChunkSpreader, units: list[Unit]) -> list[list[Unit]]:
    chunks: list[list[Unit]] = []
    for key, number in units:
        spreader.add(key, (key, number))
        chunks += spreader.ready()
    chunks += spreader.rest()
    assert spreader.held == 0
    return chunks


def _sorted_by_customer(seed: int) -> list[Unit]:
    """An export sorted by customer: a few heavy customers among many light ones."""
    pick = random.Random(seed)
    units: list[Unit] = []
    for customer in range(300):
        orders = pick.choice([1, 1, 2, 3, 5, 40]) if customer % 50 else 120
        units += [(f"C{customer}", len(units) + n) for n in range(orders)]
    return units


def test_without_a_depth_chunks_keep_the_files_order() -> None:
    units = _sorted_by_customer(1)
    chunks = _cut(ChunkSpreader(100), units)
    assert [unit for chunk in chunks for unit in chunk] == units
    assert [len(chunk) for chunk in chunks[:-1]] == [100] * (len(chunks) - 1)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_customers_units_keep_their_order_and_come_out_once(seed: int) -> None:
    units = _sorted_by_customer(seed)
    chunks = _cut(ChunkSpreader(100, depth=2, hold=1_000), units)
    out = [unit for chunk in chunks for unit in chunk]
    assert sorted(out) == sorted(units)
    for customer in {key for key, _ in units}:
        mine = [number for key, number in out if key == customer]
        assert mine == sorted(mine)


def test_full_chunks_hold_a_customer_at_most_depth_times_until_the_end() -> None:
    units = _sorted_by_customer(4)
    spreader = ChunkSpreader(100, depth=2, hold=10_000)
    cut_while_reading: list[list[Unit]] = []
    for key, number in units:
        spreader.add(key, (key, number))
        cut_while_reading += spreader.ready()
    for chunk in cut_while_reading:
        assert len(chunk) == 100
        assert max(Counter(key for key, _ in chunk).values()) <= 2
    # the first customer's 120 orders went two by two into every chunk cut while reading
    assert all(("C0", 2 * n) in chunk for n, chunk in enumerate(cut_while_reading))
    assert len(cut_while_reading) >= 15
    rest = sum(len(chunk) for chunk in spreader.rest())
    assert rest == len(units) - 100 * len(cut_while_reading)


def test_held_units_are_bounded_whatever_the_depth() -> None:
    """A file that is one customer's orders only is cut in full chunks once the hold is
    reached, rather than held whole."""
    units: list[Unit] = [("C1", n) for n in range(5_000)]
    spreader = ChunkSpreader(100, depth=2, hold=300)
    most = 0
    chunks: list[list[Unit]] = []
    for key, number in units:
        spreader.add(key, (key, number))
        chunks += spreader.ready()
        most = max(most, spreader.held)
    chunks += spreader.rest()
    assert most <= 301
    assert [unit for chunk in chunks for unit in chunk] == units
    assert all(len(chunk) == 100 for chunk in chunks)


def test_units_without_a_key_are_dealt_as_their_own() -> None:
    units: list[Unit] = [(None, n) for n in range(250)]
    chunks = _cut(ChunkSpreader(100, depth=1), units)
    assert [len(chunk) for chunk in chunks] == [100, 100, 50]
    assert [unit for chunk in chunks for unit in chunk] == units


def test_a_spreader_needs_room_for_a_unit() -> None:
    with pytest.raises(ValueError, match="at least one unit"):
        ChunkSpreader(0)
    with pytest.raises(ValueError, match="at least once"):
        ChunkSpreader(10, depth=0)
