"""The immutable inputs every block of a run shares: calendar, catalogue, truth, campaigns.

Built once per run by the generator and handed to each block (and to worker processes), so a
block is a pure function of ``(RunContext, block number)``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import numpy as np

from fidela.demo.catalogue import Catalogue, build_catalogue
from fidela.demo.config import BLOCK_SIZE, GenerationConfig, TruthParameters
from fidela.demo.customers import HomeStores
from fidela.demo.seasonality import Calendar
from fidela.demo.segments import FloatArray, IntArray
from fidela.demo.vocabulary import TIMEZONES


@dataclass(frozen=True)
class RunContext:
    seed: int
    customers: int
    truth: TruthParameters
    calendar: Calendar
    catalogue: Catalogue
    home_stores: HomeStores
    campaign_hours: FloatArray  # send time of each email campaign, in window hours

    @property
    def blocks(self) -> int:
        return -(-self.customers // BLOCK_SIZE)

    def block_indices(self, block: int) -> IntArray:
        """Global indices (customer number - 1) of the customers of ``block``."""
        first = block * BLOCK_SIZE
        return np.arange(first, min(first + BLOCK_SIZE, self.customers), dtype=np.int64)


def campaign_schedule(calendar: Calendar) -> FloatArray:
    """Marketing campaigns: every Tuesday at 08:00 UTC, plus seasonal extras (Black Friday,
    mid-December, sales openings) at 07:00 UTC."""
    hours: list[float] = []
    day = calendar.start
    while day < calendar.end:
        offset = (day - calendar.start).days * 24.0
        if day.weekday() == 1:
            hours.append(offset + 8.0)
        is_black_friday = day.month == 11 and day.weekday() == 4 and 23 <= day.day <= 29
        if is_black_friday or (day.month, day.day) in {(12, 10), (1, 2), (6, 25)}:
            hours.append(offset + 7.0)
        day += datetime.timedelta(days=1)
    return np.array(sorted(hours), dtype=np.float64)


def build_context(config: GenerationConfig) -> RunContext:
    calendar = Calendar.build(config.start, config.end, TIMEZONES)
    catalogue = build_catalogue(config.seed, config.start)
    home_stores = HomeStores(
        by_city=catalogue.stores_by_city,
        by_timezone=tuple(catalogue.stores_by_timezone[z] for z in TIMEZONES),
    )
    return RunContext(
        seed=config.seed,
        customers=config.customers,
        truth=config.truth,
        calendar=calendar,
        catalogue=catalogue,
        home_stores=home_stores,
        campaign_hours=campaign_schedule(calendar),
    )
