"""What ingestion needs besides the session."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from fidela.customer.rules import CustomerPolicy
from fidela.event.dispatch import SubscriberRegistry


@dataclass(frozen=True)
class IngestContext:
    """Subscribers, identity policy, the clock read once by the shell, and the request ids:
    one for all events (``request_id``) or one per event (``request_ids``, when the shell
    groups several requests into one batch)."""

    subscribers: SubscriberRegistry
    policy: CustomerPolicy
    now: datetime
    request_id: str | None = None
    request_ids: Sequence[str | None] | None = None

    def request_id_of(self, index: int) -> str | None:
        if self.request_ids is not None:
            return self.request_ids[index]
        return self.request_id
