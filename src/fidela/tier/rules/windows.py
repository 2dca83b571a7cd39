"""Calendar arithmetic of qualification windows, in the ladder's timezone.

Every window is ``(start, end]``. Months are calendar months in local time, and the 31st
becomes the month's last day (31 January + 1 month = 28 February).
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from fidela.tier.rules.ladder import TierLadder, WindowKind
from fidela.tier.rules.membership import Membership


def anchor_of(state: Membership) -> datetime:
    return state.upgraded_at or state.joined_at


def ladder_zone(ladder: TierLadder) -> ZoneInfo:
    return ZoneInfo(ladder.timezone)


def local_day(ladder: TierLadder, moment: datetime | None) -> str:
    return moment.astimezone(ladder_zone(ladder)).date().isoformat() if moment else "-"


def add_months(moment: datetime, months: int, zone: ZoneInfo) -> datetime:
    """Calendar months in local time; the 31st becomes the month's last day (Jan 31 -> Feb 28)."""
    local = moment.astimezone(zone)
    year, month = divmod(local.year * 12 + local.month - 1 + months, 12)
    day = min(local.day, calendar.monthrange(year, month + 1)[1])
    return local.replace(year=year, month=month + 1, day=day).astimezone(UTC)


def year_start(moment: datetime, zone: ZoneInfo, offset: int = 0) -> datetime:
    return datetime(moment.astimezone(zone).year + offset, 1, 1, tzinfo=zone).astimezone(UTC)


def anniversary(anchor: datetime, moment: datetime, zone: ZoneInfo, after: int = 0) -> datetime:
    """The last anniversary of ``anchor`` at or before ``moment``, plus ``after`` years.

    Always counted from the anchor itself, so a 29 February anchor does not drift to the 28th.
    """
    years = moment.astimezone(zone).year - anchor.astimezone(zone).year
    while add_months(anchor, 12 * years, zone) > moment:
        years -= 1
    while add_months(anchor, 12 * (years + 1), zone) <= moment:
        years += 1
    return add_months(anchor, 12 * (years + after), zone)


def current_start(ladder: TierLadder, state: Membership, at: datetime) -> datetime | None:
    """Start of the window that qualifies at ``at``; None counts everything."""
    zone, kind = ladder_zone(ladder), ladder.window.kind
    if kind is WindowKind.LIFETIME:
        return None
    if kind is WindowKind.CALENDAR_YEAR:
        return year_start(at, zone)
    if kind is WindowKind.ROLLING:
        return add_months(at, -(ladder.window.months or 0), zone)
    return anniversary(anchor_of(state), at, zone)


def current_end(ladder: TierLadder, state: Membership, at: datetime) -> datetime | None:
    """When the current window resets (calendar, anniversary); rolling and lifetime never do."""
    zone, kind = ladder_zone(ladder), ladder.window.kind
    if kind is WindowKind.CALENDAR_YEAR:
        return year_start(at, zone, 1)
    if kind is WindowKind.ANNIVERSARY:
        return anniversary(anchor_of(state), at, zone, after=1)
    return None


def window_end(ladder: TierLadder, start: datetime, anchor: datetime) -> datetime | None:
    """End of the window that starts at ``start``: the review date of a tier entered then."""
    zone, kind = ladder_zone(ladder), ladder.window.kind
    if kind is WindowKind.LIFETIME:
        return None
    if kind is WindowKind.CALENDAR_YEAR:
        return year_start(start, zone, 1)
    if kind is WindowKind.ROLLING:
        return add_months(start, ladder.window.months or 0, zone)
    return anniversary(anchor, start, zone, after=1)


def upgrade_hold(ladder: TierLadder, at: datetime) -> tuple[datetime | None, datetime | None]:
    """The window a tier entered by upgrade at ``at`` is judged on: ``(period_start, review_at)``.

    Rolling and anniversary windows start at the upgrade. A calendar-year window cannot start
    mid-year, so the status is held through the next full calendar year and judged on it (the
    airline convention): a tier reached in November is not reviewed on six weeks of activity.
    """
    if ladder.window.kind is WindowKind.LIFETIME:
        return None, None
    if ladder.window.kind is WindowKind.CALENDAR_YEAR:
        zone = ladder_zone(ladder)
        return year_start(at, zone, 1), year_start(at, zone, 2)
    return at, window_end(ladder, at, at)


def review_start(ladder: TierLadder, state: Membership, review_at: datetime) -> datetime | None:
    if ladder.window.kind is WindowKind.LIFETIME:
        return None
    if state.period_start is not None:
        return state.period_start
    return add_months(review_at, -(ladder.window.length_months or 0), ladder_zone(ladder))
