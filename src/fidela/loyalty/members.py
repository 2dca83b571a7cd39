"""What a member sees of a programme: balance, history with reasons, tier and progress,
and the customer-360 section ``loyalty``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from fidela.customer import service as customers
from fidela.kernel.errors import NotFound
from fidela.ledger import service as ledger
from fidela.ledger.rules import Balance
from fidela.loyalty.programmes import Programme, choose_programme, list_programmes
from fidela.tier import service as tiers
from fidela.tier.rules import TierProgress


@dataclass(frozen=True)
class MemberBalance:
    programme: str
    balance: Balance


@dataclass(frozen=True)
class MemberTier:
    programme: str
    enrolled: bool
    tier_code: str
    tier_name: str
    since: datetime
    review_at: datetime | None
    grace_until: datetime | None
    progress: TierProgress
    history: list[dict[str, Any]]


def _programme(session: Session, customer_id: int, programme: str | None) -> Programme:
    customers.get_customer(session, customer_id=customer_id)  # 404 for an unknown member
    return choose_programme(session, programme)


def member_balance(
    session: Session, *, customer_id: int, programme: str | None, now: datetime, days: int = 30
) -> MemberBalance:
    chosen = _programme(session, customer_id, programme)
    figures = ledger.balance(
        session,
        customer_id=customer_id,
        programme=chosen.code,
        now=now,
        expiring_within_days=days,
    )
    return MemberBalance(chosen.code, figures)


def member_history(
    session: Session,
    *,
    customer_id: int,
    programme: str | None,
    limit: int,
    before: int | None,
) -> tuple[str, ledger.HistoryPage]:
    chosen = _programme(session, customer_id, programme)
    page = ledger.history(
        session, customer_id=customer_id, programme=chosen.code, limit=limit, before=before
    )
    return chosen.code, page


class NoTiers(NotFound):
    """The programme runs no tier ladder."""

    code = "programme_has_no_tiers"
    title = "No tiers in this programme"


def member_tier(
    session: Session, *, customer_id: int, programme: str | None, now: datetime
) -> MemberTier:
    chosen = _programme(session, customer_id, programme)
    if chosen.ladder is None:
        raise NoTiers(f"programme '{chosen.code}' has no tier ladder")
    ref = tiers.LadderRef(chosen.id, chosen.code, chosen.ladder, chosen.ladder_version)
    standing = tiers.standing(session, ladder=ref, customer_id=customer_id, now=now)
    level = chosen.ladder.level(standing.membership.tier_code)
    history = [
        {
            "at": change.at.isoformat(),
            "outcome": change.outcome,
            "cause": change.cause,
            "from": change.from_code,
            "to": change.to_code,
            "detail": change.detail,
        }
        for change in tiers.changes(session, programme_id=chosen.id, customer_id=customer_id)
    ]
    return MemberTier(
        programme=chosen.code,
        enrolled=standing.enrolled,
        tier_code=level.code,
        tier_name=level.name,
        since=standing.membership.since,
        review_at=standing.membership.review_at,
        grace_until=standing.membership.grace_until,
        progress=standing.progress,
        history=history,
    )


def summary_for(session: Session, customer_id: int, now: datetime) -> dict[str, Any]:
    """The customer-360 section: balance (and tier) in every programme."""
    section: dict[str, Any] = {}
    for programme in list_programmes(session):
        figures = ledger.balance(
            session, customer_id=customer_id, programme=programme.code, now=now
        )
        entry: dict[str, Any] = {
            "available": figures.available,
            "pending": figures.pending,
            "expiring_soon": figures.expiring,
        }
        if programme.ladder is not None:
            row = tiers.find_membership(session, programme_id=programme.id, customer_id=customer_id)
            entry["tier"] = row.tier_code if row is not None else programme.ladder.base.code
        section[programme.code] = entry
    return section
