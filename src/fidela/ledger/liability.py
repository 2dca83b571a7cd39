"""Liability queries: what a programme owes in points and money, and what it issued,
redeemed and lost to expiry per month (see the pure ``rules.liability``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from fidela.ledger.models import LedgerAccount, LedgerEntry, LedgerLot
from fidela.ledger.rules import Bucket, Entry, EntryKind
from fidela.ledger.rules.liability import (
    Breakage,
    Outstanding,
    PeriodFigures,
    expected_breakage,
    figures_by_month,
    points_value,
    realised_breakage,
)
from fidela.ledger.rules.lots import LotState


@dataclass(frozen=True)
class LiabilityReport:
    programme: str
    as_of: datetime
    outstanding: Outstanding
    cost_per_point_minor: Decimal
    value_minor: int  # all outstanding points at cost
    expected_breakage: Breakage  # of the matured monthly cohorts
    expected_value_minor: int  # after expected breakage
    realised_breakage: Breakage  # over [start, end)
    periods: tuple[PeriodFigures, ...]  # issued / redeemed / expired per month in [start, end)


def outstanding_points(session: Session, *, programme: str, now: datetime) -> Outstanding:
    """Points owed as of ``now``, summed in the database: spendable (active, or pending whose
    hold ended, and not expired even if the job has not run), still held, and debt."""
    active_now = and_(
        or_(
            LedgerLot.state == LotState.ACTIVE.value,
            and_(LedgerLot.activates_at.is_not(None), LedgerLot.activates_at <= now),
        ),
        or_(LedgerLot.expires_at.is_(None), LedgerLot.expires_at > now),
    )
    held_now = and_(
        LedgerLot.state == LotState.PENDING.value,
        or_(LedgerLot.activates_at.is_(None), LedgerLot.activates_at > now),
    )
    accounts = select(LedgerAccount.id).where(LedgerAccount.programme == programme)
    row = session.execute(
        select(
            func.coalesce(func.sum(case((active_now, LedgerLot.remaining), else_=0)), 0),
            func.coalesce(func.sum(case((held_now, LedgerLot.remaining), else_=0)), 0),
        ).where(LedgerLot.account_id.in_(accounts.scalar_subquery()), LedgerLot.remaining > 0)
    ).one()
    debt = session.execute(
        select(func.coalesce(func.sum(LedgerAccount.debt), 0)).where(
            LedgerAccount.programme == programme
        )
    ).scalar_one()
    return Outstanding(active=int(row[0]), pending=int(row[1]), debt=int(debt))


def _entries(session: Session, programme: str, before: datetime) -> list[Entry]:
    rows = session.execute(
        select(
            LedgerEntry.kind,
            LedgerEntry.bucket,
            LedgerEntry.points,
            LedgerEntry.at,
            LedgerEntry.lot_id,
        )
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(LedgerAccount.programme == programme, LedgerEntry.at < before)
    ).all()
    return [
        Entry(EntryKind(kind), Bucket(bucket), int(points), at, None, lot_id)
        for kind, bucket, points, at, lot_id in rows
    ]


def liability_report(
    session: Session,
    *,
    programme: str,
    cost_per_point_minor: Decimal,
    now: datetime,
    start: datetime,
    end: datetime,
    matured_after_months: int = 12,
    timezone: str = "UTC",
) -> LiabilityReport:
    """Outstanding points and their value as of ``now``; breakage expected from the cohorts
    matured ``matured_after_months`` after their month; realised breakage and monthly
    figures over ``[start, end)``."""
    owed = outstanding_points(session, programme=programme, now=now)
    entries = _entries(session, programme, max(now, end))
    expected = expected_breakage(
        [e for e in entries if e.at <= now],
        now=now,
        matured_after_months=matured_after_months,
        timezone=timezone,
    )
    rate = expected.rate if expected.rate is not None else Decimal(0)
    rate = min(max(rate, Decimal(0)), Decimal(1))
    return LiabilityReport(
        programme=programme,
        as_of=now,
        outstanding=owed,
        cost_per_point_minor=cost_per_point_minor,
        value_minor=points_value(owed.points, cost_per_point_minor),
        expected_breakage=expected,
        expected_value_minor=points_value(
            owed.points, cost_per_point_minor, expected_breakage=rate
        ),
        realised_breakage=realised_breakage(entries, start=start, end=end),
        periods=figures_by_month([e for e in entries if start <= e.at < end], timezone=timezone),
    )
