"""Tier tables: ladder versions per programme, each member's standing, and its history.

A ladder is stored as its validated JSON form with a version (compare-and-set); every
version is kept, so a member still standing under an older version is moved to the new one
by ``apply_ladder_change`` (never lower) the next time they are evaluated.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fidela.platform.db import Base
from fidela.platform.outbox.models import BigId
from fidela.platform.types import JSONDocument, UTCDateTime


class TierLadderVersion(Base):
    __tablename__ = "tier_ladder"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    programme_id: Mapped[int] = mapped_column(BigId, ForeignKey("loyalty_programme.id"))
    version: Mapped[int] = mapped_column(Integer)
    ladder: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("programme_id", "version"),)


class TierMembership(Base):
    """A member's standing on their programme's ladder (see ``tier.rules.Membership``);
    ``before_upgrade`` is the JSON form of the standing the last upgrade replaced."""

    __tablename__ = "tier_membership"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    programme_id: Mapped[int] = mapped_column(BigId, ForeignKey("loyalty_programme.id"))
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    ladder_version: Mapped[int] = mapped_column(Integer)
    tier_code: Mapped[str] = mapped_column(String(64))
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    review_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    grace_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    upgraded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    upgrade_order_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    before_upgrade: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("customer_id", "programme_id"),
        # The review job finds the memberships whose review or grace fell due.
        Index("ix_tier_membership_review_at", "review_at"),
        Index("ix_tier_membership_grace_until", "grace_until"),
    )


class TierChange(Base):
    """One dated transition of a member's tier (append-only history)."""

    __tablename__ = "tier_change"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    programme_id: Mapped[int] = mapped_column(BigId, ForeignKey("loyalty_programme.id"))
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(16))
    cause: Mapped[str] = mapped_column(String(32))
    from_code: Mapped[str] = mapped_column(String(64))
    to_code: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(String(500))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_tier_change_customer_id_at", "customer_id", "at"),)
