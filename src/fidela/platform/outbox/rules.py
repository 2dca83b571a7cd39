"""Outbox rules: message states, retry back-off, and when a message is dead.

States::

    pending --claim--> running --succeed--> done
       ^                  |
       +------retry-------+--give up / expired--> dead --manual retry--> pending

Invariants:
- A message is delivered at least once; its ``key`` (unique) is the idempotency key handed to
  the provider so that at-least-once becomes delivered-once on the provider's side.
- A claim is a lease: a worker that dies mid-send leaves a ``running`` row whose lease runs
  out, and another worker takes it again.
- Back-off is exponential with a cap and deterministic jitter (a hash of the key and the
  attempt), so retries of many messages spread out and tests can predict them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from fidela.kernel.errors import Conflict, InvalidInput, NotFound


class MessageStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"


class OutboxMessageNotFound(NotFound):
    code = "outbox_message_not_found"
    title = "Outbox message not found"


class OutboxMessageNotDead(Conflict):
    code = "outbox_message_not_dead"
    title = "Only dead messages can be retried"


class UnknownTopic(InvalidInput):
    code = "unknown_topic"
    title = "No handler for this topic"


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential back-off: ``base * factor**(attempt-1)``, capped, with up to ``jitter``
    (a fraction) added."""

    max_attempts: int = 8
    base: timedelta = timedelta(seconds=10)
    factor: float = 3.0
    cap: timedelta = timedelta(hours=6)
    jitter: float = 0.2


DEFAULT_RETRY = RetryPolicy()


def backoff_delay(policy: RetryPolicy, key: str, attempt: int) -> timedelta:
    """Delay before attempt ``attempt + 1`` after attempt number ``attempt`` (1-based) failed."""
    if attempt < 1:
        raise ValueError("attempt is 1-based")
    raw = policy.base.total_seconds() * policy.factor ** (attempt - 1)
    capped = min(raw, policy.cap.total_seconds())
    digest = hashlib.sha256(f"{key}:{attempt}".encode()).digest()
    fraction = int.from_bytes(digest[:4], "big") / 0xFFFFFFFF
    return timedelta(seconds=capped * (1 + policy.jitter * fraction))


@dataclass(frozen=True)
class FailureDecision:
    status: MessageStatus
    available_at: datetime
    reason: str


def decide_after_failure(
    *,
    policy: RetryPolicy,
    key: str,
    attempts: int,
    max_attempts: int,
    now: datetime,
    expires_at: datetime | None,
    retryable: bool,
) -> FailureDecision:
    """What to do with a message whose latest attempt (``attempts``, 1-based) failed."""
    if not retryable:
        return FailureDecision(MessageStatus.DEAD, now, "permanent failure")
    if attempts >= max_attempts:
        return FailureDecision(MessageStatus.DEAD, now, f"gave up after {attempts} attempts")
    next_at = now + backoff_delay(policy, key, attempts)
    if expires_at is not None and next_at >= expires_at:
        # A time-sensitive message (tomorrow's abandoned-cart SMS) is worthless late.
        return FailureDecision(MessageStatus.DEAD, now, "expired before the next attempt")
    return FailureDecision(MessageStatus.PENDING, next_at, "retry scheduled")


def is_expired(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is not None and now >= expires_at


def periodic_slot(now: datetime, every: timedelta, epoch: datetime) -> datetime:
    """The start of the period containing ``now``; one job per (task, slot) runs, whatever
    the number of workers, because the slot is part of the job's unique key."""
    seconds = every.total_seconds()
    if seconds <= 0:
        raise ValueError("period must be positive")
    elapsed = (now - epoch).total_seconds()
    return epoch + timedelta(seconds=(elapsed // seconds) * seconds)
