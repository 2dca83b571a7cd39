"""Per-customer recommendations of a recommendation snapshot."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from fidela.platform.db import Base
from fidela.platform.outbox.models import BigId
from fidela.platform.types import JSONDocument


class AnalyticsCustomerRecommendation(Base):
    __tablename__ = "analytics_customer_recommendation"

    snapshot_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("analytics_snapshot.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    products: Mapped[list[str]] = mapped_column(JSONDocument)  # best first

    __table_args__ = (Index("ix_analytics_customer_recommendation_customer_id", "customer_id"),)
