"""Referral fraud checks: hold a referral reward for review, or let it through.

Two families of signals, after Smile.io's auto-block indicators and Talon.One's identifier
budgets:

- **Self-referral**: the referrer and the referee are the same customer, or share an
  identity (email, phone, loyalty card, device id), or have "similar" emails (the same
  mailbox once ``+tags`` are dropped, and dots for Gmail, which ignores them).
- **Bursts**: more than ``max_count`` referrals completed within ``window`` from one
  referrer, or from one source (an IP address or another normalised origin key).

Identities arrive normalised (the customer context owns normalisation); the decision names
which kind matched, never the value, so the review queue does not spread personal data.
A held referral is not refused: the reward waits, pending, for a human decision.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from fidela.kernel.errors import FieldProblem, InvalidInput

_GMAIL = frozenset({"gmail.com", "googlemail.com"})


class Verdict(StrEnum):
    OK = "ok"
    HOLD = "hold_for_review"


@dataclass(frozen=True)
class Identities:
    """Normalised identity values of one customer, by kind."""

    emails: frozenset[str] = frozenset()
    phones: frozenset[str] = frozenset()
    cards: frozenset[str] = frozenset()
    devices: frozenset[str] = frozenset()


@dataclass(frozen=True)
class CompletedReferral:
    """A referral that completed (the referee signed up or bought, as the programme says)."""

    referrer_id: int
    referee_id: int
    completed_at: datetime
    source: str | None = None  # e.g. the referee's IP address, normalised

    def __post_init__(self) -> None:
        if self.completed_at.tzinfo is None or self.completed_at.utcoffset() is None:
            raise InvalidInput(
                "naive datetime: timezone-aware datetimes only",
                [FieldProblem("/completed_at", "must be timezone-aware")],
            )


@dataclass(frozen=True)
class BurstLimit:
    """Hold when more than ``max_count`` referrals complete within ``window``."""

    max_count: int
    window: timedelta

    def __post_init__(self) -> None:
        problems = []
        if self.max_count < 1:
            problems.append(FieldProblem("/max_count", "must be >= 1"))
        if self.window <= timedelta(0):
            problems.append(FieldProblem("/window", "must be a positive duration"))
        if problems:
            raise InvalidInput("invalid burst limit", problems)


_WEEK = timedelta(days=7)


@dataclass(frozen=True)
class ReferralPolicy:
    """The thresholds; ``None`` turns a burst check off. Defaults follow Smile.io's "10
    referrals within a week from the same IP"."""

    per_referrer: BurstLimit | None = BurstLimit(10, _WEEK)
    per_source: BurstLimit | None = BurstLimit(10, _WEEK)
    similar_emails: bool = True


@dataclass(frozen=True)
class FraudReason:
    code: str  # stable: self_referral.same_customer, self_referral.shared_email, burst.referrer...
    detail: str


@dataclass(frozen=True)
class ReferralDecision:
    verdict: Verdict
    reasons: tuple[FraudReason, ...] = ()

    @property
    def held(self) -> bool:
        return self.verdict is Verdict.HOLD


def email_mailbox(email: str) -> str:
    """The mailbox an address delivers to: ``+tag`` dropped, and dots for Gmail."""
    local, _, domain = email.lower().rpartition("@")
    if not local:
        return email.lower()
    local = local.split("+", 1)[0]
    if domain in _GMAIL:
        local = local.replace(".", "")
        domain = "gmail.com"
    return f"{local}@{domain}"


def _self_referral(
    referral: CompletedReferral, referrer: Identities, referee: Identities, policy: ReferralPolicy
) -> list[FraudReason]:
    if referral.referrer_id == referral.referee_id:
        return [FraudReason("self_referral.same_customer", "the referee is the referrer")]
    reasons = []
    for kind, mine, theirs in (
        ("email", referrer.emails, referee.emails),
        ("phone", referrer.phones, referee.phones),
        ("card", referrer.cards, referee.cards),
        ("device", referrer.devices, referee.devices),
    ):
        shared = len(mine & theirs)
        if shared:
            reasons.append(
                FraudReason(
                    f"self_referral.shared_{kind}", f"referrer and referee share {shared} {kind}(s)"
                )
            )
    if policy.similar_emails and not referrer.emails & referee.emails:
        mailboxes = {email_mailbox(email) for email in referrer.emails}
        if any(email_mailbox(email) in mailboxes for email in referee.emails):
            reasons.append(
                FraudReason(
                    "self_referral.similar_email",
                    "referrer and referee emails deliver to the same mailbox",
                )
            )
    return reasons


def _burst(count: int, limit: BurstLimit | None, code: str, who: str) -> list[FraudReason]:
    if limit is None or count <= limit.max_count:
        return []
    return [
        FraudReason(
            code,
            f"{count} referrals completed from one {who} within {limit.window}, "
            f"more than {limit.max_count}",
        )
    ]


def check_referral(
    referral: CompletedReferral,
    *,
    referrer: Identities,
    referee: Identities,
    recent: Iterable[CompletedReferral],
    policy: ReferralPolicy | None = None,
) -> ReferralDecision:
    """Decide whether the reward of ``referral`` is held for review.

    ``recent`` holds earlier completed referrals (from any referrer; the function filters
    them). Counts include ``referral`` itself; a referee counted twice (a replayed
    completion) counts once; completions after ``referral`` are ignored, so replaying
    history gives the decision that was right at the time.
    """
    policy = policy or ReferralPolicy()
    reasons = _self_referral(referral, referrer, referee, policy)
    at = referral.completed_at
    by_referrer = {(referral.referrer_id, referral.referee_id)}
    by_source = {(referral.referrer_id, referral.referee_id)}
    for other in recent:
        if other.completed_at > at:
            continue
        pair = (other.referrer_id, other.referee_id)
        if (
            policy.per_referrer is not None
            and other.referrer_id == referral.referrer_id
            and at - other.completed_at < policy.per_referrer.window
        ):
            by_referrer.add(pair)
        if (
            policy.per_source is not None
            and referral.source is not None
            and other.source == referral.source
            and at - other.completed_at < policy.per_source.window
        ):
            by_source.add(pair)
    reasons += _burst(len(by_referrer), policy.per_referrer, "burst.referrer", "referrer")
    if referral.source is not None:
        reasons += _burst(len(by_source), policy.per_source, "burst.source", "source")
    return ReferralDecision(Verdict.HOLD if reasons else Verdict.OK, tuple(reasons))
