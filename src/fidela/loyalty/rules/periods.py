"""Calendar periods and time windows, always read in local time of a named timezone.

A **period** (day, ISO week starting Monday, month, year, or ever) is identified by a
**bucket** label computed from the local time of an instant: the same instant falls in
different days in Paris and in Tokyo, so every bucket is computed in one timezone (the
member's when the service knows it, else the programme's). Counters are kept per bucket; a
new bucket starts at zero, which is how a monthly cap "resets" without any job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fidela.kernel.errors import FieldProblem
from fidela.loyalty.rules.errors import InvalidEarningInput

MINUTES_PER_DAY = 24 * 60
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = datetime.weekday()


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"  # ISO 8601 week: Monday to Sunday, numbered within its ISO year
    MONTH = "month"
    YEAR = "year"
    EVER = "ever"  # one bucket for the member's whole life: "once ever" limits, lifetime caps


@lru_cache(maxsize=256)
def zone(name: str, pointer: str = "/timezone") -> tzinfo:
    """The IANA timezone ``name``; an unknown name is an input error, never UTC by default."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidEarningInput(
            f"'{name}' is not an IANA timezone", [FieldProblem(pointer, "unknown timezone")]
        ) from None


def local_time(at: datetime, timezone: str) -> datetime:
    """``at`` (timezone-aware) seen on the wall clock of ``timezone``."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidEarningInput(
            "naive datetime: timezone-aware datetimes only",
            [FieldProblem("/occurred_at", "must carry a timezone offset")],
        )
    return at.astimezone(zone(timezone))


def bucket(period: Period, local: datetime) -> str:
    """The label of the ``period`` containing the local time ``local``.

    Labels are self-describing (``day:2026-11-02``, ``week:2026-W45``, ``month:2026-11``,
    ``year:2026``, ``ever``) so a stored counter says which period it counts.
    """
    if period is Period.DAY:
        return f"day:{local.date().isoformat()}"
    if period is Period.WEEK:
        iso = local.isocalendar()
        return f"week:{iso.year}-W{iso.week:02d}"
    if period is Period.MONTH:
        return f"month:{local.year:04d}-{local.month:02d}"
    if period is Period.YEAR:
        return f"year:{local.year:04d}"
    return "ever"


@dataclass(frozen=True)
class DateRange:
    """Local calendar dates ``first`` to ``last``, both included (e.g. a Black Friday week)."""

    first: date
    last: date

    def contains(self, local: datetime) -> bool:
        return self.first <= local.date() <= self.last


@dataclass(frozen=True)
class HourWindow:
    """Local wall-clock minutes ``start`` (included) to ``end`` (excluded) on some weekdays.

    ``days`` holds ``datetime.weekday()`` numbers (Monday = 0). When ``end <= start`` the
    window crosses midnight and belongs to the day it starts on: Friday 22:00-02:00 matches
    Saturday 01:30, not Friday 01:30. Wall-clock minutes follow the timezone's DST changes.
    """

    days: frozenset[int]
    start: int
    end: int

    def contains(self, local: datetime) -> bool:
        minute = local.hour * 60 + local.minute
        day = local.weekday()
        if self.start < self.end:
            return day in self.days and self.start <= minute < self.end
        previous = (day - 1) % 7
        return (day in self.days and minute >= self.start) or (
            previous in self.days and minute < self.end
        )
