"""Operational time: a bijection with calendar time whose density follows the seasons."""

from __future__ import annotations

import datetime
import zoneinfo

import numpy as np

from fidela.demo.seasonality import ONLINE_CURVE, STORE_CURVE, Calendar
from fidela.demo.vocabulary import TIMEZONES

START = datetime.date(2023, 10, 31)
END = datetime.date(2026, 10, 31)
CALENDAR = Calendar.build(START, END, TIMEZONES)
PARIS = TIMEZONES.index("Europe/Paris")
TORONTO = TIMEZONES.index("America/Toronto")


def test_operational_time_maps_back_to_calendar_time() -> None:
    rng = np.random.default_rng(1)
    hours = rng.uniform(0, CALENDAR.hours, 50_000)
    curve = rng.integers(0, 2 * len(TIMEZONES), hours.size)
    back = CALENDAR.to_calendar(curve, CALENDAR.to_operational(curve, hours))
    assert np.abs(back - hours).max() < 1e-6


def test_operational_window_is_as_long_as_the_calendar_window() -> None:
    curve = np.arange(2 * len(TIMEZONES))
    assert np.allclose(CALENDAR.to_operational(curve, np.zeros(curve.size)), 0.0)
    end = CALENDAR.to_operational(curve, np.full(curve.size, CALENDAR.hours))
    assert np.allclose(end, (END - START).days)


def _mapped_local_times(kind: int, zone: int) -> list[datetime.datetime]:
    rng = np.random.default_rng(2)
    tau = rng.uniform(0, CALENDAR.days, 20_000)
    curve = CALENDAR.curve(np.full(tau.size, kind), np.full(tau.size, zone))
    hours = CALENDAR.to_calendar(curve, tau)
    origin = datetime.datetime.combine(START, datetime.time(0), tzinfo=datetime.UTC)
    tz = zoneinfo.ZoneInfo(TIMEZONES[zone])
    return [(origin + datetime.timedelta(hours=float(h))).astimezone(tz) for h in hours]


def test_store_purchases_fall_in_local_opening_hours_and_peak_on_saturday() -> None:
    for zone in (PARIS, TORONTO):
        times = _mapped_local_times(STORE_CURVE, zone)
        open_hours = np.mean([8 <= t.hour < 21 for t in times])
        assert open_hours > 0.99
        weekday = np.bincount([t.weekday() for t in times], minlength=7) / len(times)
        assert weekday[5] == weekday.max()
        assert weekday[6] < weekday[2]


def test_online_purchases_peak_in_the_evening_and_before_christmas() -> None:
    times = _mapped_local_times(ONLINE_CURVE, PARIS)
    hour = np.bincount([t.hour for t in times], minlength=24)
    assert hour[20] + hour[21] > 3 * (hour[3] + hour[4])
    december = np.mean([t.month == 12 and t.day <= 23 for t in times]) / (3 * 23)
    april = np.mean([t.month == 4 for t in times]) / (3 * 30)
    assert 1.3 < december / april < 1.7
