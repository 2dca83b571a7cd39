"""Array type aliases and segment operations over ragged per-customer data.

The generator keeps ragged data (orders per customer, lines per order) as flat arrays plus a
``counts`` array (items per owner). These functions turn counts into owner indices, positions
within a segment and segmented sums without Python loops, which is what keeps a block fast.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
UIntArray = npt.NDArray[np.uint64]

NULL_INDEX = -1  # a missing reference in an index column (becomes a null id)
NULL_TIME = np.iinfo(np.int64).min  # a missing timestamp in a microsecond column


def owners(counts: IntArray) -> IntArray:
    """Owner index of each item: ``[2, 0, 3] -> [0, 0, 2, 2, 2]``."""
    return np.repeat(np.arange(counts.size, dtype=np.int64), counts)


def starts(counts: IntArray) -> IntArray:
    """Flat position of each owner's first item (exclusive prefix sum of counts)."""
    out = np.zeros(counts.size, dtype=np.int64)
    np.cumsum(counts[:-1], out=out[1:])
    return out


def positions(counts: IntArray) -> IntArray:
    """Position of each item within its segment: ``[2, 0, 3] -> [0, 1, 0, 1, 2]``."""
    total = int(counts.sum())
    return np.arange(total, dtype=np.int64) - np.repeat(starts(counts), counts)


def segment_sum(values: FloatArray | IntArray, owner: IntArray, n_owners: int) -> FloatArray:
    """Sum of ``values`` per owner (float64: exact for integers below 2**53)."""
    return np.bincount(owner, weights=values, minlength=n_owners).astype(np.float64)


def segment_cumsum(values: FloatArray, counts: IntArray) -> FloatArray:
    """Inclusive cumulative sum restarting at each segment."""
    if values.size == 0:
        return values.copy()
    total = np.cumsum(values)
    before: FloatArray = np.concatenate(([0.0], total))[starts(counts)]
    out: FloatArray = total - np.repeat(before, counts)
    return out


def counts_of(owner: IntArray, n_owners: int) -> IntArray:
    """Items per owner, for an ``owner`` array sorted or not."""
    return np.bincount(owner, minlength=n_owners).astype(np.int64)


def pick_rows(choices: FloatArray, u: FloatArray) -> IntArray:
    """Row-wise categorical draw: ``choices`` holds one cumulative distribution per row."""
    below: IntArray = (choices < u[:, None]).sum(axis=1, dtype=np.int64)
    out: IntArray = np.minimum(below, choices.shape[1] - 1)
    return out


def pick(cumulative: FloatArray, u: FloatArray) -> IntArray:
    """Categorical draw from one cumulative distribution (last entry 1.0)."""
    return np.minimum(np.searchsorted(cumulative, u, side="right"), cumulative.size - 1).astype(
        np.int64
    )


def cumulative(weights: tuple[float, ...] | list[float] | FloatArray) -> FloatArray:
    """Normalised cumulative distribution of non-negative weights."""
    w = np.asarray(weights, dtype=np.float64)
    c = np.cumsum(w / w.sum())
    c[-1] = 1.0
    return c
