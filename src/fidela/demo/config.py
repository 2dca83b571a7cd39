"""What a demo generation run is asked to do: the run configuration and the population truth.

`GenerationConfig` is what the CLI builds from its flags; `TruthParameters` are the population
parameters of the buying process (BG/NBD for counts, Gamma-Gamma for spend) plus the shares of
never-buyers and fraudsters. Both are frozen so a run is fully described by its config, and both
validate themselves on construction so a bad flag fails before any file is touched.
"""

from __future__ import annotations

import datetime
import math
import pathlib
from dataclasses import dataclass, field

FORMATS: tuple[str, ...] = ("parquet", "csv")

# Customers per block: the unit of randomness (each block has its own random streams). Chunks are
# whole numbers of blocks, so the generated data does not depend on `chunk_size`.
BLOCK_SIZE = 1_000


@dataclass(frozen=True)
class TruthParameters:
    """Population parameters of the simulated buying behaviour (the known truth).

    Counts follow BG/NBD (Fader, Hardie & Lee 2005) in operational time: purchase rate
    ``lambda ~ Gamma(shape=r, rate=alpha)`` in purchases per operational day, dropout probability
    ``p ~ Beta(a, b)`` applied after each repeat purchase. Spend follows Gamma-Gamma
    (Fader, Hardie & Lee 2005b): ``nu ~ Gamma(shape=q, rate=gamma)`` per customer, each order's
    target value ``z ~ Gamma(shape=p_spend, rate=nu)`` in EUR cents, so the mean order value of a
    customer is ``p_spend / nu`` cents and of the population ``p_spend * gamma / (q - 1)`` cents.
    """

    r: float = 0.8
    alpha: float = 40.0
    a: float = 0.8
    b: float = 2.5
    p_spend: float = 6.0
    q: float = 4.0
    gamma: float = 2_750.0
    never_buy_share: float = 0.15
    fraud_share: float = 0.003

    def __post_init__(self) -> None:
        for name in ("r", "alpha", "a", "b", "p_spend", "q", "gamma"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"truth parameter {name} must be a positive number, got {value!r}")
        if self.q <= 1:
            raise ValueError(f"truth parameter q must be > 1 for a finite mean spend, got {self.q}")
        if not 0 <= self.never_buy_share < 1:
            raise ValueError(
                f"never_buy_share must be in [0, 1), got {self.never_buy_share!r}",
            )
        if not 0 <= self.fraud_share <= 0.05:
            raise ValueError(f"fraud_share must be in [0, 0.05], got {self.fraud_share!r}")

    @property
    def mean_order_value_minor(self) -> float:
        """Population mean of the per-customer mean order value, in EUR cents."""
        return self.p_spend * self.gamma / (self.q - 1)


@dataclass(frozen=True)
class GenerationConfig:
    """One generation run.

    ``end`` is the observation end (exclusive: 00:00 UTC that day, nothing happens at or after
    it); customers sign up during the ``years`` before it; the clock is never read.
    ``chunk_size`` bounds memory (customers per written batch) and is rounded up to whole
    blocks of `BLOCK_SIZE` customers; the data does not depend on it (see `generator`).
    """

    customers: int
    seed: int
    out_dir: pathlib.Path
    formats: tuple[str, ...] = FORMATS
    end: datetime.date = datetime.date(2026, 10, 31)
    years: int = 3
    chunk_size: int = 20_000
    truth: TruthParameters = field(default_factory=TruthParameters)

    def __post_init__(self) -> None:
        if isinstance(self.customers, bool) or not isinstance(self.customers, int):
            raise ValueError(f"customers must be an integer, got {self.customers!r}")
        if self.customers < 1:
            raise ValueError(f"customers must be at least 1, got {self.customers}")
        if self.customers > 99_999_999:
            raise ValueError(f"customers must be at most 99,999,999, got {self.customers}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not self.formats:
            raise ValueError("formats must name at least one of: parquet, csv")
        unknown = [f for f in self.formats if f not in FORMATS]
        if unknown:
            raise ValueError(f"unknown format {unknown[0]!r}; expected one of: parquet, csv")
        if len(set(self.formats)) != len(self.formats):
            raise ValueError(f"formats must not repeat, got {self.formats!r}")
        if isinstance(self.end, datetime.datetime) or not isinstance(self.end, datetime.date):
            raise ValueError(f"end must be a datetime.date, got {self.end!r}")
        if not 1 <= self.years <= 10:
            raise ValueError(f"years must be between 1 and 10, got {self.years}")
        if self.end.year - self.years < 1971:
            raise ValueError(f"end {self.end} minus {self.years} years is before 1971")
        if self.chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {self.chunk_size}")

    @property
    def blocks_per_chunk(self) -> int:
        """Chunks are rounded up to whole blocks of `BLOCK_SIZE` customers."""
        return max(1, -(-self.chunk_size // BLOCK_SIZE))

    @property
    def start(self) -> datetime.date:
        """First day of the signup window (``years`` calendar years before ``end``)."""
        try:
            return self.end.replace(year=self.end.year - self.years)
        except ValueError:  # 29 February in a non-leap year
            return self.end.replace(year=self.end.year - self.years, day=28)
