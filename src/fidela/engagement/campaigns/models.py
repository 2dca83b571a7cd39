"""Campaign tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from fidela.platform.db import Base
from fidela.platform.outbox.models import BigId
from fidela.platform.types import JSONDocument, UTCDateTime


class Campaign(Base):
    """A send to an audience. ``variants`` are the A/B/n arms (name, weight and what differs:
    template, content, channel or offer); ``holdout_bp`` basis points of the audience get a
    held-out record instead. Sent at ``send_at``, or at ``local_time`` on ``local_date`` in
    each recipient's own timezone."""

    __tablename__ = "engagement_campaign"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str | None] = mapped_column(String(16), nullable=True)
    audience: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    variants: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    holdout_bp: Mapped[int] = mapped_column(Integer, default=0)
    send_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    local_date: Mapped[str | None] = mapped_column(String(10), nullable=True)
    local_time: Mapped[str | None] = mapped_column(String(5), nullable=True)
    expires_after_hours: Mapped[int | None] = mapped_column(Integer, nullable=True)
    transactional: Mapped[bool] = mapped_column(Boolean, default=False)
    winner: Mapped[str | None] = mapped_column(String(50), nullable=True)
    stats: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    planned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
