"""The member's in-app inbox: messages of the ``in_app`` channel, newest first."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fidela.engagement.models import InboxItem, MessageEvent
from fidela.engagement.rules import MessageNotFound, TrackingKind


def list_inbox(
    session: Session, *, customer_id: int, limit: int = 50, before_id: int | None = None
) -> tuple[list[InboxItem], int]:
    """(items newest first, unread count)."""
    query = select(InboxItem).where(InboxItem.customer_id == customer_id)
    if before_id is not None:
        query = query.where(InboxItem.id < before_id)
    items = list(session.execute(query.order_by(InboxItem.id.desc()).limit(limit)).scalars())
    unread = session.execute(
        select(func.count()).where(
            InboxItem.customer_id == customer_id, InboxItem.read_at.is_(None)
        )
    ).scalar_one()
    return items, int(unread)


def mark_read(session: Session, *, customer_id: int, item_id: int, now: datetime) -> InboxItem:
    """Reading an in-app message counts as opening it (once)."""
    item = session.get(InboxItem, item_id)
    if item is None or item.customer_id != customer_id:
        raise MessageNotFound(f"inbox item {item_id} does not exist for customer {customer_id}")
    if item.read_at is None:
        item.read_at = now
        session.add(
            MessageEvent(
                message_id=item.message_id,
                kind=TrackingKind.OPENED.value,
                occurred_at=now,
                details={"via": "inbox"},
            )
        )
        session.flush()
    return item
