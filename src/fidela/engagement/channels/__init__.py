"""The channel port: every channel's provider adapter takes rendered messages and says, per
message, whether the provider accepted it. Adapters pass each message's idempotency key to
the provider (email ``Message-ID``, webhook ``Idempotency-Key``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

from fidela.engagement.rules import Channel
from fidela.engagement.templating import Brand, Rendered


@dataclass(frozen=True)
class Outgoing:
    """One message ready for its provider."""

    message_id: int
    key: str
    channel: Channel
    address: str
    rendered: Rendered
    brand: Brand
    customer_id: int | None = None
    unsubscribe_url: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    message_id: int
    accepted: bool
    provider_id: str | None = None
    error: str | None = None
    retryable: bool = False
    hard_bounce: bool = False


class ChannelAdapter(Protocol):
    def submit(self, messages: Sequence[Outgoing]) -> Future[list[SendResult]]:
        """Start handing the messages to the provider; the future holds one result per
        message, in order (a single message's failure is a result, never an exception)."""
        ...

    def send_many(self, messages: Sequence[Outgoing]) -> list[SendResult]:
        """``submit`` and wait."""
        ...

    def close(self) -> None: ...
