"""Engagement delivery rules: channels, message states, tracking signatures, rate limits.

Concepts and invariants:

- A **message** is one communication to one customer on one channel. Its ``key`` is unique and
  is the idempotency key handed to the provider (the email ``Message-ID`` is derived from it, a
  webhook carries it in ``Idempotency-Key``), so a redelivery after a crash is recognisable.
- States: ``queued`` → ``sent`` → ``delivered`` (provider confirmation), or ``failed``
  (permanent), ``suppressed`` (address on the suppression list or consent gone at send time),
  ``expired`` (too late to be worth sending), ``held_out`` (experiment control: recorded,
  never routed). Only ``queued`` messages are ever sent; a message leaves ``queued`` once.
- **Tracking links** are HMAC-SHA256 signed over (message id, target URL): an unsigned or
  tampered link is refused, so the redirect endpoint can never become an open redirect.
- **Rate limits** are token buckets per provider: ``rate`` tokens per second, ``burst`` at most.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from fidela.kernel.errors import Conflict, FieldProblem, InvalidInput, NotFound


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"
    IN_APP = "in_app"
    SOCIAL_AUDIENCE = "social_audience"
    POSTAL = "postal"


# The consent channel that governs each message channel (social audiences are marketing use
# of the email/phone identity: they follow the email consent).
CONSENT_CHANNEL: dict[Channel, str] = {
    Channel.EMAIL: "email",
    Channel.SMS: "sms",
    Channel.PUSH: "push",
    Channel.IN_APP: "in_app",
    Channel.SOCIAL_AUDIENCE: "email",
    Channel.POSTAL: "postal",
}

DEFAULT_FALLBACK_ORDER: tuple[Channel, ...] = (
    Channel.EMAIL,
    Channel.PUSH,
    Channel.SMS,
    Channel.IN_APP,
    Channel.POSTAL,
)


class MessageState(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    HELD_OUT = "held_out"
    EXPIRED = "expired"


class TrackingKind(StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    OPENED = "opened"
    CLICKED = "clicked"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    CONVERTED = "converted"
    FAILED = "failed"


class SuppressionReason(StrEnum):
    HARD_BOUNCE = "hard_bounce"
    COMPLAINT = "complaint"
    UNSUBSCRIBED = "unsubscribed"
    MANUAL = "manual"


SUPPORTED_LANGUAGES = ("fr", "en")


# ---------------------------------------------------------------------------- errors


class InvalidMessage(InvalidInput):
    code = "invalid_message"
    title = "The message cannot be queued"


class TemplateNotFound(NotFound):
    code = "template_not_found"
    title = "Template not found"


class TemplateRefused(InvalidInput):
    code = "template_refused"
    title = "The template is not allowed"


class TemplateConflict(Conflict):
    code = "template_conflict"
    title = "The template changed or already exists"


class MessageNotFound(NotFound):
    code = "message_not_found"
    title = "Message not found"


class BrandKitNotFound(NotFound):
    code = "brand_kit_not_found"
    title = "No brand kit"


class BrandKitConflict(Conflict):
    code = "brand_kit_conflict"
    title = "The brand kit was changed by someone else"


class InvalidTrackingLink(InvalidInput):
    code = "invalid_tracking_link"
    title = "The link is not valid"


class NoReachableChannel(InvalidInput):
    code = "no_reachable_channel"
    title = "The customer cannot be reached on any consented channel"


class InvalidWebhook(InvalidInput):
    code = "invalid_provider_webhook"
    title = "The provider notification is not valid"


def invalid(pointer: str, detail: str, error: type[InvalidInput] = InvalidMessage) -> InvalidInput:
    return error(detail, [FieldProblem(pointer, detail)])


# ---------------------------------------------------------------------------- channels


def parse_channel(value: str, pointer: str = "/channel") -> Channel:
    try:
        return Channel(value)
    except ValueError:
        allowed = ", ".join(c.value for c in Channel)
        raise invalid(pointer, f"unknown channel {value!r}; one of {allowed}") from None


def choose_channel(
    *,
    preferred: str | None,
    consented: Iterable[Channel],
    reachable: Iterable[Channel],
    fallback_order: Sequence[Channel] = DEFAULT_FALLBACK_ORDER,
) -> Channel | None:
    """The customer's preferred channel if consented and reachable (an address exists), else
    the first of ``fallback_order`` that is both; None when nothing qualifies."""
    usable = set(consented) & set(reachable)
    if preferred is not None and preferred in {c.value for c in usable}:
        return Channel(preferred)
    for channel in fallback_order:
        if channel in usable:
            return channel
    return None


def pick_language(requested: str | None, available: Iterable[str], default: str) -> str | None:
    """The requested language (``fr-CA`` → ``fr``) if a template exists in it, else the default
    language, else any available one (sorted, so the choice is stable)."""
    have = sorted(set(available))
    if not have:
        return None
    if requested:
        base = requested.split("-")[0].split("_")[0].lower()
        if base in have:
            return base
    if default in have:
        return default
    return have[0]


# ---------------------------------------------------------------------------- identity


def message_id_header(key: str, domain: str) -> str:
    """An RFC 5322 Message-ID derived from the idempotency key: every attempt of one message
    carries the same id, so a receiver (or a provider) recognises a redelivery."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


# ---------------------------------------------------------------------------- signatures


def _mac(secret: str, *parts: str) -> str:
    digest = hmac.new(secret.encode(), "\x1f".join(parts).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode().rstrip("=")


def sign_click(secret: str, message_id: int, url: str) -> str:
    return _mac(secret, "click", str(message_id), url)


def sign_message(secret: str, purpose: str, message_id: int) -> str:
    """A token for the open pixel (``open``) or the unsubscribe link (``unsubscribe``)."""
    return _mac(secret, purpose, str(message_id))


def verify_click(secret: str, message_id: int, url: str, signature: str) -> None:
    if not url.startswith(("https://", "http://")):
        raise invalid("/url", "only http and https links are tracked", InvalidTrackingLink)
    if not hmac.compare_digest(sign_click(secret, message_id, url), signature):
        raise invalid("/sig", "the link signature does not match", InvalidTrackingLink)


def verify_message_token(secret: str, purpose: str, message_id: int, signature: str) -> None:
    if not hmac.compare_digest(sign_message(secret, purpose, message_id), signature):
        raise invalid("/sig", "the link signature does not match", InvalidTrackingLink)


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Signature of an outgoing (or incoming provider) webhook: hex HMAC-SHA256 over
    ``timestamp.body`` so a captured request cannot be replayed with another timestamp."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_webhook(secret: str, timestamp: str, body: bytes, signature: str) -> None:
    if not hmac.compare_digest(webhook_signature(secret, timestamp, body), signature):
        raise invalid("/signature", "the webhook signature does not match", InvalidWebhook)


# ---------------------------------------------------------------------------- rate limits


@dataclass
class TokenBucket:
    """``rate`` tokens per second refilled continuously, at most ``burst`` saved up.

    ``take(now)`` returns how long the caller must wait (seconds) before its token is due; the
    token is reserved either way, so concurrent callers queue up fairly."""

    rate: float
    burst: float
    tokens: float = -1.0
    updated: float = 0.0

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        if self.tokens < 0:
            self.tokens = self.burst

    def take(self, now: float) -> float:
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        self.tokens -= 1
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate


# ---------------------------------------------------------------------------- bounces


def classify_smtp_reply(code: int) -> tuple[bool, bool]:
    """(retryable, hard_bounce) for an SMTP reply code: 4xx is temporary, 5xx permanent and
    a 550/551/553 recipient rejection is a hard bounce."""
    if 400 <= code < 500:
        return True, False
    if code in (550, 551, 553):
        return False, True
    return code < 400, False
