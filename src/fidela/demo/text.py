"""Fixed-width text columns built from bytes: zero-padded numbers, prefixed ids, codes.

Arrow's string kernels (cast, pad, join) cost a few hundred nanoseconds per value plus a call
overhead; ids are the bulk of every table, so they are built here as one ``uint8`` matrix per
column (one row per value, one column per character) and handed to Arrow as a string array
without a copy or a UTF-8 validation pass (the bytes are ASCII by construction).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from fidela.demo.segments import IntArray

ByteMatrix = npt.NDArray[np.uint8]

# "0000".."9999" as four bytes each, viewed as one uint32 per number: numbers are written four
# digits per lookup (a one-word gather is about 20 times faster than a 4-byte row gather).
_QUADS = (
    (48 + (np.arange(10_000, dtype=np.int64)[:, None] // np.array([1000, 100, 10, 1])) % 10)
    .astype(np.uint8)
    .view(np.uint32)
    .ravel()
)


def strings(chars: ByteMatrix) -> pa.Array:
    """A string array with one value per row of an ASCII byte matrix."""
    n, width = chars.shape
    offsets = np.arange(n + 1, dtype=np.int32) * width
    data = np.ascontiguousarray(chars).reshape(-1)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def zero_padded(numbers: IntArray, width: int) -> ByteMatrix:
    """Digits of non-negative ``numbers`` below ``10**width``, zero-padded to ``width``."""
    quads = -(-width // 4)
    out = np.empty((numbers.size, quads), dtype=np.uint32)
    # Float division is vectorised where int64 division is not, and exact here: numbers stay
    # far below 2**53, so floor(x / 1e4) never rounds across an integer.
    rest = numbers.astype(np.float64)
    for k in range(quads - 1, -1, -1):
        quotient = np.floor(rest / 10_000.0)
        out[:, k] = _QUADS[(rest - quotient * 10_000.0).astype(np.int64)]
        rest = quotient
    digits: ByteMatrix = out.view(np.uint8).reshape(numbers.size, quads * 4)
    return digits[:, quads * 4 - width :]


def prefixed(prefix: str, numbers: IntArray, width: int) -> pa.Array:
    """``prefix`` and zero-padded ``numbers`` ("O" + 12 -> "O000000012") as strings."""
    head = prefix.encode("ascii")
    chars = np.empty((numbers.size, len(head) + width), dtype=np.uint8)
    chars[:, : len(head)] = np.frombuffer(head, dtype=np.uint8)
    chars[:, len(head) :] = zero_padded(numbers, width)
    return strings(chars)
