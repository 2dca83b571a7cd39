"""Liability: the points a programme owes, what they are worth, and how many never get used.

Points are valued at a cost per point (a ``Decimal`` of money minor units per point), rounded
once, half-even, to whole minor units. Breakage is the share of issued points that expire:
realised over a period, and expected from matured cohorts (points earned in a month whose
lots have all had time to expire), which is the ratio IFRS 15 asks for.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fidela.kernel.errors import FieldProblem
from fidela.ledger.rules.errors import InvalidLiabilityInput
from fidela.ledger.rules.journal import Entry, EntryKind
from fidela.ledger.rules.lots import Lot, balance_as_of, require_aware


def _invalid(pointer: str, message: str) -> InvalidLiabilityInput:
    return InvalidLiabilityInput(f"{pointer}: {message}", [FieldProblem(pointer, message)])


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise _invalid("/timezone", f"'{timezone}' is not an IANA timezone") from None


@dataclass(frozen=True)
class Outstanding:
    """Points owed as of an instant: spendable (``active``) and held (``pending``); ``debt``
    is owed the other way (negative balances) and is not netted against the others."""

    active: int
    pending: int
    debt: int

    @property
    def points(self) -> int:
        return self.active + self.pending


def outstanding(lots: Iterable[Lot], now: datetime, *, debt: int = 0) -> Outstanding:
    """Outstanding points as of ``now``: expired points are excluded even before the job."""
    figures = balance_as_of(lots, now, debt=debt)
    return Outstanding(active=figures.available + debt, pending=figures.pending, debt=debt)


def points_value(
    points: int, cost_per_point_minor: Decimal, *, expected_breakage: Decimal = Decimal(0)
) -> int:
    """The value of ``points`` in money minor units: ``points * cost * (1 - breakage)``,
    rounded once, half-even (no per-member rounding to add up wrong)."""
    if not cost_per_point_minor.is_finite() or cost_per_point_minor < 0:
        raise _invalid("/cost_per_point_minor", "must be a finite number >= 0")
    if not expected_breakage.is_finite() or not 0 <= expected_breakage <= 1:
        raise _invalid("/expected_breakage", "must be within [0, 1]")
    exact = Decimal(points) * cost_per_point_minor * (1 - expected_breakage)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


@dataclass(frozen=True)
class Liability:
    outstanding: Outstanding
    value_minor: int  # of all outstanding points, before breakage
    expected_value_minor: int  # what is expected to be redeemed: after expected breakage
    expected_breakage: Decimal


def liability(
    lots: Iterable[Lot],
    now: datetime,
    *,
    cost_per_point_minor: Decimal,
    expected_breakage: Decimal = Decimal(0),
    debt: int = 0,
) -> Liability:
    """Outstanding points (active and pending: a held point is still owed) and their value."""
    owed = outstanding(lots, now, debt=debt)
    return Liability(
        outstanding=owed,
        value_minor=points_value(owed.points, cost_per_point_minor),
        expected_value_minor=points_value(
            owed.points, cost_per_point_minor, expected_breakage=expected_breakage
        ),
        expected_breakage=expected_breakage,
    )


@dataclass(frozen=True)
class PeriodFigures:
    """Movements of one calendar month (``period`` is ``YYYY-MM``), all as positive points."""

    period: str
    issued: int = 0
    clawed_back: int = 0
    redeemed: int = 0
    restored: int = 0
    expired: int = 0

    @property
    def net_issued(self) -> int:
        return self.issued - self.clawed_back

    @property
    def net_redeemed(self) -> int:
        return self.redeemed - self.restored


_FIGURE = {
    EntryKind.EARN: "issued",
    EntryKind.CLAWBACK: "clawed_back",
    EntryKind.SPEND: "redeemed",
    EntryKind.CANCEL: "restored",
    EntryKind.GIVE_BACK: "restored",
    EntryKind.EXPIRE: "expired",
}


def _month(at: datetime, zone: ZoneInfo) -> str:
    local = at.astimezone(zone)
    return f"{local.year:04d}-{local.month:02d}"


def figures_by_month(
    entries: Iterable[Entry], *, timezone: str = "UTC"
) -> tuple[PeriodFigures, ...]:
    """Issued, clawed back, redeemed, restored and expired points per month, oldest first.

    Activations only move points between buckets and appear nowhere; a movement counts in
    the month it took effect (an expiry at its deadline, not when the job ran).
    """
    zone = _zone(timezone)
    totals: dict[str, dict[str, int]] = {}
    for entry in entries:
        name = _FIGURE.get(entry.kind)
        if name is None:
            continue
        month = totals.setdefault(_month(entry.at, zone), {})
        month[name] = month.get(name, 0) + abs(entry.points)
    return tuple(PeriodFigures(period, **totals[period]) for period in sorted(totals))


@dataclass(frozen=True)
class Breakage:
    """``expired`` of ``issued`` points (issued net of clawbacks); ``rate`` is their ratio,
    ``None`` when nothing was issued."""

    issued: int
    expired: int

    @property
    def rate(self) -> Decimal | None:
        return Decimal(self.expired) / Decimal(self.issued) if self.issued > 0 else None


def realised_breakage(entries: Iterable[Entry], *, start: datetime, end: datetime) -> Breakage:
    """Points expired in ``[start, end)`` against points issued (net of clawbacks) in it."""
    require_aware(start, "start")
    require_aware(end, "end")
    issued = 0
    expired = 0
    for entry in entries:
        if not start <= entry.at < end:
            continue
        if entry.kind in (EntryKind.EARN, EntryKind.CLAWBACK):
            issued += entry.points
        elif entry.kind is EntryKind.EXPIRE:
            expired -= entry.points
    return Breakage(issued=issued, expired=expired)


def _months_after(month_start: date, months: int) -> date:
    year, index = divmod(month_start.month - 1 + months, 12)
    return date(month_start.year + year, index + 1, 1)


def expected_breakage(
    entries: Iterable[Entry], *, now: datetime, matured_after_months: int, timezone: str = "UTC"
) -> Breakage:
    """Breakage of the matured cohorts, as the expectation for points outstanding now.

    A cohort is the lots earned in one calendar month; it has matured when
    ``matured_after_months`` full months have passed since the month ended (set it to the
    longest validity the programme gives). Its points are issued net of the clawbacks of its
    lots and its breakage is what its lots expired, including points that came back expired
    when a spend was cancelled. Debt clawbacks belong to no lot and to no cohort.
    """
    require_aware(now, "now")
    if matured_after_months < 0:
        raise _invalid("/matured_after_months", "must not be negative")
    zone = _zone(timezone)
    local_now = now.astimezone(zone)
    cutoff = _months_after(date(local_now.year, local_now.month, 1), -matured_after_months - 1)
    matured: set[int] = set()
    issued = 0
    moves: list[Entry] = []
    for entry in entries:
        if entry.lot_id is None:
            continue
        if entry.kind is EntryKind.EARN:
            local = entry.at.astimezone(zone)
            if date(local.year, local.month, 1) <= cutoff:
                matured.add(entry.lot_id)
                issued += entry.points
        elif entry.kind in (EntryKind.CLAWBACK, EntryKind.EXPIRE):
            moves.append(entry)
    expired = 0
    for entry in moves:
        if entry.lot_id not in matured:
            continue
        if entry.kind is EntryKind.CLAWBACK:
            issued += entry.points
        else:
            expired -= entry.points
    return Breakage(issued=issued, expired=expired)
