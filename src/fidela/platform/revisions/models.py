"""One revision per family of configuration tables, moved by triggers on those tables."""

from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from fidela.platform.db import Base


class ConfigRevision(Base):
    """``revision`` changes, in the same transaction, with every statement that writes a
    table of ``family`` (triggers: migration 0014). Values are never reused, even after a
    rollback (a sequence on PostgreSQL, a random 64-bit number on SQLite), so a value names
    one state of the family's tables."""

    __tablename__ = "config_revision"

    family: Mapped[str] = mapped_column(String(40), primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger)
