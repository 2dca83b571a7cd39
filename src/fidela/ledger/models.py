"""Ledger tables: accounts (with their cached balance), lots, the append-only journal and the
allocations that say which lots a spend drew from.

The journal is the truth; ``ledger_account.available`` / ``pending`` are a cache of the sum of
its entries per bucket, updated in the same transaction as the entries (``fidela ledger
verify`` proves it). Points are whole numbers in ``BIGINT`` columns.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from fidela.platform.db import Base
from fidela.platform.outbox.models import BigId
from fidela.platform.types import UTCDateTime


class LedgerAccount(Base):
    """One member's points in one programme.

    ``available`` is the active bucket (spendable points minus debt, plus expired points the
    expiry job has not written yet); ``pending`` the held bucket; ``debt`` what clawbacks took
    beyond the balance. Every writer of an account's lots or entries holds this row's lock.
    """

    __tablename__ = "ledger_account"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    programme: Mapped[str] = mapped_column(String(64))
    available: Mapped[int] = mapped_column(BigInteger, default=0)
    pending: Mapped[int] = mapped_column(BigInteger, default=0)
    debt: Mapped[int] = mapped_column(BigInteger, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    # The unique index leads with customer_id, so it also serves lookups by customer.
    __table_args__ = (UniqueConstraint("customer_id", "programme"),)


class LedgerLot(Base):
    """One earn: ``amount`` points of which ``remaining`` are left (see ``rules.lots.Lot``)."""

    __tablename__ = "ledger_lot"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(BigId, ForeignKey("ledger_account.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    earned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    state: Mapped[str] = mapped_column(String(16))
    activates_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    awaits: Mapped[str | None] = mapped_column(String(100), nullable=True)

    __table_args__ = (
        # A spend loads the account's live lots; returns find the lots of an order.
        Index("ix_ledger_lot_account_id_state", "account_id", "state"),
        Index("ix_ledger_lot_account_id_ref", "account_id", "ref"),
        # Tier windows sum one member's lots earned in a date range: the range, not the
        # member's whole history, is read.
        Index("ix_ledger_lot_account_id_earned_at", "account_id", "earned_at"),
        # The jobs scan all accounts for lots due to expire or to activate.
        Index("ix_ledger_lot_expires_at", "expires_at"),
        Index("ix_ledger_lot_activates_at", "activates_at"),
    )


class LedgerEntry(Base):
    """One signed movement in one bucket (append-only, never updated except when a customer
    merge moves it to the survivor's account).

    ``at`` is when it took effect (an expiry at the lot's deadline); ``recorded_at`` when it
    was written. ``rule``, ``event_id``, ``reference`` and ``actor`` say why. ``key`` makes a
    posting idempotent per account: a replay under a new request id finds the key taken.
    """

    __tablename__ = "ledger_entry"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(BigId, ForeignKey("ledger_account.id"))
    kind: Mapped[str] = mapped_column(String(16))
    bucket: Mapped[str] = mapped_column(String(16))
    points: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lot_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("ledger_lot.id"), nullable=True)
    rule: Mapped[str | None] = mapped_column(String(100), nullable=True)
    event_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("event.id", ondelete="SET NULL"), nullable=True
    )
    reference: Mapped[str | None] = mapped_column(String(200), nullable=True)
    actor: Mapped[str | None] = mapped_column(String(200), nullable=True)
    key: Mapped[str | None] = mapped_column(String(255), nullable=True)

    __table_args__ = (
        # NULL keys (automatic entries) never conflict, on both databases.
        UniqueConstraint("account_id", "key"),
        # History pages walk one account's entries by id.
        Index("ix_ledger_entry_account_id_id", "account_id", "id"),
        Index("ix_ledger_entry_lot_id", "lot_id"),
        Index("ix_ledger_entry_event_id", "event_id"),
        # Tier windows subtract one member's clawbacks: a few entries among all of theirs,
        # usually none, found without reading the rest.
        Index(
            "ix_ledger_entry_clawback_account_id",
            "account_id",
            postgresql_where=text("kind = 'clawback'"),
            sqlite_where=text("kind = 'clawback'"),
        ),
    )


class LedgerAllocation(Base):
    """Points a debit (a spend entry) holds of one lot, as signed movements.

    The spend writes positive rows (``entry_id`` = ``debit_id``); a cancellation writes the
    negative counterparts under its own entry. What the spend still holds of a lot is the sum.
    """

    __tablename__ = "ledger_allocation"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    debit_id: Mapped[int] = mapped_column(BigId, ForeignKey("ledger_entry.id"))
    entry_id: Mapped[int] = mapped_column(BigId, ForeignKey("ledger_entry.id"))
    lot_id: Mapped[int] = mapped_column(BigId, ForeignKey("ledger_lot.id"))
    points: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_ledger_allocation_debit_id", "debit_id"),
        Index("ix_ledger_allocation_lot_id", "lot_id"),
        Index("ix_ledger_allocation_entry_id", "entry_id"),
    )
