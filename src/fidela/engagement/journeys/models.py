"""Journey tables: definitions (versioned), per-customer state and advisor tasks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fidela.platform.db import Base
from fidela.platform.outbox.models import BigId
from fidela.platform.types import PII, JSONDocument, UTCDateTime


class Journey(Base):
    """The current definition of a journey; ``version`` moves by compare-and-set."""

    __tablename__ = "engagement_journey"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JourneyVersion(Base):
    """Every version ever published: a customer finishes the version they entered."""

    __tablename__ = "engagement_journey_version"

    journey_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("engagement_journey.id"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JourneyState(Base):
    """One customer's run through a journey. ``guard`` is unique while it is set: it carries
    the re-entry rule (cleared when a run ends under ``after_exit``, kept forever under
    ``once`` and ``once_per_key``), so two concurrent triggers cannot both enter."""

    __tablename__ = "engagement_journey_state"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    journey_id: Mapped[int] = mapped_column(BigId, ForeignKey("engagement_journey.id"))
    version: Mapped[int] = mapped_column(Integer)
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    entry_key: Mapped[str] = mapped_column(String(200))
    guard: Mapped[str | None] = mapped_column(String(300), nullable=True, unique=True)
    status: Mapped[str] = mapped_column(String(16))
    step: Mapped[str | None] = mapped_column(String(100), nullable=True)
    waiting_for: Mapped[str | None] = mapped_column(String(100), nullable=True)
    next_wake_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    context: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict, info=PII)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        Index("ix_engagement_journey_state_next_wake_at", "next_wake_at"),
        Index("ix_engagement_journey_state_customer_id", "customer_id", "status"),
        Index("ix_engagement_journey_state_journey_id", "journey_id", "status"),
    )


class AdvisorTask(Base):
    """Work for a human advisor (call a high-value customer at risk of churning)."""

    __tablename__ = "engagement_advisor_task"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    journey_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("engagement_journey.id"), nullable=True
    )
    kind: Mapped[str] = mapped_column(String(50))
    note: Mapped[str] = mapped_column(Text, default="", info=PII)
    status: Mapped[str] = mapped_column(String(16), default="open")
    key: Mapped[str] = mapped_column(String(300), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        Index("ix_engagement_advisor_task_status", "status", "created_at"),
        Index("ix_engagement_advisor_task_customer_id", "customer_id"),
    )
