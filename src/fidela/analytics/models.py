"""Analytics snapshots: results computed for an ``as_of`` (and parameters), read by the API.

A snapshot is derived data: recomputing it for the same (kind, as_of, parameters) replaces
it. Per-customer RFM rows carry no foreign key to ``customer``: they describe the customer
as of the snapshot and must not stand in the way of a merge or an erasure.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fidela.platform.db import Base
from fidela.platform.outbox.models import BigId
from fidela.platform.types import JSONDocument, UTCDateTime


class AnalyticsSnapshot(Base):
    __tablename__ = "analytics_snapshot"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    # SHA-256 of the canonical JSON of ``params``: the parameters as part of the key.
    params_key: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    engine: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    row_count: Mapped[int] = mapped_column(Integer, default=0)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        UniqueConstraint("kind", "as_of", "params_key"),
        Index("ix_analytics_snapshot_kind_params_key_as_of", "kind", "params_key", "as_of"),
    )


class AnalyticsCustomerRfm(Base):
    """One customer's summary, scores and segments in one RFM snapshot."""

    __tablename__ = "analytics_customer_rfm"

    snapshot_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("analytics_snapshot.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    orders: Mapped[int] = mapped_column(Integer)
    frequency: Mapped[int] = mapped_column(Integer)
    recency: Mapped[int] = mapped_column(Integer)
    age_days: Mapped[int] = mapped_column(Integer)
    days_since_last: Mapped[int] = mapped_column(Integer)
    total_minor: Mapped[int] = mapped_column(BigInteger)
    repeat_value_minor: Mapped[int] = mapped_column(BigInteger)
    r: Mapped[int] = mapped_column(Integer)
    f: Mapped[int] = mapped_column(Integer)
    m: Mapped[int] = mapped_column(Integer)
    segment: Mapped[str] = mapped_column(String(32))
    value_segment: Mapped[str] = mapped_column(String(16))
    preferred_channel: Mapped[str | None] = mapped_column(String(32), nullable=True)

    __table_args__ = (Index("ix_analytics_customer_rfm_customer_id", "customer_id"),)
