"""Loyalty tables: programmes, the versions of their rule sets, the counters the earning
rules read (caps, limits, punch cards, budgets) and what each order earned.

A programme's configuration is data: its rule set is stored as the validated JSON the
operator sent, with a ``version`` for compare-and-set updates; every version is kept in
``loyalty_rule_set`` so a ledger entry's reason (``v3:base,weekend``) can always be traced
to the rules that awarded it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fidela.platform.db import Base
from fidela.platform.outbox.models import BigId
from fidela.platform.types import JSONDocument, UTCDateTime


class LoyaltyProgramme(Base):
    """One programme. ``code`` names its ledger accounts (``ledger_account.programme``).

    ``cost_per_point_minor`` is a decimal written as text (exact, portable): what one point
    costs the business in minor units of ``currency``. ``hold`` and ``expiry`` are the
    validated JSON forms of the pending window and the expiry schedule.
    """

    __tablename__ = "loyalty_programme"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    cost_per_point_minor: Mapped[str] = mapped_column(String(40))
    return_policy: Mapped[str] = mapped_column(String(16))
    hold: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    expiry: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    warning_days: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(default=True)
    rule_set_version: Mapped[int] = mapped_column(Integer, default=0)
    ladder_version: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # A random token renewed by every change: what processes key their parsed copy on (ids
    # and versions can repeat after a rolled-back creation; a token cannot).
    revision: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LoyaltyRuleSet(Base):
    """One saved version of a programme's rule set (never updated: history)."""

    __tablename__ = "loyalty_rule_set"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    programme_id: Mapped[int] = mapped_column(BigId, ForeignKey("loyalty_programme.id"))
    version: Mapped[int] = mapped_column(Integer)
    rules: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    actor: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("programme_id", "version"),)


class LoyaltyCounter(Base):
    """What a member (``customer_id``), or with ``customer_id`` 0 the whole programme, used
    of one counter: ``kind`` points / awards / punches / budget, ``scope`` a rule id (or
    ``*``), ``bucket`` a period (``month:2026-11``; empty for lifetime counters).

    No foreign key to ``customer``: the programme-wide row has no customer, and counters are
    usage, not personal data (a merge leaves the merged person's usage behind, so caps can
    only become more generous, never wrongly stricter).
    """

    __tablename__ = "loyalty_counter"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    programme_id: Mapped[int] = mapped_column(BigId, ForeignKey("loyalty_programme.id"))
    customer_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(100))
    bucket: Mapped[str] = mapped_column(String(40))
    value: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (UniqueConstraint("programme_id", "customer_id", "kind", "scope", "bucket"),)


class LoyaltyEarning(Base):
    """What one order earned in one programme, kept so a return can claw back in proportion
    (per line where known) and give back the points the order was paid with, once."""

    __tablename__ = "loyalty_earning"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    programme_id: Mapped[int] = mapped_column(BigId, ForeignKey("loyalty_programme.id"))
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("sales_order.id"))
    event_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("event.id", ondelete="SET NULL"), nullable=True
    )
    rule_set_version: Mapped[int] = mapped_column(Integer)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    points: Mapped[int] = mapped_column(BigInteger)
    lines: Mapped[list[dict[str, int]]] = mapped_column(JSONDocument)
    points_paid: Mapped[int] = mapped_column(BigInteger, default=0)
    clawed_back: Mapped[int] = mapped_column(BigInteger, default=0)
    given_back: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("programme_id", "order_id"),
        Index("ix_loyalty_earning_customer_id", "customer_id"),
        Index("ix_loyalty_earning_event_id", "event_id"),
        Index("ix_loyalty_earning_order_id", "order_id"),
    )
