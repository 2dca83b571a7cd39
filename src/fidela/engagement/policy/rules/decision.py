"""The one decision taken for every marketing message at send time: consent, then quiet
hours (hold until the window ends), then frequency caps counted on the day it will really
go out. Transactional messages skip marketing consent, quiet hours and caps; legal
suppression (hard bounces, complaints, erasure) still applies to them in the delivery layer."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from fidela.engagement.policy.rules.caps import CapRule, PastSend, check_caps
from fidela.engagement.policy.rules.quiet_hours import QuietHours, release_time


class SendOutcome(StrEnum):
    SEND = "send"  # now, or at ``send_at`` when held by quiet hours
    NO_CONSENT = "no_consent"
    CAPPED = "capped"


@dataclass(frozen=True)
class SendPolicy:
    caps: tuple[CapRule, ...] = ()
    quiet_hours: QuietHours | None = None
    default_timezone: str = "Europe/Paris"
    fallback_channels: tuple[str, ...] = field(default=("email", "sms", "push", "in_app"))


@dataclass(frozen=True)
class SendDecision:
    outcome: SendOutcome
    send_at: datetime | None = None
    held: bool = False
    cap: CapRule | None = None

    @property
    def allowed(self) -> bool:
        return self.outcome is SendOutcome.SEND


def decide_send(
    policy: SendPolicy,
    *,
    channel: str,
    at: datetime,
    zone: ZoneInfo,
    consented: bool,
    history: Iterable[PastSend] = (),
    transactional: bool = False,
) -> SendDecision:
    if transactional:
        return SendDecision(SendOutcome.SEND, at)
    if not consented:
        return SendDecision(SendOutcome.NO_CONSENT)
    send_at = release_time(at, zone, policy.quiet_hours)
    verdict = check_caps(policy.caps, history, channel=channel, at=send_at, zone=zone)
    if not verdict.allowed:
        return SendDecision(SendOutcome.CAPPED, cap=verdict.rule)
    return SendDecision(SendOutcome.SEND, send_at, held=send_at != at)
