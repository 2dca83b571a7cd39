"""Record and read audit entries (inside the caller's unit of work)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fidela.platform.audit.models import AuditEntry


def record_audit(
    session: Session,
    *,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str | int,
    details: dict[str, Any],
    now: datetime,
) -> AuditEntry:
    entry = AuditEntry(
        at=now,
        actor=actor,
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id),
        details=details,
    )
    session.add(entry)
    session.flush()
    return entry


def list_audit(
    session: Session, *, subject_type: str, subject_id: str | int
) -> Sequence[AuditEntry]:
    return list(
        session.execute(
            select(AuditEntry)
            .where(
                AuditEntry.subject_type == subject_type, AuditEntry.subject_id == str(subject_id)
            )
            .order_by(AuditEntry.at, AuditEntry.id)
        ).scalars()
    )
