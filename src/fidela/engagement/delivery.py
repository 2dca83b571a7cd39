"""Delivery: the worker's side of a message, in three steps per batch.

1. Prepare (a read-only unit of work): load the batch's messages still ``queued``; drop the
   expired; resolve each address from the customer's identities; check the suppression list
   and, for marketing messages, consent *now* (not only when the campaign was planned);
   gather the personalisation and render with the brand kit and tracked links.
2. Send, outside any transaction, through each channel's adapter (SMTP connections are pooled
   and used concurrently).
3. Record (one write unit of work): every outcome, tracking events, in-app inbox items, and
   hard bounces on the suppression list.

Only ``queued`` messages are sent, so a job that is retried or run again after a crash sends
what it had not finished, never a message it had recorded as sent. The one window left is a
crash after the provider accepted a message and before step 3 committed: that message goes
out again with the same idempotency key (email ``Message-ID``, webhook ``Idempotency-Key``),
which is what lets the provider, or the receiving mailbox, recognise and drop the copy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fidela.customer.models import ConsentState, Customer, CustomerIdentity
from fidela.customer.rules import InvalidIdentity, normalise_email, normalise_phone
from fidela.engagement.channels import ChannelAdapter, Outgoing, SendResult
from fidela.engagement.channels.email import EmailChannel
from fidela.engagement.channels.webhook import WebhookChannel
from fidela.engagement.config import EngagementSettings
from fidela.engagement.models import InboxItem, Message, MessageEvent
from fidela.engagement.personalisation import ContextBuilder, context_builder
from fidela.engagement.rules import (
    CONSENT_CHANNEL,
    DEFAULT_FALLBACK_ORDER,
    Channel,
    MessageState,
    SuppressionReason,
    TemplateNotFound,
    TemplateRefused,
    TrackingKind,
    choose_channel,
)
from fidela.engagement.templates import TemplateCatalogue
from fidela.engagement.templating import (
    Brand,
    Rendered,
    Source,
    names_used,
    render_email,
    render_text_channel,
)
from fidela.engagement.tracking import Links, suppress, suppressed_addresses
from fidela.platform.bulk import insert_rows, update_rows
from fidela.platform.db import Database, table_of

# Messages rendered before they are handed to the provider as one slice.
SEND_SLICE = 25


class RetryLater(Exception):
    """Some messages of the batch failed in a way worth retrying (the job is retried with
    back-off; the messages already recorded are not sent again)."""


@dataclass
class BatchOutcome:
    sent: int = 0
    failed: int = 0
    suppressed: int = 0
    expired: int = 0
    retry: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class _Prepared:
    message: Message
    state: MessageState | None = None  # decided without sending (failed/suppressed/expired)
    error: str | None = None
    outgoing: Outgoing | None = None
    language: str | None = None
    address: str | None = None  # resolved here; the ORM row is never touched before step 3


@dataclass
class Delivery:
    """Everything the delivery job needs, built once per worker process."""

    settings: EngagementSettings
    links: Links
    default_phone_region: str
    adapters: dict[Channel, ChannelAdapter] = field(default_factory=dict)
    context: ContextBuilder | None = None

    @classmethod
    def from_settings(
        cls, settings: EngagementSettings, *, public_url: str, default_phone_region: str
    ) -> Delivery:
        adapters: dict[Channel, ChannelAdapter] = {
            Channel.EMAIL: EmailChannel(
                host=settings.smtp_host,
                port=settings.smtp_port,
                sender=settings.default_sender,
                message_id_domain=settings.message_id_domain,
                connections=settings.smtp_connections,
                timeout=settings.smtp_timeout_seconds,
                username=settings.smtp_username,
                password=settings.smtp_password,
                starttls=settings.smtp_starttls,
                rate_per_second=settings.rate_limits.get("email"),
            )
        }
        for name, url in settings.webhooks.items():
            channel = Channel(name)
            adapters[channel] = WebhookChannel(
                url=url,
                secret=settings.signing_secret,
                timeout=settings.webhook_timeout_seconds,
                rate_per_second=settings.rate_limits.get(name),
            )
        return cls(
            settings=settings,
            links=Links(settings.tracking_base_url or public_url, settings.signing_secret),
            default_phone_region=default_phone_region,
            adapters=adapters,
        )

    def close(self) -> None:
        for adapter in self.adapters.values():
            adapter.close()

    # ------------------------------------------------------------------ the job

    def deliver(
        self, database: Database, message_ids: Sequence[int], *, now: datetime
    ) -> BatchOutcome:
        with database.read() as session:
            prepared, pending = self._prepare(session, message_ids, now)
        results: dict[int, SendResult] = {}
        for future in pending:
            results.update({r.message_id: r for r in future.result()})
        with database.write() as session:
            return self._record(session, prepared, results, now)

    # ------------------------------------------------------------------ step 1

    def _prepare(
        self, session: Session, ids: Sequence[int], now: datetime
    ) -> tuple[list[_Prepared], list[Future[list[SendResult]]]]:
        messages = list(
            session.execute(
                select(Message)
                .where(Message.id.in_(ids), Message.state == MessageState.QUEUED.value)
                .order_by(Message.id)
            ).scalars()
        )
        batch = [_Prepared(message) for message in messages]
        live: list[_Prepared] = []
        for item in batch:
            if item.message.expires_at is not None and item.message.expires_at <= now:
                item.state, item.error = MessageState.EXPIRED, "expired before it could be sent"
            else:
                live.append(item)
        customer_ids = sorted({i.message.customer_id for i in live if i.message.customer_id})
        customers = {
            c.id: c
            for c in session.execute(
                select(Customer).where(Customer.id.in_(customer_ids))
            ).scalars()
        }
        identities = _identities(session, customer_ids)
        consented = _marketing_consent(session, customer_ids)
        for item in live:
            self._address(item, customers, identities, consented)
        by_channel: dict[Channel, list[_Prepared]] = {}
        for item in live:
            if item.state is None and item.outgoing is None:
                by_channel.setdefault(Channel(item.message.channel), []).append(item)
        for channel, items in by_channel.items():
            blocked = suppressed_addresses(session, channel, [i.address or "" for i in items])
            for item in items:
                if item.address in blocked:
                    item.state, item.error = MessageState.SUPPRESSED, "address is suppressed"
        to_render = [i for i in live if i.state is None]
        builder = self.context or context_builder(self.settings.default_programme)
        catalogue = TemplateCatalogue(session, self.settings.default_language)
        contexts = builder.build(
            session,
            [i.message.customer_id for i in to_render if i.message.customer_id],
            now,
            families=self._families_used(to_render, customers, catalogue),
        )
        # Render a slice, hand it to its provider, render the next while the first is on the
        # wire: the SMTP round trips overlap with rendering instead of following it.
        pending: list[Future[list[SendResult]]] = []
        for start in range(0, len(to_render), SEND_SLICE):
            chunk = to_render[start : start + SEND_SLICE]
            for item in chunk:
                self._render(item, contexts, customers, catalogue)
            pending.extend(self._submit(chunk))
        return batch, pending

    def _families_used(
        self,
        items: Sequence[_Prepared],
        customers: Mapping[int, Customer],
        catalogue: TemplateCatalogue,
    ) -> set[str]:
        """The personalisation families the batch's templates read (a few templates serve
        hundreds of messages, and each parse is cached)."""
        used: set[str] = set()
        for item in items:
            message = item.message
            customer = customers.get(message.customer_id) if message.customer_id else None
            if message.template is not None:
                try:
                    source, _language, _brand = catalogue.resolve(
                        message.template,
                        Channel(message.channel),
                        customer.language if customer else None,
                    )
                except TemplateNotFound:
                    continue  # reported when the message is rendered
                texts: tuple[str, ...] = (source.subject, source.body, source.text_body)
            else:
                content = message.content or {}
                texts = tuple(str(content.get(k, "")) for k in ("subject", "body", "text_body"))
            for text in texts:
                used |= names_used(text or "")
        return used

    def _address(
        self,
        item: _Prepared,
        customers: Mapping[int, Customer],
        identities: Mapping[int, dict[str, list[str]]],
        consented: Mapping[int, set[str]],
    ) -> None:
        message = item.message
        channel = Channel(message.channel)
        customer = customers.get(message.customer_id) if message.customer_id else None
        if message.customer_id is not None:
            if customer is None or customer.status != "active":
                item.state, item.error = MessageState.FAILED, "the customer is not active"
                return
            if not message.transactional and CONSENT_CHANNEL[channel] not in consented.get(
                customer.id, set()
            ):
                item.state, item.error = MessageState.SUPPRESSED, "no marketing consent"
                return
        try:
            address = message.address or _customer_address(
                channel, customer, identities.get(message.customer_id or 0, {})
            )
            if address is not None and message.address is not None:
                address = _validated(channel, address, self.default_phone_region)
        except InvalidIdentity as exc:
            item.state, item.error = MessageState.FAILED, exc.detail
            return
        if not address:
            item.state, item.error = MessageState.FAILED, f"no {channel.value} address"
            return
        item.address = address

    def _render(
        self,
        item: _Prepared,
        contexts: Mapping[int, dict[str, Any]],
        customers: Mapping[int, Customer],
        catalogue: TemplateCatalogue,
    ) -> None:
        message = item.message
        channel = Channel(message.channel)
        customer = customers.get(message.customer_id) if message.customer_id else None
        variables = {**contexts.get(message.customer_id or 0, {}), **message.context}
        language: str | None
        try:
            if message.template is not None:
                source, language, brand = catalogue.resolve(
                    message.template, channel, customer.language if customer else None
                )
            else:
                content = message.content or {}
                source = Source(
                    content.get("subject", ""),
                    content.get("body", ""),
                    content.get("text_body", ""),
                )
                language, brand = (customer.language if customer else None), catalogue.brand()
            rendered = self._rendered(channel, source, variables, brand, message)
        except (TemplateNotFound, TemplateRefused) as exc:
            item.state, item.error = MessageState.FAILED, exc.detail
            return
        unsubscribe = None if message.transactional else self.links.unsubscribe(message.id)
        item.language = language
        item.outgoing = Outgoing(
            message_id=message.id,
            key=message.key,
            channel=channel,
            address=item.address or "",
            rendered=rendered,
            brand=brand,
            customer_id=message.customer_id,
            unsubscribe_url=unsubscribe,
            metadata={
                "campaign_id": message.campaign_id,
                "journey_id": message.journey_id,
                "step": message.step,
                "variant": message.variant,
                "profile": _postal_profile(customer) if channel is Channel.POSTAL else None,
            },
        )

    def _rendered(
        self,
        channel: Channel,
        source: Source,
        variables: dict[str, Any],
        brand: Brand,
        message: Message,
    ) -> Rendered:
        def track(url: str) -> str:
            return self.links.click(message.id, url)

        if channel is Channel.EMAIL:
            return render_email(
                source,
                variables,
                brand,
                unsubscribe_url=None
                if message.transactional
                else self.links.unsubscribe(message.id),
                rewrite_link=track,
                open_pixel_url=self.links.open_pixel(message.id),
            )
        return render_text_channel(
            channel,
            source,
            variables,
            brand,
            rewrite_link=track if channel in (Channel.SMS, Channel.PUSH, Channel.IN_APP) else None,
        )

    # ------------------------------------------------------------------ step 2

    def _submit(self, batch: Sequence[_Prepared]) -> list[Future[list[SendResult]]]:
        futures: list[Future[list[SendResult]]] = []
        by_channel: dict[Channel, list[Outgoing]] = {}
        for item in batch:
            if item.outgoing is not None:
                by_channel.setdefault(item.outgoing.channel, []).append(item.outgoing)
        for channel, outgoing in by_channel.items():
            adapter = self.adapters.get(channel)
            if channel is Channel.IN_APP:
                # Delivered by step 3 itself: the inbox row commits with the "sent" state.
                futures.append(_done([SendResult(o.message_id, True) for o in outgoing]))
            elif adapter is None:
                error = f"no provider configured for {channel.value}"
                futures.append(
                    _done([SendResult(o.message_id, False, error=error) for o in outgoing])
                )
            else:
                futures.append(adapter.submit(outgoing))
        return futures

    # ------------------------------------------------------------------ step 3

    def _record(
        self,
        session: Session,
        batch: Sequence[_Prepared],
        results: Mapping[int, SendResult],
        now: datetime,
    ) -> BatchOutcome:
        outcome = BatchOutcome()
        updates: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        inbox: list[dict[str, Any]] = []
        for item in batch:
            message = item.message
            state, error, provider_id = item.state, item.error, None
            result = results.get(message.id)
            if state is None and result is not None:
                if result.accepted:
                    state, provider_id = MessageState.SENT, result.provider_id
                elif result.retryable:
                    state, error = MessageState.QUEUED, result.error
                    outcome.retry += 1
                    outcome.errors.append(f"{message.id}: {result.error}")
                else:
                    state, error = MessageState.FAILED, result.error
                    if result.hard_bounce and item.address:
                        suppress(
                            session,
                            channel=Channel(message.channel),
                            address=item.address,
                            reason=SuppressionReason.HARD_BOUNCE,
                            now=now,
                            customer_id=message.customer_id,
                            source=f"smtp:{result.error}"[:200],
                        )
            if state is None:  # pragma: no cover - every prepared message has a result
                continue
            sent = state is MessageState.SENT
            final = state is not MessageState.QUEUED
            rendered = item.outgoing.rendered if item.outgoing else None
            updates.append(
                {
                    "id": message.id,
                    "state": state.value,
                    "address": item.address or message.address,
                    "language": item.language,
                    "subject": rendered.subject if rendered and sent else None,
                    "provider_id": provider_id,
                    "error": error,
                    "attempts": message.attempts + 1,
                    "sent_at": now if sent else None,
                    "finished_at": now if final else None,
                }
            )
            if sent:
                outcome.sent += 1
                events.append(_event(message.id, TrackingKind.SENT, now))
                if message.channel == Channel.IN_APP.value and rendered is not None:
                    inbox.append(
                        {
                            "message_id": message.id,
                            "customer_id": message.customer_id,
                            "title": rendered.subject,
                            "body": rendered.text,
                            "created_at": now,
                            "read_at": None,
                        }
                    )
            elif state is MessageState.FAILED:
                outcome.failed += 1
                events.append(_event(message.id, TrackingKind.FAILED, now, {"error": error}))
            elif state is MessageState.SUPPRESSED:
                outcome.suppressed += 1
            elif state is MessageState.EXPIRED:
                outcome.expired += 1
        update_rows(session, table_of(Message), updates)
        insert_rows(session, table_of(MessageEvent), events)
        insert_rows(session, table_of(InboxItem), inbox)
        return outcome


def _done(results: list[SendResult]) -> Future[list[SendResult]]:
    future: Future[list[SendResult]] = Future()
    future.set_result(results)
    return future


def _event(
    message_id: int, kind: TrackingKind, now: datetime, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "kind": kind.value,
        "occurred_at": now,
        "url": None,
        "details": details or {},
    }


def _identities(session: Session, customer_ids: Sequence[int]) -> dict[int, dict[str, list[str]]]:
    """Addresses per customer and kind, verified ones first, then the newest."""
    found: dict[int, dict[str, list[str]]] = {}
    if not customer_ids:
        return found
    rows = session.execute(
        select(CustomerIdentity.customer_id, CustomerIdentity.kind, CustomerIdentity.value)
        .where(
            CustomerIdentity.customer_id.in_(customer_ids),
            CustomerIdentity.kind.in_(("email", "phone", "device")),
        )
        .order_by(CustomerIdentity.verified.desc(), CustomerIdentity.id.desc())
    ).all()
    for customer_id, kind, value in rows:
        found.setdefault(customer_id, {}).setdefault(kind, []).append(value)
    return found


def _marketing_consent(session: Session, customer_ids: Sequence[int]) -> dict[int, set[str]]:
    """Consent channels granted for marketing, per customer: a channel-specific decision
    wins; without one, a decision for ``any`` channel applies (as ``has_consent``)."""
    specific: dict[int, dict[str, bool]] = {}
    general: dict[int, bool] = {}
    if customer_ids:
        rows = session.execute(
            select(ConsentState.customer_id, ConsentState.channel, ConsentState.status).where(
                ConsentState.customer_id.in_(customer_ids), ConsentState.purpose == "marketing"
            )
        ).all()
        for customer_id, channel, status in rows:
            if channel == "any":
                general[customer_id] = status == "granted"
            else:
                specific.setdefault(customer_id, {})[channel] = status == "granted"
    channels = set(CONSENT_CHANNEL.values())
    granted: dict[int, set[str]] = {}
    for customer_id in customer_ids:
        own = specific.get(customer_id, {})
        granted[customer_id] = {
            channel for channel in channels if own.get(channel, general.get(customer_id, False))
        }
    return granted


def _customer_address(
    channel: Channel, customer: Customer | None, identities: Mapping[str, list[str]]
) -> str | None:
    if customer is None:
        return None
    if channel is Channel.EMAIL:
        return next(iter(identities.get("email", [])), None)
    if channel is Channel.SMS:
        return next(iter(identities.get("phone", [])), None)
    if channel is Channel.PUSH:
        return next(iter(identities.get("device", [])), None)
    if channel is Channel.IN_APP:
        return f"customer:{customer.id}"
    if channel is Channel.SOCIAL_AUDIENCE:
        # Ad platforms match audiences on the SHA-256 of the normalised address: the
        # address itself never leaves.
        email = next(iter(identities.get("email", [])), None)
        return hashlib.sha256(email.encode()).hexdigest() if email else None
    postal = (customer.attributes or {}).get("postal_address")
    return str(postal) if postal else None


def _validated(channel: Channel, address: str, region: str) -> str:
    if channel is Channel.EMAIL:
        return normalise_email(address, "/address")
    if channel is Channel.SMS:
        return normalise_phone(address, region, "/address")
    return address


def _postal_profile(customer: Customer | None) -> dict[str, Any] | None:
    if customer is None:
        return None
    return {
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "city": customer.city,
        "country": customer.country,
    }


def choose_channels(
    session: Session,
    customer_ids: Sequence[int],
    *,
    fallback_order: Sequence[Channel] = DEFAULT_FALLBACK_ORDER,
    transactional: bool = False,
) -> dict[int, Channel | None]:
    """Each customer's channel for a message: their preferred channel when they consented to
    it (marketing; any channel for transactional messages) and have an address for it, else
    the first of ``fallback_order`` that qualifies, else None. Batched: four queries."""
    ids = sorted(set(customer_ids))
    customers = {
        c.id: c for c in session.execute(select(Customer).where(Customer.id.in_(ids))).scalars()
    }
    identities = _identities(session, ids)
    consented = _marketing_consent(session, ids)
    chosen: dict[int, Channel | None] = {}
    for customer_id in ids:
        customer = customers.get(customer_id)
        if customer is None or customer.status != "active":
            chosen[customer_id] = None
            continue
        own = identities.get(customer_id, {})
        reachable = [c for c in Channel if _customer_address(c, customer, own)]
        allowed = (
            list(Channel)
            if transactional
            else [c for c in Channel if CONSENT_CHANNEL[c] in consented.get(customer_id, set())]
        )
        chosen[customer_id] = choose_channel(
            preferred=customer.preferred_channel,
            consented=allowed,
            reachable=reachable,
            fallback_order=fallback_order,
        )
    return chosen
