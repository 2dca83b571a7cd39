"""Engagement delivery tables: the message record, its tracking events, the suppression list,
the in-app inbox, the brand kit and the templates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from fidela.platform.db import Base
from fidela.platform.outbox.models import BigId
from fidela.platform.types import PII, JSONDocument, UTCDateTime


class BrandKit(Base):
    """The brand applied to every channel's template (one row per brand; ``default`` is used
    when a template names none)."""

    __tablename__ = "engagement_brand_kit"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    logo_url: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    colours: Mapped[dict[str, str]] = mapped_column(JSONDocument, default=dict)
    fonts: Mapped[dict[str, str]] = mapped_column(JSONDocument, default=dict)
    tone: Mapped[str] = mapped_column(String(500), default="")
    signature: Mapped[str] = mapped_column(Text, default="")
    legal_footer: Mapped[str] = mapped_column(Text, default="")
    sender_name: Mapped[str] = mapped_column(String(200), default="")
    sender_email: Mapped[str] = mapped_column(String(320), default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Template(Base):
    """One message template per (code, channel, language). Jinja2 in a sandbox; for email the
    body is MJML and ``text_body`` the plain-text part (derived from the HTML if empty)."""

    __tablename__ = "engagement_template"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text)
    text_body: Mapped[str] = mapped_column(Text, default="")
    brand_kit: Mapped[str] = mapped_column(String(64), default="default")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("code", "channel", "language"),)


class Message(Base):
    """The record of every message, written in the same transaction as its outbox row."""

    __tablename__ = "engagement_message"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    customer_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("customer.id"), nullable=True)
    channel: Mapped[str] = mapped_column(String(16))
    template: Mapped[str | None] = mapped_column(String(100), nullable=True)
    content: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument, nullable=True, info=PII)
    context: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict, info=PII)
    address: Mapped[str | None] = mapped_column(String(320), nullable=True, info=PII)
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    subject: Mapped[str | None] = mapped_column(Text, nullable=True, info=PII)
    state: Mapped[str] = mapped_column(String(16))
    transactional: Mapped[bool] = mapped_column(Boolean, default=False)
    campaign_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    journey_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    step: Mapped[str | None] = mapped_column(String(100), nullable=True)
    variant: Mapped[str | None] = mapped_column(String(50), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    provider_id: Mapped[str | None] = mapped_column(String(300), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deliver_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        Index("ix_engagement_message_customer_id", "customer_id", "created_at"),
        Index("ix_engagement_message_campaign_id", "campaign_id"),
        Index("ix_engagement_message_journey_id", "journey_id"),
        Index("ix_engagement_message_state", "state"),
    )


class MessageEvent(Base):
    """What happened to a message after it was queued (append-only)."""

    __tablename__ = "engagement_message_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(BigId, ForeignKey("engagement_message.id"))
    kind: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)

    __table_args__ = (Index("ix_engagement_message_event_message_id", "message_id", "kind"),)


class Suppression(Base):
    """Addresses never to be sent to again on a channel (bounces, complaints, unsubscribes).
    Checked at send time; transactional messages respect it too, except unsubscribes."""

    __tablename__ = "engagement_suppression"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    address: Mapped[str] = mapped_column(String(320), primary_key=True, info=PII)
    reason: Mapped[str] = mapped_column(String(16))
    customer_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("customer.id"), nullable=True)
    source: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_engagement_suppression_customer_id", "customer_id"),)


class InboxItem(Base):
    """An in-app message shown in the member's inbox."""

    __tablename__ = "engagement_inbox_item"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(BigId, ForeignKey("engagement_message.id"), unique=True)
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    title: Mapped[str] = mapped_column(Text, default="", info=PII)
    body: Mapped[str] = mapped_column(Text, default="", info=PII)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (Index("ix_engagement_inbox_item_customer_id", "customer_id", "id"),)
