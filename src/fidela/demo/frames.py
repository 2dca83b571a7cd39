"""Tables under construction: named numpy columns of equal length, and their row operations.

A block builds each output table as a `Frame` (``dict`` of column name to 1-D array) whose
reference columns still hold block-local row numbers; `tables` turns frames into Arrow tables
with global ids. Keeping frames as plain dicts of arrays makes sorting, filtering and
concatenating rows one call each.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from fidela.demo.segments import BoolArray, IntArray

Frame = dict[str, npt.NDArray[Any]]


def size(frame: Frame) -> int:
    """Number of rows (0 for a frame without columns)."""
    return next((int(column.size) for column in frame.values()), 0)


def take(frame: Frame, rows: IntArray | BoolArray) -> Frame:
    """Rows of ``frame`` selected by positions or by a boolean mask."""
    return {name: column[rows] for name, column in frame.items()}


def concat(frames: list[Frame]) -> Frame:
    """Rows of several frames with the same columns, in order."""
    kept = [f for f in frames if f]
    if not kept:
        return {}
    names = list(kept[0])
    for f in kept[1:]:
        if set(f) != set(names):
            raise ValueError(f"cannot concatenate frames with columns {names} and {list(f)}")
    return {name: np.concatenate([f[name] for f in kept]) for name in names}


def sort_rows(frame: Frame, *keys: str) -> tuple[Frame, IntArray]:
    """Rows sorted by ``keys`` (first key most significant, stable) and the permutation used."""
    order = np.lexsort(tuple(frame[k] for k in reversed(keys))).astype(np.int64)
    return take(frame, order), order


def inverse(permutation: IntArray) -> IntArray:
    """New position of each old row after ``take(frame, permutation)``."""
    out = np.empty_like(permutation)
    out[permutation] = np.arange(permutation.size, dtype=np.int64)
    return out
