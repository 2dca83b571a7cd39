"""Per-customer rows of a churn snapshot (the snapshot itself is an ``analytics_snapshot``).

Like the RFM rows, they carry no foreign key to ``customer``: they describe the customer as of
the snapshot and must not stand in the way of a merge or an erasure.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from fidela.platform.db import Base
from fidela.platform.outbox.models import BigId
from fidela.platform.types import JSONDocument


class AnalyticsCustomerChurn(Base):
    __tablename__ = "analytics_customer_churn"

    snapshot_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("analytics_snapshot.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # A probability, not money: float is the natural type (DESIGN.md's "never float" is about
    # amounts and points).
    risk: Mapped[float] = mapped_column(Float)
    warning_score: Mapped[float] = mapped_column(Float)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    warnings: Mapped[list[str]] = mapped_column(JSONDocument)

    __table_args__ = (Index("ix_analytics_customer_churn_customer_id", "customer_id"),)
