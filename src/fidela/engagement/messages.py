"""Queueing messages: the one entry point campaigns, journeys and the API use to send.

A message row and its outbox job are written in the caller's transaction, so a message is
queued if and only if the state change that caused it commits. The worker's delivery job
(``engagement.deliver``) renders and sends after commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fidela.engagement.config import get_engagement_settings
from fidela.engagement.models import Message
from fidela.engagement.rules import (
    Channel,
    InvalidMessage,
    MessageNotFound,
    MessageState,
    invalid,
)
from fidela.platform.bulk import insert_rows
from fidela.platform.db import table_of
from fidela.platform.outbox import service as outbox
from fidela.platform.outbox.models import OutboxMessage

DELIVER_TOPIC = "engagement.deliver"
# Attempts of a delivery job before it is dead-lettered; a job that partly succeeded only
# resends its messages still queued, so retries never duplicate.
DELIVERY_MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class Content:
    """Inline content for a message without a stored template (Jinja2, sandboxed): ``body`` is
    MJML for email (or plain HTML/MJML fragment), text for the other channels."""

    subject: str = ""
    body: str = ""
    text_body: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"subject": self.subject, "body": self.body, "text_body": self.text_body}


@dataclass(frozen=True)
class MessageRequest:
    """One message of a bulk ``enqueue_messages`` call (same meaning as ``enqueue_message``)."""

    customer_id: int
    key: str
    context: dict[str, Any] = field(default_factory=dict)
    variant: str | None = None
    held_out: bool = False
    template: str | None = None
    content: Content | None = None
    channel: Channel | None = None


def _check(template: str | None, content: Content | None, key: str, pointer: str = "") -> None:
    if (template is None) == (content is None):
        raise invalid(f"{pointer}/template", "give exactly one of a template code or content")
    if not key or len(key) > 200:
        raise invalid(f"{pointer}/key", "the key must be 1 to 200 characters")


def enqueue_message(
    session: Session,
    *,
    customer_id: int | None,
    channel: Channel,
    key: str,
    now: datetime,
    template: str | None = None,
    content: Content | None = None,
    context: dict[str, Any] | None = None,
    deliver_at: datetime | None = None,
    expires_at: datetime | None = None,
    transactional: bool = False,
    campaign_id: int | None = None,
    journey_id: int | None = None,
    step: str | None = None,
    variant: str | None = None,
    held_out: bool = False,
    address: str | None = None,
) -> Message:
    """Queue one message in the caller's transaction and return its record.

    - ``key`` (≤ 200 chars) is the idempotency key: it is unique, handed to the provider
      (email ``Message-ID``, webhook ``Idempotency-Key``); queueing the same key again returns
      the existing message and queues nothing (so a replayed journey step sends once).
      Build it from what makes the send unique, e.g. ``f"journey:{j}:{customer}:{step}"``.
    - ``template`` is a template code (the language is the customer's, with fallback at send
      time); or ``content`` for inline text. ``context`` adds variables to the personalisation
      gathered at send time (offer, voucher code, cart...); it must be JSON-serialisable.
    - ``deliver_at`` holds the message until then (quiet hours); ``expires_at`` drops it (state
      ``expired``) if it could not be sent before (time-sensitive messages).
    - ``transactional`` messages skip the marketing-consent check (never the suppression list
      of bounces and complaints).
    - ``held_out`` records the message with state ``held_out`` and routes it nowhere (no
      outbox job): the experiment's control, whose conversions are measured the same way.
    - ``address`` overrides the customer's address (test sends); with no customer it is
      required.
    Consent and suppression are checked again at send time, not only here.
    """
    _check(template, content, key)
    if customer_id is None and address is None:
        raise invalid("/address", "a message without a customer needs an address")
    existing = session.execute(select(Message).where(Message.key == key)).scalar_one_or_none()
    if existing is not None:
        return existing
    message = Message(
        key=key,
        customer_id=customer_id,
        channel=channel.value,
        template=template,
        content=content.as_dict() if content else None,
        context=dict(context or {}),
        address=address,
        state=(MessageState.HELD_OUT if held_out else MessageState.QUEUED).value,
        transactional=transactional,
        campaign_id=campaign_id,
        journey_id=journey_id,
        step=step,
        variant=variant,
        attempts=0,
        created_at=now,
        deliver_at=deliver_at or now,
        expires_at=expires_at,
        finished_at=now if held_out else None,
    )
    session.add(message)
    session.flush()
    if not held_out:
        outbox.enqueue_message(
            session,
            topic=DELIVER_TOPIC,
            key=f"{DELIVER_TOPIC}:{key}",
            payload={"messages": [message.id]},
            now=now,
            deliver_at=deliver_at,
            # No expiry on the job: the delivery job itself marks late messages ``expired``
            # (an expired job would be dead-lettered with its messages left ``queued``).
            max_attempts=DELIVERY_MAX_ATTEMPTS,
        )
    return message


def enqueue_messages(
    session: Session,
    requests: Sequence[MessageRequest],
    *,
    channel: Channel,
    now: datetime,
    template: str | None = None,
    content: Content | None = None,
    deliver_at: datetime | None = None,
    expires_at: datetime | None = None,
    transactional: bool = False,
    campaign_id: int | None = None,
    journey_id: int | None = None,
    step: str | None = None,
    batch_size: int | None = None,
) -> list[int]:
    """Queue many messages sharing a channel, timing and content in bulk statements (campaigns
    of a million): message rows in one multi-row insert per call, one outbox job per
    ``batch_size`` messages (``FIDELA_ENGAGEMENT_BATCH_SIZE``). Each request may override the
    template, content and channel (A/B/n variants). Keys already queued are skipped
    (idempotent); returns the ids of the messages created, in request order.

    Call it with a few thousand requests at a time to bound the statement size."""
    if not requests:
        return []
    size = batch_size or get_engagement_settings().batch_size
    rows: list[dict[str, Any]] = []
    for index, request in enumerate(requests):
        # A request's own template or content (a variant) replaces the shared one whole.
        own = request.template is not None or request.content is not None
        own_template = request.template if own else template
        own_content = request.content if own else content
        _check(own_template, own_content, request.key, f"/{index}")
        rows.append(
            {
                "key": request.key,
                "customer_id": request.customer_id,
                "channel": (request.channel or channel).value,
                "template": own_template,
                "content": own_content.as_dict() if own_content else None,
                "context": dict(request.context),
                "address": None,
                "language": None,
                "subject": None,
                "state": (MessageState.HELD_OUT if request.held_out else MessageState.QUEUED).value,
                "transactional": transactional,
                "campaign_id": campaign_id,
                "journey_id": journey_id,
                "step": step,
                "variant": request.variant,
                "attempts": 0,
                "provider_id": None,
                "error": None,
                "created_at": now,
                "deliver_at": deliver_at or now,
                "expires_at": expires_at,
                "sent_at": None,
                "finished_at": now if request.held_out else None,
            }
        )
    if len({row["key"] for row in rows}) != len(rows):
        raise InvalidMessage("two requests share a key; each message needs its own key")
    inserted = insert_rows(
        session,
        table_of(Message),
        rows,
        returning=("id", "key", "state"),
        skip_conflicts_on=("key",),
    )
    order = {row["key"]: n for n, row in enumerate(rows)}
    inserted.sort(key=lambda found: order[found[1]])
    to_send = [int(found[0]) for found in inserted if found[2] == MessageState.QUEUED.value]
    jobs = [
        {
            "topic": DELIVER_TOPIC,
            "key": f"{DELIVER_TOPIC}:batch:{chunk[0]}",
            "payload": {"messages": chunk},
            "status": "pending",
            "attempts": 0,
            "max_attempts": DELIVERY_MAX_ATTEMPTS,
            "available_at": deliver_at or now,
            "expires_at": None,  # see enqueue_message
            "created_at": now,
            "updated_at": now,
        }
        for chunk in (to_send[i : i + size] for i in range(0, len(to_send), size))
    ]
    insert_rows(session, table_of(OutboxMessage), jobs)
    return [int(found[0]) for found in inserted]


def get_message(session: Session, message_id: int) -> Message:
    message = session.get(Message, message_id)
    if message is None:
        raise MessageNotFound(f"message {message_id} does not exist")
    return message


def expire_overdue(session: Session, *, now: datetime) -> int:
    """Mark every still-queued message whose expiry has passed as ``expired``; returns how
    many. The delivery job does the same for its own messages; this sweep catches messages
    whose job will not run again."""
    result = session.execute(
        update(Message)
        .where(
            Message.state == MessageState.QUEUED.value,
            Message.expires_at.is_not(None),
            Message.expires_at <= now,
        )
        .values(state=MessageState.EXPIRED.value, finished_at=now, error="expired")
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
