"""Calendar of a generation run: the observation window and seasonal operational time.

Why operational time: the buying process must stay *exactly* BG/NBD so models can be tested
against the truth, yet real purchases are seasonal (Black Friday to Christmas, January and July
sales, weekends in store, evenings online). Both hold if the process runs on an operational clock
``tau = S(t)``, where ``S`` is the cumulative seasonal intensity: purchases are a Poisson process
of rate ``lambda`` in ``tau`` and are mapped to calendar time through ``t = S^-1(tau)``. Counts
over any operational interval are then exactly BG/NBD; in calendar time the process is an
inhomogeneous Poisson process with intensity ``lambda * s(t)``.

``S`` is piecewise linear on an hourly grid in UTC. The intensity ``s`` of an hour multiplies a
season factor (local date), a weekday factor and an hour-of-day factor (local time of the
customer's time zone, DST taken from the tz database once per day). There are two curves per
time zone, "store" (opening hours, busy Saturdays, closed on 25 December and 1 January) and
"online" (evenings and Sundays). Each curve is normalised so that its operational length equals
the calendar length of the window: one operational day is one average calendar day, so
``lambda`` reads as purchases per (average) day. The amplitude is moderate: the season factor
stays within 0.85-1.5.

All times inside the generator are float hours since the window start (UTC midnight of
``GenerationConfig.start``); they become integer microseconds only when a table is written.
"""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass

import numpy as np

from fidela.demo.segments import FloatArray, IntArray

HOUR_US = 3_600_000_000
DAY_HOURS = 24.0

STORE_CURVE = 0
ONLINE_CURVE = 1

# Monday first. Saturdays fill stores, Sundays are quiet there (many French shops close).
_WEEKDAY_STORE = (0.85, 0.9, 1.0, 0.95, 1.1, 1.55, 0.65)
_WEEKDAY_ONLINE = (1.05, 1.0, 0.98, 0.97, 0.9, 0.92, 1.18)
# Local hour of day. Stores are open about 9:00-20:00; the tiny night value keeps S strictly
# increasing so its inverse is well defined.
_HOUR_STORE = (
    0.002, 0.002, 0.002, 0.002, 0.002, 0.002, 0.002, 0.002, 0.05, 0.4, 0.8, 1.1,
    1.3, 1.2, 1.0, 1.0, 1.1, 1.35, 1.4, 0.9, 0.2, 0.002, 0.002, 0.002,
)  # fmt: skip
_HOUR_ONLINE = (
    0.35, 0.18, 0.1, 0.07, 0.06, 0.1, 0.3, 0.6, 0.8, 0.9, 0.95, 1.0,
    1.2, 1.15, 0.95, 0.95, 1.0, 1.05, 1.15, 1.35, 1.6, 1.65, 1.3, 0.75,
)  # fmt: skip


def season_factor(day: datetime.date) -> float:
    """Seasonal multiplier of a local calendar day (moderate: 0.85-1.5)."""
    m, d = day.month, day.day
    if m == 11 and d >= 20:  # Black Friday run-up
        return 1.35
    if m == 12 and d <= 23:  # Christmas shopping
        return 1.5
    if m == 12 and d >= 26:  # boxing day and end-of-year sales
        return 1.15
    if m == 1 and d >= 2:  # January sales
        return 1.25
    if (m == 6 and d >= 25) or m == 7:  # summer sales
        return 1.2
    if m == 8 and d <= 20:  # holidays
        return 0.85
    return 1.0


def _utc_offset(moment: datetime.datetime, zone: zoneinfo.ZoneInfo) -> float:
    offset = moment.astimezone(zone).utcoffset()
    return 0.0 if offset is None else offset.total_seconds() / 3600


def _hourly_offsets(start: datetime.date, n_days: int, timezones: tuple[str, ...]) -> FloatArray:
    """UTC offset (hours) of each zone at each hour from ``start`` for ``n_days`` days + 1 hour.

    Looked up once per day at noon, and per hour only around the days where it changes (DST),
    which keeps the tz database calls to a few thousand.
    """
    n_hours = n_days * 24 + 1
    out = np.empty((len(timezones), n_hours), dtype=np.float64)
    origin = datetime.datetime.combine(start, datetime.time(0), tzinfo=datetime.UTC)
    for z, name in enumerate(timezones):
        zone = zoneinfo.ZoneInfo(name)
        daily = np.array(
            [
                _utc_offset(origin + datetime.timedelta(days=d, hours=12), zone)
                for d in range(n_days + 1)
            ]
        )
        out[z] = np.repeat(daily, 24)[:n_hours]
        changes = np.flatnonzero(np.diff(daily)) + 1
        for day in changes.tolist():
            for h in range(max(0, (day - 1) * 24), min(n_hours, (day + 1) * 24)):
                out[z, h] = _utc_offset(origin + datetime.timedelta(hours=h), zone)
    return out


def _closed_holiday(day: datetime.date) -> bool:
    return (day.month, day.day) in {(12, 25), (1, 1)}


@dataclass(frozen=True)
class Calendar:
    """Window bounds and the operational-time curves of every (channel kind, time zone)."""

    start: datetime.date
    end: datetime.date
    timezones: tuple[str, ...]
    # Operational days at each hourly grid point, curves flattened into one increasing array:
    # curve c occupies [c * (n_hours + 1), (c + 1) * (n_hours + 1)) and is shifted by c * _SHIFT
    # so one searchsorted inverts all curves at once.
    flat: FloatArray
    # UTC offset in hours of each time zone at each hour of the window (one extra hour).
    offsets: FloatArray

    @classmethod
    def build(
        cls, start: datetime.date, end: datetime.date, timezones: tuple[str, ...]
    ) -> Calendar:
        n_days = (end - start).days
        n_hours = n_days * 24
        days = [start + datetime.timedelta(days=i) for i in range(-1, n_days + 1)]
        season = np.array([season_factor(d) for d in days])
        closed = np.array([_closed_holiday(d) for d in days])
        weekday = np.array([d.weekday() for d in days], dtype=np.int64)
        offsets = _hourly_offsets(start, n_days, timezones)
        hours = np.arange(n_hours, dtype=np.float64)
        kinds = (
            (np.array(_WEEKDAY_STORE), np.array(_HOUR_STORE), 0.05),
            (np.array(_WEEKDAY_ONLINE), np.array(_HOUR_ONLINE), 1.0),
        )
        curves = []
        for weekday_factor, hour_factor, holiday_factor in kinds:
            for z in range(len(timezones)):
                local = hours + 0.5 + offsets[z, :n_hours]
                # +1: `days` starts the day before the window (west of UTC, local time is behind).
                local_day = np.floor(local / 24).astype(np.int64) + 1
                intensity = (
                    season[local_day]
                    * weekday_factor[weekday[local_day]]
                    * hour_factor[(np.floor(local) % 24).astype(np.int64)]
                    * np.where(closed[local_day], holiday_factor, 1.0)
                )
                s = np.concatenate(([0.0], np.cumsum(intensity)))
                curves.append(s * (n_hours / 24.0) / s[-1])
        shifts = np.arange(len(curves), dtype=np.float64)[:, None] * _SHIFT
        flat = (np.array(curves) + shifts).ravel()
        return cls(
            start=start,
            end=end,
            timezones=timezones,
            flat=flat,
            offsets=offsets,
        )

    @property
    def n_hours(self) -> int:
        return (self.end - self.start).days * 24

    @property
    def hours(self) -> float:
        """Length of the window in hours (``end`` in generator time)."""
        return float(self.n_hours)

    @property
    def days(self) -> float:
        """Length of the window in days, calendar and operational alike."""
        return self.hours / DAY_HOURS

    @property
    def start_us(self) -> int:
        start = datetime.datetime.combine(self.start, datetime.time(0), tzinfo=datetime.UTC)
        return int(start.timestamp()) * 1_000_000

    def curve(self, kind: IntArray, timezone: IntArray) -> IntArray:
        """Curve index of a (kind, time zone) pair; kind is STORE_CURVE or ONLINE_CURVE."""
        return kind * len(self.timezones) + timezone

    def to_operational(self, curve: IntArray, hours: FloatArray) -> FloatArray:
        """Operational day of calendar ``hours`` (clamped to the window)."""
        n = self.n_hours + 1
        h = np.clip(hours, 0.0, float(self.n_hours))
        i = np.minimum(h.astype(np.int64), self.n_hours - 1)
        base = curve * n + i
        lo = self.flat[base]
        hi = self.flat[base + 1]
        return lo + (h - i) * (hi - lo) - curve * _SHIFT

    def to_calendar(self, curve: IntArray, tau: FloatArray) -> FloatArray:
        """Calendar hours of operational day ``tau`` (the inverse of `to_operational`)."""
        n = self.n_hours + 1
        t = np.clip(tau, 0.0, self.days) + curve * _SHIFT
        pos = np.searchsorted(self.flat, t, side="right") - 1
        pos = np.clip(pos, curve * n, curve * n + self.n_hours - 1)
        lo = self.flat[pos]
        hi = self.flat[pos + 1]
        return (pos - curve * n) + (t - lo) / (hi - lo)

    def local_hour(self, timezone: IntArray, hours: FloatArray) -> FloatArray:
        """Local hour of day (0-24) of calendar ``hours`` in each time zone."""
        hour = np.clip(hours.astype(np.int64), 0, self.offsets.shape[1] - 1)
        return (hours + self.offsets[timezone, hour]) % 24.0

    def daytime(
        self,
        timezone: IntArray,
        hours: FloatArray,
        u: FloatArray,
        earliest: FloatArray,
        latest: FloatArray | float,
    ) -> FloatArray:
        """Move events to a waking hour of the same local day, clipped to [earliest, latest].

        Delays drawn in whole days (a return, a review, a support contact) would otherwise
        land at any hour of the night; the new local time of day follows the online hour
        profile (one uniform ``u`` per event, inverted through the piecewise-linear CDF).
        """
        local = hours + self.offsets[timezone, np.clip(hours.astype(np.int64), 0, self.n_hours)]
        midnight = np.floor(local / 24.0) * 24.0
        slot = np.minimum(np.searchsorted(_DAYTIME_CDF, u, side="right") - 1, 23)
        fraction = (u - _DAYTIME_CDF[slot]) / (_DAYTIME_CDF[slot + 1] - _DAYTIME_CDF[slot])
        moved = hours + (midnight + slot + fraction) - local
        clipped: FloatArray = np.clip(moved, earliest, latest)
        return clipped

    def micros(self, hours: FloatArray) -> IntArray:
        """UTC epoch microseconds of calendar ``hours``."""
        return self.start_us + np.rint(hours * HOUR_US).astype(np.int64)

    def day_number(self, hours: FloatArray) -> IntArray:
        """Days since 1970-01-01 (date32) of calendar ``hours``, in UTC."""
        return (self.start_us // (24 * HOUR_US)) + np.floor(hours / 24.0).astype(np.int64)


# Separation between flattened curves; larger than any window length in operational days.
_SHIFT = 10_000.0
_DAYTIME_CDF = np.concatenate(([0.0], np.cumsum(_HOUR_ONLINE) / np.sum(_HOUR_ONLINE)))
