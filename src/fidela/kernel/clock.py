"""Time helpers. Rules never read the clock: shells call :func:`utc_now` once per unit of work
and pass ``now`` down."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """The current instant, timezone-aware UTC. Only shells and the platform call this."""
    return datetime.now(UTC)


def ensure_utc(value: datetime) -> datetime:
    """Return ``value`` in UTC; a naive datetime is refused rather than guessed."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime: timezone-aware datetimes only")
    return value.astimezone(UTC)
