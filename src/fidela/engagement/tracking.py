"""Tracking: signed links (open pixel, click redirect, one-click unsubscribe), provider
notifications (delivered, bounced, complained) feeding the suppression list, and the counts
per campaign, journey, step, variant and channel.

Conversions are a query, not stored events: a message converts when its customer completed
an order within the window after the click (or after the send when there was no click; after
the record's creation for held-out messages, which were never sent). Computing it at read
time keeps the window configurable after the fact and measures held-out customers exactly
like messaged ones, which is what lift needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from fidela.commerce.models import SalesOrder
from fidela.customer import consent
from fidela.customer.rules import ConsentChannel, ConsentPurpose
from fidela.engagement.models import Message, MessageEvent, Suppression
from fidela.engagement.rules import (
    CONSENT_CHANNEL,
    Channel,
    MessageNotFound,
    MessageState,
    SuppressionReason,
    TrackingKind,
    invalid,
    sign_click,
    sign_message,
    verify_click,
    verify_message_token,
)
from fidela.platform.upsert import insert_ignoring_conflicts

TRACKING_PREFIX = "/v1/engagement/t"


@dataclass(frozen=True)
class Links:
    """Builds the signed tracking URLs of one message."""

    base_url: str
    secret: str

    def _root(self, message_id: int) -> str:
        return f"{self.base_url.rstrip('/')}{TRACKING_PREFIX}/{message_id}"

    def click(self, message_id: int, url: str) -> str:
        query = urlencode(
            {"u": url, "s": sign_click(self.secret, message_id, url)}, quote_via=quote
        )
        return f"{self._root(message_id)}/click?{query}"

    def open_pixel(self, message_id: int) -> str:
        return (
            f"{self._root(message_id)}/open.gif?s={sign_message(self.secret, 'open', message_id)}"
        )

    def unsubscribe(self, message_id: int) -> str:
        signature = sign_message(self.secret, "unsubscribe", message_id)
        return f"{self._root(message_id)}/unsubscribe?s={signature}"


def _message(session: Session, message_id: int) -> Message:
    message = session.get(Message, message_id)
    if message is None:
        raise MessageNotFound(f"message {message_id} does not exist")
    return message


def add_event(
    session: Session,
    *,
    message_id: int,
    kind: TrackingKind,
    now: datetime,
    url: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    session.add(
        MessageEvent(
            message_id=message_id, kind=kind.value, occurred_at=now, url=url, details=details or {}
        )
    )


def record_open(
    session: Session, *, message_id: int, signature: str, secret: str, now: datetime
) -> None:
    verify_message_token(secret, "open", message_id, signature)
    _message(session, message_id)
    add_event(session, message_id=message_id, kind=TrackingKind.OPENED, now=now)


def record_click(
    session: Session, *, message_id: int, url: str, signature: str, secret: str, now: datetime
) -> str:
    """Verify the signature over (message, url) and record the click; returns the URL to
    redirect to. A tampered or unsigned link raises and redirects nowhere."""
    verify_click(secret, message_id, url, signature)
    _message(session, message_id)
    add_event(session, message_id=message_id, kind=TrackingKind.CLICKED, now=now, url=url)
    return url


def unsubscribe(
    session: Session, *, message_id: int, signature: str, secret: str, now: datetime, source: str
) -> bool:
    """One-click unsubscribe (RFC 8058): withdraw the customer's marketing consent for the
    message's channel through the consent service. Returns False when it was already done
    for this message (a mail client may POST twice)."""
    verify_message_token(secret, "unsubscribe", message_id, signature)
    message = _message(session, message_id)
    done = session.execute(
        select(MessageEvent.id).where(
            MessageEvent.message_id == message_id,
            MessageEvent.kind == TrackingKind.UNSUBSCRIBED.value,
        )
    ).first()
    if done is not None:
        return False
    if message.customer_id is not None:
        consent.record_consent(
            session,
            customer_id=message.customer_id,
            channel=ConsentChannel(CONSENT_CHANNEL[Channel(message.channel)]),
            purpose=ConsentPurpose.MARKETING,
            granted=False,
            source=source,
            now=now,
            proof={"message_id": message_id, "campaign_id": message.campaign_id},
        )
    add_event(session, message_id=message_id, kind=TrackingKind.UNSUBSCRIBED, now=now)
    return True


# ---------------------------------------------------------------------------- suppression


def suppress(
    session: Session,
    *,
    channel: Channel,
    address: str,
    reason: SuppressionReason,
    now: datetime,
    customer_id: int | None = None,
    source: str = "",
) -> bool:
    """Add an address to the channel's suppression list (idempotent); True if new."""
    statement = (
        insert_ignoring_conflicts(session, Suppression, "channel", "address")
        .values(
            channel=channel.value,
            address=address,
            reason=reason.value,
            customer_id=customer_id,
            source=source[:200],
            created_at=now,
        )
        .returning(Suppression.address)
    )
    return session.execute(statement).first() is not None


def unsuppress(session: Session, *, channel: Channel, address: str) -> bool:
    row = session.get(Suppression, (channel.value, address))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def suppressed_addresses(session: Session, channel: Channel, addresses: Sequence[str]) -> set[str]:
    if not addresses:
        return set()
    rows = session.execute(
        select(Suppression.address).where(
            Suppression.channel == channel.value, Suppression.address.in_(set(addresses))
        )
    ).scalars()
    return set(rows)


def list_suppressions(
    session: Session, *, channel: Channel | None, limit: int = 100
) -> list[Suppression]:
    query = select(Suppression).order_by(Suppression.created_at.desc()).limit(limit)
    if channel is not None:
        query = query.where(Suppression.channel == channel.value)
    return list(session.execute(query).scalars())


@dataclass(frozen=True)
class ProviderNotice:
    """One notification from a provider about a message or an address."""

    type: str  # delivered, bounce, complaint
    message_key: str | None = None
    address: str | None = None
    permanent: bool = True  # for bounces: hard (permanent) or soft


@dataclass
class NoticeOutcome:
    processed: int = 0
    suppressed: int = 0
    unknown: list[str] = field(default_factory=list)


def apply_provider_notices(
    session: Session,
    *,
    channel: Channel,
    notices: Sequence[ProviderNotice],
    now: datetime,
    source: str,
) -> NoticeOutcome:
    """Delivered notices mark messages delivered; hard bounces and complaints put the
    address on the suppression list (checked at send time), a complaint also withdraws the
    customer's marketing consent for the channel; soft bounces are only recorded."""
    outcome = NoticeOutcome()
    for index, notice in enumerate(notices):
        if notice.type not in ("delivered", "bounce", "complaint"):
            raise invalid(f"/events/{index}/type", "type must be delivered, bounce or complaint")
        message = None
        if notice.message_key is not None:
            message = session.execute(
                select(Message).where(Message.key == notice.message_key)
            ).scalar_one_or_none()
            if message is None:
                outcome.unknown.append(notice.message_key)
                continue
        address = notice.address or (message.address if message else None)
        if message is None and address is None:
            raise invalid(f"/events/{index}", "a notice needs a message_key or an address")
        customer_id = message.customer_id if message else None
        if notice.type == "delivered" and message is not None:
            if message.state == MessageState.SENT.value:
                message.state = MessageState.DELIVERED.value
            add_event(session, message_id=message.id, kind=TrackingKind.DELIVERED, now=now)
        elif notice.type == "bounce":
            if message is not None:
                add_event(
                    session,
                    message_id=message.id,
                    kind=TrackingKind.BOUNCED,
                    now=now,
                    details={"permanent": notice.permanent},
                )
                if notice.permanent:
                    message.state = MessageState.FAILED.value
                    message.error = "hard bounce"
            if notice.permanent and address:
                outcome.suppressed += suppress(
                    session,
                    channel=channel,
                    address=address,
                    reason=SuppressionReason.HARD_BOUNCE,
                    now=now,
                    customer_id=customer_id,
                    source=source,
                )
        else:
            if message is not None:
                add_event(session, message_id=message.id, kind=TrackingKind.COMPLAINED, now=now)
            if address:
                outcome.suppressed += suppress(
                    session,
                    channel=channel,
                    address=address,
                    reason=SuppressionReason.COMPLAINT,
                    now=now,
                    customer_id=customer_id,
                    source=source,
                )
            if customer_id is not None:
                consent.record_consent(
                    session,
                    customer_id=customer_id,
                    channel=ConsentChannel(CONSENT_CHANNEL[channel]),
                    purpose=ConsentPurpose.MARKETING,
                    granted=False,
                    source=f"{source}:complaint",
                    now=now,
                )
        outcome.processed += 1
    session.flush()
    return outcome


def mark_delivered(session: Session, message_ids: Sequence[int], now: datetime) -> None:
    session.execute(
        update(Message)
        .where(Message.id.in_(message_ids), Message.state == MessageState.SENT.value)
        .values(state=MessageState.DELIVERED.value)
        .execution_options(synchronize_session=False)
    )


# ---------------------------------------------------------------------------- counts

GROUPS = ("campaign_id", "journey_id", "step", "variant", "channel")
STATE_COUNTS = tuple(state.value for state in MessageState)
CONVERTIBLE = (
    MessageState.SENT.value,
    MessageState.DELIVERED.value,
    MessageState.HELD_OUT.value,
)
EVENT_COUNTS = ("opened", "clicked", "unsubscribed", "bounced", "complained")


@dataclass(frozen=True)
class StatsRow:
    group: dict[str, Any]
    counts: dict[str, int]


def message_stats(
    session: Session,
    *,
    now: datetime,
    conversion_window: timedelta,
    campaign_id: int | None = None,
    journey_id: int | None = None,
    group_by: Sequence[str] = ("channel",),
) -> list[StatsRow]:
    """Counts per group: messages by state (``sent`` counts every message that left, whatever
    happened later), distinct messages opened, clicked, unsubscribed, bounced, complained,
    and converted within ``conversion_window``."""
    for name in group_by:
        if name not in GROUPS:
            raise invalid("/group_by", f"cannot group by {name!r}; one of {', '.join(GROUPS)}")
    filters: list[ColumnElement[bool]] = []
    if campaign_id is not None:
        filters.append(Message.campaign_id == campaign_id)
    if journey_id is not None:
        filters.append(Message.journey_id == journey_id)
    columns = [getattr(Message, name) for name in group_by]

    def grouped(query: Any) -> dict[tuple[Any, ...], int]:
        rows = session.execute(query.where(*filters).group_by(*columns)).all()
        return {tuple(row[:-1]): int(row[-1]) for row in rows}

    by_state: dict[str, dict[tuple[Any, ...], int]] = {}
    for row in session.execute(
        select(*columns, Message.state, func.count())
        .where(*filters)
        .group_by(*columns, Message.state)
    ).all():
        by_state.setdefault(row[-2], {})[tuple(row[:-2])] = int(row[-1])
    by_event: dict[str, dict[tuple[Any, ...], int]] = {}
    for kind in EVENT_COUNTS:
        by_event[kind] = grouped(
            select(*columns, func.count(func.distinct(MessageEvent.message_id)))
            .join(MessageEvent, MessageEvent.message_id == Message.id)
            .where(MessageEvent.kind == kind)
        )
    converted = _conversions(session, columns, filters, now, conversion_window)
    keys = set().union(*by_state.values(), *by_event.values(), converted)
    result: list[StatsRow] = []
    for key in sorted(keys, key=lambda k: tuple("" if v is None else str(v) for v in k)):
        counts = {state: by_state.get(state, {}).get(key, 0) for state in STATE_COUNTS}
        counts["total"] = sum(counts.values())
        counts["left"] = counts["sent"] + counts["delivered"]
        counts.update({kind: by_event[kind].get(key, 0) for kind in EVENT_COUNTS})
        counts["converted"] = converted.get(key, 0)
        result.append(StatsRow(dict(zip(group_by, key, strict=True)), counts))
    return result


def _conversions(
    session: Session,
    columns: Sequence[Any],
    filters: Sequence[ColumnElement[bool]],
    now: datetime,
    window: timedelta,
) -> dict[tuple[Any, ...], int]:
    """Distinct converted messages per group. The database finds the orders placed after
    each message's start (first click, else send, else creation for held-out records); the
    window is applied here because interval arithmetic is not portable between SQLite and
    PostgreSQL."""
    first_click = (
        select(MessageEvent.message_id, func.min(MessageEvent.occurred_at).label("at"))
        .where(MessageEvent.kind == TrackingKind.CLICKED.value)
        .group_by(MessageEvent.message_id)
        .subquery()
    )
    left = func.coalesce(Message.sent_at, Message.created_at)
    rows = session.execute(
        select(*columns, Message.id, first_click.c.at, left, SalesOrder.ordered_at)
        .outerjoin(first_click, first_click.c.message_id == Message.id)
        .join(SalesOrder, SalesOrder.customer_id == Message.customer_id)
        .where(
            *filters,
            Message.state.in_(CONVERTIBLE),
            SalesOrder.status == "completed",
            SalesOrder.ordered_at >= left,
            SalesOrder.ordered_at <= now,
        )
    ).all()
    found: dict[tuple[Any, ...], set[int]] = {}
    width = len(columns)
    for row in rows:
        clicked, sent, ordered = (_utc(row[width + 1]), _utc(row[width + 2]), _utc(row[width + 3]))
        if ordered is None:  # pragma: no cover - the join requires an order date
            continue
        start = clicked if clicked is not None and clicked <= ordered else sent
        if start is not None and ordered - start < window:
            found.setdefault(tuple(row[:width]), set()).add(int(row[width]))
    return {key: len(ids) for key, ids in found.items()}


def _utc(value: Any) -> datetime | None:
    """Values computed in SQL (``coalesce``, ``min``) skip the column type on SQLite and
    come back naive or as text."""
    if value is None:
        return None
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(instant, datetime):
        raise TypeError(f"not an instant: {value!r}")
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)
