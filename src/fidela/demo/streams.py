"""Sources of randomness: per-block generators and index-keyed hash uniforms.

Two kinds, for two needs:

- Behaviour (rates, orders, baskets, activity) is drawn from ``numpy.random.Generator`` streams
  keyed by ``(seed, block, stream)``. A block is `BLOCK_SIZE` consecutive customers, so the data
  does not depend on how blocks are grouped into chunks, and each concern has its own stream so
  changing how one table is drawn leaves the others untouched.
- A customer's profile (country, city, names, signup time...) is drawn from a counter-based hash
  of ``(seed, customer index, field)``. Any block can then compute the profile of any customer
  (a referrer signed up long before, in another block) without generating that block.
"""

from __future__ import annotations

import enum

import numpy as np

from fidela.demo.segments import FloatArray, IntArray, UIntArray


class Stream(enum.IntEnum):
    """One random stream per concern of a block."""

    PURCHASES = 1
    BASKETS = 2
    MONEY = 3
    RETURNS = 4
    SESSIONS = 5
    EMAILS = 6
    SUPPORT = 7
    SURVEYS = 8
    REVIEWS = 9
    SHARES = 10
    REFERRALS = 11
    FRAUD = 12
    PROFILE = 13
    CATALOGUE = 14


def block_rng(seed: int, block: int, stream: Stream) -> np.random.Generator:
    """The generator of one concern of one block (independent of chunking)."""
    return np.random.default_rng([seed, block, int(stream)])


def catalogue_rng(seed: int) -> np.random.Generator:
    """The generator of stores and products, independent of the number of customers."""
    return np.random.default_rng([seed, 2**32 - 1, int(Stream.CATALOGUE)])


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _splitmix64(x: UIntArray) -> UIntArray:
    """SplitMix64 finaliser (Steele, Lea & Flood 2014): a bijective, well-mixed 64-bit hash."""
    z = x + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def hashed_bits(seed: int, index: IntArray, field: int) -> UIntArray:
    """64 well-mixed bits for each ``index``, keyed by ``seed`` and a ``field`` number."""
    key = _splitmix64(np.array([(seed * 1_000_003 + field) % 2**64], dtype=np.uint64))
    return _splitmix64(_splitmix64(index.astype(np.uint64) ^ key) + key)


def hashed_uniform(seed: int, index: IntArray, field: int) -> FloatArray:
    """A uniform draw in [0, 1) for each ``index``, keyed by ``seed`` and a ``field`` number."""
    bits = hashed_bits(seed, index, field) >> np.uint64(11)
    return bits.astype(np.float64) * (1.0 / 2**53)
