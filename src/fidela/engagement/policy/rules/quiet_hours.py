"""Quiet hours: a window of local time (say 21:00-08:00) in which marketing is held back
until the window ends, in the recipient's own timezone.

A window whose start is after its end runs across midnight. Local times are turned back into
instants through ``zoneinfo``: on a spring-forward day a local time that does not exist
(02:30 in Paris on the last Sunday of March) moves forward by the gap (03:30), as wall clocks
do, and on a fall-back day an ambiguous time is its first occurrence (``fold=0``): nothing is
released inside the window or early.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fidela.engagement.policy.rules.errors import InvalidPolicy
from fidela.kernel.errors import FieldProblem


def zone_of(name: str | None, default: str) -> ZoneInfo:
    """The recipient's zone: their profile timezone when it names a real zone, else the
    default (a stale or mistyped profile value must not stop a send)."""
    for candidate in (name, default):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of local ``day`` at ``at`` (``fold=0``: the offset in force before a
    change, which moves a time inside a spring-forward gap forward by the gap)."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise InvalidPolicy(
                "quiet hours need a start different from their end",
                [FieldProblem("/quiet_hours", "start equals end")],
            )

    @classmethod
    def parse(cls, start: str, end: str, pointer: str = "/quiet_hours") -> QuietHours:
        try:
            return cls(time.fromisoformat(start), time.fromisoformat(end))
        except ValueError as exc:
            raise InvalidPolicy(
                "quiet hours are two local times like 21:00 and 08:00",
                [FieldProblem(pointer, str(exc))],
            ) from exc

    @property
    def crosses_midnight(self) -> bool:
        return self.start > self.end

    def contains(self, local: time) -> bool:
        if self.crosses_midnight:
            return local >= self.start or local < self.end
        return self.start <= local < self.end


def release_time(at: datetime, zone: ZoneInfo, quiet: QuietHours | None) -> datetime:
    """``at`` when it is outside the quiet window in ``zone``, else the instant the window
    ends (held until then)."""
    if quiet is None:
        return at
    local = at.astimezone(zone)
    if not quiet.contains(local.time().replace(tzinfo=None)):
        return at
    day = local.date()
    if quiet.crosses_midnight and local.time() >= quiet.start:
        day += timedelta(days=1)
    return local_instant(day, quiet.end, zone)
