"""Loading what the send-time rules need, set-based: marketing consent for many customers in
one query, their recent marketing sends in another, and the single decision for one send."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from fidela.customer.models import ConsentState, Customer
from fidela.engagement.models import Message
from fidela.engagement.policy.rules import (
    PastSend,
    SendDecision,
    SendOutcome,
    SendPolicy,
    choose_channel,
    decide_send,
    zone_of,
)
from fidela.engagement.rules import CONSENT_CHANNEL, Channel

# Messages that reached, or will reach, the recipient: they count against the caps.
COUNTED_STATES = ("queued", "sent", "delivered")
# The longest cap period plus a day of timezone slack: older sends can count for nothing.
HISTORY_SPAN = timedelta(days=8)
MARKETING = "marketing"
CHUNK = 5_000


def consent_channel(channel: str) -> str:
    try:
        return CONSENT_CHANNEL[Channel(channel)]
    except ValueError:
        return channel


def marketing_consents(session: Session, customer_ids: Sequence[int]) -> dict[int, set[str]]:
    """The channels each customer may receive marketing on now: a channel-specific decision
    wins; without one, a decision for ``any`` channel applies."""
    granted: dict[int, set[str]] = defaultdict(set)
    denied: dict[int, set[str]] = defaultdict(set)
    general: dict[int, bool] = {}
    for start in range(0, len(customer_ids), CHUNK):
        chunk = customer_ids[start : start + CHUNK]
        rows = session.execute(
            select(ConsentState.customer_id, ConsentState.channel, ConsentState.status).where(
                ConsentState.customer_id.in_(chunk), ConsentState.purpose == MARKETING
            )
        )
        for customer_id, channel, status in rows:
            if channel == "any":
                general[customer_id] = status == "granted"
            elif status == "granted":
                granted[customer_id].add(channel)
            else:
                denied[customer_id].add(channel)
    everything = {"email", "sms", "push", "in_app", "postal", "phone"}
    out: dict[int, set[str]] = {}
    for customer_id in customer_ids:
        channels = set(granted.get(customer_id, ()))
        if general.get(customer_id):
            channels |= everything - denied.get(customer_id, set())
        out[customer_id] = channels
    return out


def recent_sends(
    session: Session, customer_ids: Sequence[int], *, now: datetime
) -> dict[int, list[PastSend]]:
    """Each customer's marketing messages planned or sent around ``now`` (by delivery time)."""
    found: dict[int, list[PastSend]] = defaultdict(list)
    for start in range(0, len(customer_ids), CHUNK):
        chunk = customer_ids[start : start + CHUNK]
        rows = session.execute(
            select(Message.customer_id, Message.channel, Message.deliver_at).where(
                Message.customer_id.in_(chunk),
                Message.transactional.is_(False),
                Message.state.in_(COUNTED_STATES),
                Message.deliver_at >= now - HISTORY_SPAN,
                Message.deliver_at < now + HISTORY_SPAN,
            )
        )
        for customer_id, channel, deliver_at in rows:
            if customer_id is not None:
                found[customer_id].append(PastSend(deliver_at, channel))
    return found


def recent_sends_between(
    session: Session, first_id: int, last_id: int, *, now: datetime
) -> dict[int, list[PastSend]]:
    """The same for every customer with an id in [first_id, last_id]: a range, not a list of
    ids, so a campaign's chunk of 20,000 recipients costs one indexed range scan."""
    found: dict[int, list[PastSend]] = defaultdict(list)
    rows = session.execute(
        select(Message.customer_id, Message.channel, Message.deliver_at).where(
            Message.customer_id >= first_id,
            Message.customer_id <= last_id,
            Message.transactional.is_(False),
            Message.state.in_(COUNTED_STATES),
            Message.deliver_at >= now - HISTORY_SPAN,
            Message.deliver_at < now + HISTORY_SPAN,
        )
    )
    for customer_id, channel, deliver_at in rows:
        if customer_id is not None:
            found[customer_id].append(PastSend(deliver_at, channel))
    return found


@dataclass(frozen=True)
class PlannedSend:
    channel: str | None
    decision: SendDecision


def plan_one(
    session: Session,
    policy: SendPolicy,
    *,
    customer_id: int,
    channel: str,
    now: datetime,
    transactional: bool = False,
    allowed: Collection[str] | None = None,
) -> PlannedSend:
    """The channel and decision for one message to one customer, read at send time."""
    customer = session.get(Customer, customer_id)
    zone = zone_of(customer.timezone if customer else None, policy.default_timezone)
    consents = marketing_consents(session, [customer_id])[customer_id]
    if channel == "preferred":
        chosen = choose_channel(
            preferred=customer.preferred_channel if customer else None,
            consented={c for c in policy.fallback_channels if consent_channel(c) in consents},
            fallback=policy.fallback_channels,
            allowed=allowed,
        )
        if chosen is None:
            if not transactional:
                return PlannedSend(None, SendDecision(SendOutcome.NO_CONSENT))
            chosen = policy.fallback_channels[0]
        channel = chosen
    history = recent_sends(session, [customer_id], now=now).get(customer_id, [])
    decision = decide_send(
        policy,
        channel=channel,
        at=now,
        zone=zone,
        consented=consent_channel(channel) in consents,
        history=history,
        transactional=transactional,
    )
    return PlannedSend(channel, decision)
