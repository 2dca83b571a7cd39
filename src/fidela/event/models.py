"""Event tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fidela.platform.db import Base
from fidela.platform.outbox.models import BigId
from fidela.platform.types import PII, JSONDocument, UTCDateTime


class Event(Base):
    __tablename__ = "event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(100))
    customer_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("customer.id"), nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    request_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSONDocument, info=PII)

    __table_args__ = (
        UniqueConstraint("source", "external_id", "type"),
        Index("ix_event_customer_id_occurred_at", "customer_id", "occurred_at"),
        Index("ix_event_received_at", "received_at"),
    )


class StoredResult(Base):
    """What ingesting an event answered, kept for replays of its business key.

    A table of its own, inserted once the subscribers have run: as a column of ``event`` it
    was an UPDATE of every row just inserted, which rewrote the row and its four index
    entries (measured on 1,000 events: 2.5 MB of WAL against 0.4 MB for this insert).
    """

    __tablename__ = "event_result"

    event_id: Mapped[int] = mapped_column(BigId, ForeignKey("event.id"), primary_key=True)
    result: Mapped[dict[str, Any]] = mapped_column(JSONDocument)


class EventTypeSchema(Base):
    """The JSON schema a ``custom.*`` event type's data must satisfy."""

    __tablename__ = "event_type_schema"

    type: Mapped[str] = mapped_column(String(100), primary_key=True)
    json_schema: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    description: Mapped[str] = mapped_column(String(500), default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
