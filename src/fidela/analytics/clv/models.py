"""Per-customer rows of a CLV snapshot (the snapshot itself is an ``analytics_snapshot`` of
kind ``clv``).

Like the RFM and churn rows, they carry no foreign key to ``customer``: they describe the
customer as of the snapshot and must not stand in the way of a merge or an erasure.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from fidela.platform.db import Base
from fidela.platform.outbox.models import BigId


class AnalyticsCustomerClv(Base):
    """One customer's BG/NBD + Gamma-Gamma prediction in one CLV snapshot.

    ``frequency`` is repeat purchases (purchase periods after the first), ``recency_weeks`` and
    ``age_weeks`` are the BG/NBD ``t_x`` and ``T`` in weeks. Money is integer minor units of
    the snapshot's currency (in its ``params``).
    """

    __tablename__ = "analytics_customer_clv"

    snapshot_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("analytics_snapshot.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    frequency: Mapped[int] = mapped_column(Integer)
    # Model quantities, not money: float is their natural type (DESIGN.md's "never float" is
    # about amounts and points, which are the *_minor integers below).
    recency_weeks: Mapped[float] = mapped_column(Float)
    age_weeks: Mapped[float] = mapped_column(Float)
    p_alive: Mapped[float] = mapped_column(Float)
    expected_purchases: Mapped[float] = mapped_column(Float)
    expected_spend_minor: Mapped[int] = mapped_column(BigInteger)
    clv_minor: Mapped[int] = mapped_column(BigInteger)
    historical_minor: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_analytics_customer_clv_customer_id", "customer_id"),)
