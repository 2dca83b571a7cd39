"""Snapshot storage: replace-on-recompute, latest-by-as_of reads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from fidela.analytics.churn.models import AnalyticsCustomerChurn
from fidela.analytics.clv.models import AnalyticsCustomerClv
from fidela.analytics.models import AnalyticsCustomerRfm, AnalyticsSnapshot

_RFM_COLUMNS = (
    "customer_id",
    "orders",
    "frequency",
    "recency",
    "days_since_last",
    "total_minor",
    "repeat_value_minor",
    "r",
    "f",
    "m",
    "segment",
    "value_segment",
    "preferred_channel",
)
_CHUNK = 10_000


def replace_snapshot(session: Session, snapshot: AnalyticsSnapshot) -> AnalyticsSnapshot:
    """Store ``snapshot``, replacing any earlier one with the same key (its rows cascade)."""
    session.execute(
        delete(AnalyticsCustomerRfm).where(
            AnalyticsCustomerRfm.snapshot_id.in_(
                select(AnalyticsSnapshot.id).where(
                    AnalyticsSnapshot.kind == snapshot.kind,
                    AnalyticsSnapshot.as_of == snapshot.as_of,
                    AnalyticsSnapshot.params_key == snapshot.params_key,
                )
            )
        )
    )
    session.execute(
        delete(AnalyticsSnapshot).where(
            AnalyticsSnapshot.kind == snapshot.kind,
            AnalyticsSnapshot.as_of == snapshot.as_of,
            AnalyticsSnapshot.params_key == snapshot.params_key,
        )
    )
    session.add(snapshot)
    session.flush()
    return snapshot


def add_rfm_rows(session: Session, snapshot_id: int, rows: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        session.execute(
            insert(AnalyticsCustomerRfm),
            [
                {
                    "snapshot_id": snapshot_id,
                    "age_days": row["T"],
                    **{column: row[column] for column in _RFM_COLUMNS},
                }
                for row in chunk
            ],
        )


def find_snapshot(
    session: Session, *, kind: str, params_key: str, as_of: datetime | None
) -> AnalyticsSnapshot | None:
    """The snapshot for exactly ``as_of``, or the latest one when ``as_of`` is None."""
    query = select(AnalyticsSnapshot).where(
        AnalyticsSnapshot.kind == kind, AnalyticsSnapshot.params_key == params_key
    )
    if as_of is not None:
        query = query.where(AnalyticsSnapshot.as_of == as_of)
    return session.scalars(query.order_by(AnalyticsSnapshot.as_of.desc()).limit(1)).first()


def list_snapshots(session: Session, *, kind: str | None, limit: int) -> list[AnalyticsSnapshot]:
    query = select(AnalyticsSnapshot)
    if kind is not None:
        query = query.where(AnalyticsSnapshot.kind == kind)
    query = query.order_by(AnalyticsSnapshot.as_of.desc(), AnalyticsSnapshot.id.desc())
    return list(session.scalars(query.limit(limit)))


def find_customer_rfm(
    session: Session, *, snapshot_id: int, customer_id: int
) -> AnalyticsCustomerRfm | None:
    return session.get(AnalyticsCustomerRfm, (snapshot_id, customer_id))


def find_latest_customer_churn(
    session: Session, *, customer_id: int
) -> tuple[datetime, AnalyticsCustomerChurn] | None:
    """(as_of, row) of the customer in the newest churn snapshot that scored them."""
    found = session.execute(
        select(AnalyticsSnapshot.as_of, AnalyticsCustomerChurn)
        .join(AnalyticsCustomerChurn, AnalyticsCustomerChurn.snapshot_id == AnalyticsSnapshot.id)
        .where(AnalyticsCustomerChurn.customer_id == customer_id)
        .order_by(AnalyticsSnapshot.as_of.desc(), AnalyticsSnapshot.id.desc())
        .limit(1)
    ).first()
    return None if found is None else (found[0], found[1])


def find_latest_customer_clv(
    session: Session, *, customer_id: int
) -> tuple[AnalyticsSnapshot, AnalyticsCustomerClv] | None:
    """(snapshot, row) of the customer in the newest CLV snapshot that values them."""
    found = session.execute(
        select(AnalyticsSnapshot, AnalyticsCustomerClv)
        .join(AnalyticsCustomerClv, AnalyticsCustomerClv.snapshot_id == AnalyticsSnapshot.id)
        .where(AnalyticsCustomerClv.customer_id == customer_id)
        .order_by(AnalyticsSnapshot.as_of.desc(), AnalyticsSnapshot.id.desc())
        .limit(1)
    ).first()
    return None if found is None else (found[0], found[1])
