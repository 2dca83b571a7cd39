"""Reward tables: the catalogue, redemptions, vouchers, charities, donations and pledges.

A catalogue entry keeps its validated JSON form (``definition``, read back through
``rules.load_reward``) next to the columns queries need. ``stock`` is a column, not part of
the definition: redemptions decrement it with a guarded ``UPDATE … WHERE stock >= 1`` while
an operator may edit the rest of the entry under its ``version``. Charity totals are sums
over ``charity_donation`` and ``charity_pledge_record`` (indexed by charity and pledge), so no
hot counter row is written per donation or per order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fidela.platform.db import Base
from fidela.platform.outbox.models import BigId
from fidela.platform.types import JSONDocument, UTCDateTime


class Reward(Base):
    __tablename__ = "reward"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    programme: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    cost_points: Mapped[int] = mapped_column(BigInteger)
    stock: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # None: unlimited
    definition: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_reward_programme_active", "programme", "active"),)


class RewardRedemption(Base):
    """One redemption on one channel. ``ledger_ref`` is the ledger spend's reference, so a
    cancellation names the same spend and the points return to their original lots."""

    __tablename__ = "reward_redemption"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    reward_id: Mapped[int] = mapped_column(BigId, ForeignKey("reward.id"))
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    programme: Mapped[str] = mapped_column(String(64))
    points: Mapped[int] = mapped_column(BigInteger)
    channel: Mapped[str] = mapped_column(String(16))
    store_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    status: Mapped[str] = mapped_column(String(16))  # active | cancelled
    ledger_ref: Mapped[str] = mapped_column(String(200), unique=True)
    value_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    actor: Mapped[str | None] = mapped_column(String(200), nullable=True)
    redeemed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        # Per-member limits count a member's redemptions of a reward in a period.
        Index(
            "ix_reward_redemption_customer_id_reward_id_redeemed_at",
            "customer_id",
            "reward_id",
            "redeemed_at",
        ),
        Index("ix_reward_redemption_reward_id", "reward_id"),
    )


class RewardVoucher(Base):
    """The code a redemption hands out. ``key`` (the canonical form of the code) is unique
    and is what a till's typed or scanned code is looked up by."""

    __tablename__ = "reward_voucher"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    redemption_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("reward_redemption.id"), unique=True
    )
    reward_id: Mapped[int] = mapped_column(BigId, ForeignKey("reward.id"))
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    code: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(64), unique=True)
    value_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    used_channel: Mapped[str | None] = mapped_column(String(16), nullable=True)
    used_store_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    used_order_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    discount_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (Index("ix_reward_voucher_customer_id_issued_at", "customer_id", "issued_at"),)


class Charity(Base):
    __tablename__ = "charity"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    definition: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CharityDonation(Base):
    """Points a member gave: a ledger spend (``ledger_ref``) with the money it is worth."""

    __tablename__ = "charity_donation"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    charity_id: Mapped[int] = mapped_column(BigId, ForeignKey("charity.id"))
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    programme: Mapped[str] = mapped_column(String(64))
    points: Mapped[int] = mapped_column(BigInteger)
    value_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    ledger_ref: Mapped[str] = mapped_column(String(200), unique=True)
    actor: Mapped[str | None] = mapped_column(String(200), nullable=True)
    donated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_charity_donation_charity_id", "charity_id"),
        # The daily limit reads a member's donations of the day.
        Index("ix_charity_donation_customer_id_donated_at", "customer_id", "donated_at"),
    )


class CharityPledge(Base):
    """ "A tree per purchase": impact the business buys per qualifying order."""

    __tablename__ = "charity_pledge"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    charity_id: Mapped[int] = mapped_column(BigId, ForeignKey("charity.id"))
    definition: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CharityPledgeRecord(Base):
    """The units one order triggered; unique per (pledge, event), so a replay adds none."""

    __tablename__ = "charity_pledge_record"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    pledge_id: Mapped[int] = mapped_column(BigId, ForeignKey("charity_pledge.id"))
    charity_id: Mapped[int] = mapped_column(BigId, ForeignKey("charity.id"))
    # NULL once the raw event is purged (retention); the record and its cost stay.
    event_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("event.id", ondelete="SET NULL"), nullable=True
    )
    customer_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("customer.id"), nullable=True)
    units: Mapped[int] = mapped_column(BigInteger)
    cost_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("pledge_id", "event_id"),
        Index("ix_charity_pledge_record_charity_id", "charity_id"),
        Index("ix_charity_pledge_record_event_id", "event_id"),
        Index("ix_charity_pledge_record_customer_id", "customer_id"),
    )
