"""Referral tables: the programme's terms, members' codes, and one row per referee.

A referee can be referred once (``referee_id`` is unique); the row moves through
``claimed`` → ``rewarded`` | ``held`` | ``limit_reached``, and a held one → ``rewarded`` |
``rejected`` by a reviewer. Every move is a guarded ``UPDATE … WHERE status = :from``, and
the points are ledger earns keyed by the referral, so a replayed completion pays nothing twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from fidela.platform.db import Base
from fidela.platform.outbox.models import BigId
from fidela.platform.types import JSONDocument, UTCDateTime


class ReferralProgramme(Base):
    """What a completed referral pays, when it completes, and the fraud thresholds."""

    __tablename__ = "referral_programme"

    programme: Mapped[str] = mapped_column(String(64), primary_key=True)
    trigger: Mapped[str] = mapped_column(String(16))  # signup | first_purchase
    referrer_points: Mapped[int] = mapped_column(BigInteger)
    referee_points: Mapped[int] = mapped_column(BigInteger)
    max_rewards_per_referrer: Mapped[int | None] = mapped_column(Integer, nullable=True)
    burst_max: Mapped[int] = mapped_column(Integer)
    burst_window_hours: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReferralCode(Base):
    __tablename__ = "referral_code"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"), unique=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # canonical (voucher_key) form
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Referral(Base):
    __tablename__ = "referral"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    programme: Mapped[str] = mapped_column(String(64))
    code_id: Mapped[int] = mapped_column(BigId, ForeignKey("referral_code.id"))
    referrer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    referee_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"), unique=True)
    source: Mapped[str | None] = mapped_column(String(200), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    completion_event_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("event.id", ondelete="SET NULL"), nullable=True
    )
    referrer_points: Mapped[int] = mapped_column(BigInteger, default=0)
    referee_points: Mapped[int] = mapped_column(BigInteger, default=0)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reviewed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)

    __table_args__ = (
        # Burst checks read the recent completions of one referrer, or from one source.
        Index("ix_referral_referrer_id_completed_at", "referrer_id", "completed_at"),
        Index("ix_referral_source_completed_at", "source", "completed_at"),
        Index("ix_referral_status", "status"),
        # The retention job deletes raw events: the completions naming them are found here.
        Index("ix_referral_completion_event_id", "completion_event_id"),
        Index("ix_referral_code_id", "code_id"),
    )
