"""Transactions to the per-customer statistics of the CLV models (the CDNOW conventions).

Following the published CDNOW studies (Fader, Hardie & Lee 2005) and lifetimes'
``summary_data_from_transaction_data``:

- time has day resolution: a customer's purchases on one day count once (their amounts add up);
- the first purchase day is time 0; ``frequency`` is the number of later distinct purchase days
  (repeat purchases), ``recency`` the time from the first to the last purchase day, ``T`` (age)
  the time from the first purchase day to the observation end, all in days or in fractional
  weeks (days / 7);
- ``monetary`` is the mean spend of the repeat purchase days (0 without repeats): the first
  purchase is left out, as Gamma-Gamma models repeat spend;
- purchases after the observation end are ignored; the observation end day is included.

Everything is vectorised over numpy arrays: customers are ranked once (``np.unique``) and
(customer, day) pairs are deduplicated with one integer key, so the cost is a few sorts.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt

from fidela.analytics.clv.errors import NoHoldoutPeriod

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
DayArray = npt.NDArray[np.datetime64]
TimeUnit = Literal["D", "W"]
# Dates: datetime64 values, datetime.date objects or ISO strings, as numpy reads them.
Dates = npt.ArrayLike | Sequence[datetime.date]
DAYS_PER_UNIT: dict[str, float] = {"D": 1.0, "W": 7.0}


@dataclass(frozen=True)
class CustomerSummary:
    """Per-customer (frequency, recency, T, monetary), aligned on ``customer`` (sorted ids)."""

    customer: npt.NDArray[Any]
    frequency: IntArray
    recency: FloatArray
    T: FloatArray
    monetary: FloatArray
    time_unit: TimeUnit
    observation_end: datetime.date

    @property
    def size(self) -> int:
        return int(self.frequency.size)

    @property
    def repeat_customers(self) -> int:
        return int(np.count_nonzero(self.frequency))


@dataclass(frozen=True)
class Holdout:
    """What the calibration-period customers did after the calibration end.

    ``frequency`` counts distinct purchase days in (calibration end, observation end];
    ``monetary`` is the mean spend of those days (0 without any); ``length`` is the holdout
    duration in the summary's time unit. Aligned on the calibration summary's customers.
    """

    frequency: IntArray
    monetary: FloatArray
    length: float
    end: datetime.date


def to_days(values: Dates) -> DayArray:
    """Dates (``datetime.date``, ``datetime64``, ISO strings) as ``datetime64[D]``."""
    return np.asarray(values).astype("datetime64[D]")


def _day(value: datetime.date | np.datetime64) -> np.datetime64:
    return cast(np.datetime64, np.asarray(value).astype("datetime64[D]")[()])


def _as_date(value: np.datetime64) -> datetime.date:
    days = int(np.asarray(value).astype("datetime64[D]").astype(np.int64))
    return datetime.date(1970, 1, 1) + datetime.timedelta(days=days)


@dataclass(frozen=True)
class _Days:
    """Distinct (customer, day) purchase days, sorted by customer then day."""

    customer: npt.NDArray[Any]  # the distinct ids, sorted
    owner: IntArray  # per purchase day: position of its customer in ``customer``
    day: IntArray  # per purchase day: days since the epoch
    amount: FloatArray  # per purchase day: the day's total spend
    first: IntArray  # per customer: index of their first purchase day
    count: IntArray  # per customer: number of purchase days


def _purchase_days(customer: npt.NDArray[Any], day: IntArray, amount: FloatArray) -> _Days:
    ids, owner = np.unique(customer, return_inverse=True)
    owner = owner.astype(np.int64).reshape(-1)
    if day.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return _Days(ids, empty, empty, np.zeros(0), empty, empty)
    low = int(day.min())
    span = int(day.max()) - low + 1
    # One int64 key per (customer, day): sorting it groups a customer's days in order.
    key = owner * span + (day - low)
    pairs, inverse = np.unique(key, return_inverse=True)
    spend = np.bincount(inverse.reshape(-1), weights=amount, minlength=pairs.size).astype(
        np.float64
    )
    pair_owner = pairs // span
    pair_day = pairs % span + low
    _, first, count = np.unique(pair_owner, return_index=True, return_counts=True)
    return _Days(ids, pair_owner, pair_day, spend, first.astype(np.int64), count.astype(np.int64))


def _mean_repeat_spend(days: _Days) -> FloatArray:
    total = np.bincount(days.owner, weights=days.amount, minlength=days.count.size)
    repeats = days.count - 1
    repeat_total = total - days.amount[days.first]
    return np.divide(repeat_total, repeats, out=np.zeros(repeats.size), where=repeats > 0).astype(
        np.float64
    )


def summarise(
    customer: npt.ArrayLike,
    day: Dates,
    amount: npt.ArrayLike | None = None,
    observation_end: datetime.date | np.datetime64 | None = None,
    time_unit: TimeUnit = "D",
) -> CustomerSummary:
    """Per-customer statistics of the purchases made up to ``observation_end`` (inclusive;
    default: the last purchase day). ``day`` holds dates (anything ``datetime64[D]`` accepts);
    ``amount`` defaults to zero spend."""
    ids = np.asarray(customer)
    days = to_days(day)
    spend = np.zeros(ids.size) if amount is None else np.asarray(amount, dtype=np.float64)
    if not ids.size == days.size == spend.size:
        raise ValueError("customer, day and amount must have the same length")
    if observation_end is None:
        if days.size == 0:
            raise ValueError("an observation end is needed when there are no transactions")
        end = days.max()
    else:
        end = _day(observation_end)
    kept = days <= end
    ints = days[kept].astype(np.int64)
    grouped = _purchase_days(ids[kept], ints, spend[kept])
    unit = DAYS_PER_UNIT[time_unit]
    first_day = grouped.day[grouped.first]
    last_day = grouped.day[grouped.first + grouped.count - 1]
    end_int = int(end.astype(np.int64))
    return CustomerSummary(
        customer=grouped.customer,
        frequency=grouped.count - 1,
        recency=(last_day - first_day).astype(np.float64) / unit,
        T=(end_int - first_day).astype(np.float64) / unit,
        monetary=_mean_repeat_spend(grouped),
        time_unit=time_unit,
        observation_end=_as_date(end),
    )


def calibration_and_holdout(
    customer: npt.ArrayLike,
    day: Dates,
    amount: npt.ArrayLike | None,
    calibration_end: datetime.date | np.datetime64,
    observation_end: datetime.date | np.datetime64 | None = None,
    time_unit: TimeUnit = "D",
) -> tuple[CustomerSummary, Holdout]:
    """The calibration summary (purchases up to ``calibration_end``, inclusive) and, for the
    same customers, their purchase days after it up to ``observation_end`` (default: the last
    purchase day). Customers whose first purchase falls after the calibration end are not in
    either: the models describe customers already acquired."""
    ids = np.asarray(customer)
    days = to_days(day)
    spend = np.zeros(ids.size) if amount is None else np.asarray(amount, dtype=np.float64)
    cal_end = _day(calibration_end)
    end = days.max() if observation_end is None and days.size else observation_end
    if end is None:
        raise ValueError("an observation end is needed when there are no transactions")
    obs_end = _day(end)
    if obs_end <= cal_end:
        raise NoHoldoutPeriod(
            f"the calibration end {_as_date(cal_end)} must fall before the observation end "
            f"{_as_date(obs_end)} (the last transaction date unless given)"
        )
    calibration = summarise(ids, days, spend, cal_end, time_unit)
    later = (days > cal_end) & (days <= obs_end)
    position = np.searchsorted(calibration.customer, ids[later])
    position = np.minimum(position, max(calibration.size - 1, 0))
    known = calibration.size > 0
    if known:
        known_mask = calibration.customer[position] == ids[later]
    else:
        known_mask = np.zeros(position.size, dtype=np.bool_)
    grouped = _purchase_days(
        position[known_mask].astype(np.int64),
        days[later][known_mask].astype(np.int64),
        spend[later][known_mask],
    )
    frequency = np.zeros(calibration.size, dtype=np.int64)
    total = np.zeros(calibration.size)
    owners = grouped.customer.astype(np.int64)
    frequency[owners] = grouped.count
    total[owners] = np.bincount(grouped.owner, weights=grouped.amount, minlength=owners.size)
    monetary = np.divide(total, frequency, out=np.zeros(total.size), where=frequency > 0)
    length = float((obs_end - cal_end).astype(np.int64)) / DAYS_PER_UNIT[time_unit]
    return calibration, Holdout(frequency, monetary, length, _as_date(obs_end))
