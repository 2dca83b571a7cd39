"""Loading and storing segments and their membership rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from fidela.segment.models import Segment, SegmentMembership
from fidela.segment.rules import SegmentNotFound


def get_segment(session: Session, segment_id: int) -> Segment:
    segment = session.get(Segment, segment_id)
    if segment is None:
        raise SegmentNotFound(f"no segment {segment_id}")
    return segment


def find_segment_by_key(session: Session, key: str) -> Segment | None:
    return session.scalars(select(Segment).where(Segment.key == key)).one_or_none()


def list_segments(session: Session, *, after_id: int, limit: int) -> Sequence[Segment]:
    return session.scalars(
        select(Segment).where(Segment.id > after_id).order_by(Segment.id).limit(limit)
    ).all()


def add_segment(session: Session, segment: Segment) -> Segment:
    session.add(segment)
    session.flush()
    return segment


def update_segment_if_version(
    session: Session, *, segment_id: int, expected_version: int, values: dict[str, Any]
) -> bool:
    """Compare-and-set: applies ``values`` and bumps the version only if it still is
    ``expected_version``; False when someone else got there first."""
    result = session.execute(
        update(Segment)
        .where(Segment.id == segment_id, Segment.version == expected_version)
        .values(**values, version=Segment.version + 1)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def open_member_ids(session: Session, segment_id: int) -> list[int]:
    return list(
        session.scalars(
            select(SegmentMembership.customer_id).where(
                SegmentMembership.segment_id == segment_id, SegmentMembership.exited_at.is_(None)
            )
        )
    )


def add_entries(
    session: Session, *, segment_id: int, customer_ids: Sequence[int], now: datetime
) -> None:
    if customer_ids:
        session.execute(
            insert(SegmentMembership),
            [
                {"segment_id": segment_id, "customer_id": c, "entered_at": now, "exited_at": None}
                for c in customer_ids
            ],
        )


def close_entries(
    session: Session, *, segment_id: int, customer_ids: Sequence[int], now: datetime
) -> None:
    # Chunks keep the IN list well below every driver's parameter limit.
    for start in range(0, len(customer_ids), 5_000):
        session.execute(
            update(SegmentMembership)
            .where(
                SegmentMembership.segment_id == segment_id,
                SegmentMembership.exited_at.is_(None),
                SegmentMembership.customer_id.in_(customer_ids[start : start + 5_000]),
            )
            .values(exited_at=now)
            .execution_options(synchronize_session=False)
        )


def list_members(
    session: Session, *, segment_id: int, after_customer_id: int, limit: int
) -> Sequence[SegmentMembership]:
    return session.scalars(
        select(SegmentMembership)
        .where(
            SegmentMembership.segment_id == segment_id,
            SegmentMembership.exited_at.is_(None),
            SegmentMembership.customer_id > after_customer_id,
        )
        .order_by(SegmentMembership.customer_id)
        .limit(limit)
    ).all()


def list_history(
    session: Session, *, segment_id: int, customer_id: int | None, after_id: int, limit: int
) -> Sequence[SegmentMembership]:
    query = select(SegmentMembership).where(
        SegmentMembership.segment_id == segment_id, SegmentMembership.id > after_id
    )
    if customer_id is not None:
        query = query.where(SegmentMembership.customer_id == customer_id)
    return session.scalars(query.order_by(SegmentMembership.id).limit(limit)).all()


def count_rows(session: Session, query: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def current_keys_of(session: Session, customer_ids: Sequence[int]) -> dict[int, set[str]]:
    """customer id -> keys of the segments they are in now, for many customers in one query
    (customers in none are absent)."""
    rows = session.execute(
        select(SegmentMembership.customer_id, Segment.key)
        .join(Segment, Segment.id == SegmentMembership.segment_id)
        .where(
            SegmentMembership.customer_id.in_(list(customer_ids)),
            SegmentMembership.exited_at.is_(None),
        )
    ).all()
    found: dict[int, set[str]] = {}
    for customer_id, key in rows:
        found.setdefault(int(customer_id), set()).add(key)
    return found


def list_current_for_customer(
    session: Session, *, customer_id: int
) -> Sequence[tuple[str, str, datetime]]:
    """(key, name, entered_at) of every segment the customer is in now, by key."""
    rows = session.execute(
        select(Segment.key, Segment.name, SegmentMembership.entered_at)
        .join(SegmentMembership, SegmentMembership.segment_id == Segment.id)
        .where(
            SegmentMembership.customer_id == customer_id,
            SegmentMembership.exited_at.is_(None),
        )
        .order_by(Segment.key)
    ).all()
    return [(key, name, entered_at) for key, name, entered_at in rows]
