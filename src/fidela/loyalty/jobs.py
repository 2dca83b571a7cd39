"""Scheduled loyalty work: expiry warnings and tier reviews (the ledger's own jobs,
``activate_due`` and ``expire_due``, run beside them from the same worker task).

Expiry warnings are outbox messages on topic :data:`POINTS_EXPIRING`, one per lot and
warning horizon (the key holds the lot, its deadline and the horizon), written in the job's
transaction: running the job again, or from two workers, warns once; an activity that moves
the deadline warns again for the new one. The engagement part consumes the topic by
registering a handler for it in the worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from fidela.ledger import activity as ledger_activity
from fidela.loyalty.programmes import programmes_in_force
from fidela.platform.outbox import service as outbox
from fidela.tier import service as tiers

POINTS_EXPIRING = "points.expiring"


@dataclass(frozen=True)
class WarningRun:
    lots: int
    created: int  # new messages; the rest were warned already


def warn_expiring(session: Session, *, now: datetime, limit: int = 10_000) -> WarningRun:
    """Write a ``points.expiring`` message for every spendable lot expiring within its
    programme's ``warning_days``."""
    lots = 0
    created = 0
    for programme in programmes_in_force(session):
        if programme.warning_days <= 0:
            continue
        for item in ledger_activity.expiring_within(
            session, programme=programme.code, now=now, days=programme.warning_days, limit=limit
        ):
            lots += 1
            enqueued = outbox.enqueue_message(
                session,
                topic=POINTS_EXPIRING,
                key=f"{POINTS_EXPIRING}:{item.lot_id}:{item.expires_at.isoformat()}:"
                f"{programme.warning_days}d",
                payload={
                    "programme": programme.code,
                    "customer_id": item.customer_id,
                    "lot_id": item.lot_id,
                    "points": item.points,
                    "expires_at": item.expires_at.isoformat(),
                    "warning_days": programme.warning_days,
                },
                now=now,
                expires_at=item.expires_at,  # a warning after the deadline is pointless
            )
            created += enqueued.created
    return WarningRun(lots, created)


def review_tiers(session: Session, *, now: datetime, limit: int = 1_000) -> int:
    """Re-evaluate the members whose tier review or grace fell due (downgrades happen here,
    at the window's end, never on earn or redeem). Returns the members reviewed."""
    reviewed = 0
    for programme in programmes_in_force(session):
        if programme.ladder is None:
            continue
        ref = tiers.LadderRef(
            programme.id, programme.code, programme.ladder, programme.ladder_version
        )
        for customer_id in tiers.due_for_review(
            session, programme_id=programme.id, now=now, limit=limit
        ):
            tiers.qualify(session, ladder=ref, customer_id=customer_id, now=now)
            reviewed += 1
    return reviewed
