"""Frequency caps: at most N marketing messages per calendar day (or ISO week) in the
recipient's timezone, per channel or across all channels.

Every rule applies; the strictest wins, which means the send is refused as soon as any rule
is full, and the reported rule is the one that frees up last. Transactional messages are
exempt and do not count either (a password reset must not eat the day's marketing budget,
and must never be refused by it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from fidela.engagement.policy.rules.errors import InvalidPolicy
from fidela.engagement.policy.rules.quiet_hours import local_instant
from fidela.kernel.errors import FieldProblem

Period = Literal["day", "week"]


@dataclass(frozen=True)
class CapRule:
    """``limit`` messages per ``period``; ``channel`` None means across channels."""

    limit: int
    period: Period = "day"
    channel: str | None = None

    def __post_init__(self) -> None:
        if self.limit < 0:
            raise InvalidPolicy(
                "a frequency cap cannot be negative", [FieldProblem("/caps/limit", "below 0")]
            )
        if self.period not in ("day", "week"):
            raise InvalidPolicy(
                "a frequency cap counts per day or per week",
                [FieldProblem("/caps/period", f"{self.period!r} is not day or week")],
            )


@dataclass(frozen=True)
class PastSend:
    """A message already planned or sent to the recipient."""

    at: datetime
    channel: str
    transactional: bool = False


@dataclass(frozen=True)
class CapVerdict:
    allowed: bool
    rule: CapRule | None = None
    free_at: datetime | None = None  # when the blocking rule's period ends


def period_bounds(at: datetime, zone: ZoneInfo, period: Period) -> tuple[datetime, datetime]:
    """The UTC bounds [start, end) of the local calendar day (or Monday-based week) holding
    ``at``. A local day is 23 or 25 hours long around DST changes."""
    day = at.astimezone(zone).date()
    if period == "week":
        day -= timedelta(days=day.weekday())
        length = 7
    else:
        length = 1
    return (
        local_instant(day, time(0), zone),
        local_instant(day + timedelta(days=length), time(0), zone),
    )


def check_caps(
    rules: Sequence[CapRule],
    history: Iterable[PastSend],
    *,
    channel: str,
    at: datetime,
    zone: ZoneInfo,
    transactional: bool = False,
) -> CapVerdict:
    if transactional or not rules:
        return CapVerdict(True)
    counted = [send for send in history if not send.transactional]
    blocking: list[tuple[datetime, CapRule]] = []
    for rule in rules:
        if rule.channel is not None and rule.channel != channel:
            continue
        start, end = period_bounds(at, zone, rule.period)
        used = sum(
            1
            for send in counted
            if start <= send.at < end and (rule.channel is None or send.channel == rule.channel)
        )
        if used >= rule.limit:
            blocking.append((end, rule))
    if not blocking:
        return CapVerdict(True)
    free_at, rule = max(blocking, key=lambda item: item[0])
    return CapVerdict(False, rule, free_at)
