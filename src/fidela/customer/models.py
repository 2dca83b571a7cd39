"""Customer tables. Columns holding personal data carry ``info=PII``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from fidela.platform.db import Base
from fidela.platform.outbox.models import BigId
from fidela.platform.types import PII, JSONDocument, UTCDateTime


class Customer(Base):
    __tablename__ = "customer"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    merged_into_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customer.id"), nullable=True
    )
    first_name: Mapped[str | None] = mapped_column(String(100), nullable=True, info=PII)
    last_name: Mapped[str | None] = mapped_column(String(100), nullable=True, info=PII)
    gender: Mapped[str | None] = mapped_column(String(16), nullable=True)
    birth_date: Mapped[date | None] = mapped_column(Date, nullable=True, info=PII)
    city: Mapped[str | None] = mapped_column(String(100), nullable=True, info=PII)
    country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    preferred_channel: Mapped[str | None] = mapped_column(String(16), nullable=True)
    signup_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    signup_channel: Mapped[str | None] = mapped_column(String(32), nullable=True)
    tags: Mapped[dict[str, list[str]]] = mapped_column(JSONDocument, default=dict)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict, info=PII)
    last_device: Mapped[str | None] = mapped_column(String(200), nullable=True, info=PII)
    last_store_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    last_location: Mapped[str | None] = mapped_column(String(200), nullable=True, info=PII)
    profiling_restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        Index("ix_customer_last_name_first_name", func.lower(last_name), func.lower(first_name)),
        Index("ix_customer_merged_into_id", "merged_into_id"),
    )


class CustomerIdentity(Base):
    __tablename__ = "customer_identity"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    kind: Mapped[str] = mapped_column(String(16))
    namespace: Mapped[str] = mapped_column(String(100), default="")
    value: Mapped[str] = mapped_column(String(320), info=PII)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("kind", "namespace", "value"),
        Index("ix_customer_identity_customer_id", "customer_id"),
    )


class AttributeDefinition(Base):
    """A declared custom attribute: profile values must match its type."""

    __tablename__ = "customer_attribute_definition"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


PENDING_CONFIRMATION = text("confirmation_digest IS NOT NULL")


class ConsentRecord(Base):
    """Every consent decision ever recorded (append-only)."""

    __tablename__ = "consent_record"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    channel: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(100))
    wording_version: Mapped[str | None] = mapped_column(String(100), nullable=True)
    proof: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict, info=PII)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmation_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    confirmation_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        Index("ix_consent_record_customer_id", "customer_id", "channel", "purpose"),
        # Only double opt-in requests awaiting confirmation carry a digest: the index holds
        # them alone, not a NULL entry for every other decision (six per imported customer).
        Index(
            "ix_consent_record_confirmation_digest",
            "confirmation_digest",
            postgresql_where=PENDING_CONFIRMATION,
            sqlite_where=PENDING_CONFIRMATION,
        ),
    )


class ConsentState(Base):
    """The current consent per (customer, channel, purpose): the latest record, kept in the
    same transaction so "may we email this person?" is one indexed lookup."""

    __tablename__ = "consent_state"

    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    record_id: Mapped[int] = mapped_column(BigId, ForeignKey("consent_record.id"))


class MergeRecord(Base):
    __tablename__ = "customer_merge"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    survivor_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    merged_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"), unique=True)
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(500), default="")
    moved: Mapped[dict[str, int]] = mapped_column(JSONDocument, default=dict)
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_customer_merge_survivor_id", "survivor_id"),)


class GdprRequest(Base):
    """A record that a data-subject right was exercised (kept after erasure)."""

    __tablename__ = "gdpr_request"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    kind: Mapped[str] = mapped_column(String(16))  # export, erase, restrict, unrestrict
    actor: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)

    __table_args__ = (Index("ix_gdpr_request_customer_id", "customer_id"),)
