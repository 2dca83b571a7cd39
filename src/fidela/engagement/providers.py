"""Personalisation providers that read other contexts: tier progress, affordable rewards,
active vouchers and recommended products.

Each answers for a batch of recipients (a delivery job renders up to a few hundred) and
tolerates what is not there yet: a programme without a ladder, no reward catalogue, no
recommendation snapshot. A template then renders the family empty instead of failing, so one
missing piece of data never holds back a whole send.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from fidela.engagement.personalisation import Provider
from fidela.kernel.errors import NotFound
from fidela.loyalty import members, programmes
from fidela.reward import service as rewards
from fidela.segment import service as segments

# How many rewards and products a message may list: a template shows a few, not a catalogue.
LISTED = 5


def _plain(value: Any) -> Any:
    """Dataclasses to dicts and datetimes to ISO text: what a template can print."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def tier_provider(programme: str) -> Provider:
    def provide(session: Session, ids: Sequence[int], now: datetime) -> dict[int, Any]:
        found: dict[int, Any] = {}
        for customer_id in ids:
            try:
                tier = members.member_tier(
                    session, customer_id=customer_id, programme=programme, now=now
                )
            except NotFound:  # no such programme, no ladder: nothing to say about tiers
                return {}
            progress = tier.progress
            found[customer_id] = {
                "code": tier.tier_code,
                "name": tier.tier_name,
                "since": tier.since.isoformat(),
                "unit": progress.unit,
                "amount": progress.amount,
                "next": _plain(progress.next),
                "keep": _plain(progress.keep),
            }
        return found

    return provide


def affordable_rewards_provider(programme: str) -> Provider:
    def provide(session: Session, ids: Sequence[int], now: datetime) -> dict[int, Any]:
        try:
            ladder = programmes.get_programme(session, code=programme).ladder
        except NotFound:
            return {}
        # The members' real segments (one query for the batch): a reward shown only to a
        # segment is offered in a message exactly when the member could redeem it.
        member_segments = segments.current_keys(session, ids)
        found: dict[int, Any] = {}
        for customer_id in ids:
            keys = member_segments[customer_id]
            traits = rewards.MemberTraits(segments=keys)
            if ladder is not None:
                tier = members.member_tier(
                    session, customer_id=customer_id, programme=programme, now=now
                )
                tags = ladder.level(tier.tier_code).benefits.reward_tags
                traits = rewards.MemberTraits(tier.tier_code, keys, frozenset(tags))
            _available, rows = rewards.affordable(
                session, customer_id=customer_id, programme=programme, now=now, traits=traits
            )
            found[customer_id] = [
                {"code": row.code, "name": row.name, "points": row.cost_points}
                for row in rows[:LISTED]
            ]
        return found

    return provide


def vouchers_provider(session: Session, ids: Sequence[int], now: datetime) -> dict[int, Any]:
    found: dict[int, Any] = {}
    for customer_id in ids:
        found[customer_id] = [
            {
                "code": voucher.code,
                "reward": reward_code,
                "expires_at": voucher.expires_at.isoformat() if voucher.expires_at else None,
            }
            for voucher, reward_code, _status in rewards.member_vouchers(
                session, customer_id=customer_id, now=now, status="active"
            )
        ]
    return found


def recommended_products_provider(
    session: Session, ids: Sequence[int], _now: datetime
) -> dict[int, Any]:
    # Imported on first use: the recommendation service brings scikit-learn and pandas,
    # seconds of start-up a worker should pay only if a template lists recommendations.
    from fidela.analytics.recommend import service as recommend

    return {
        customer_id: recommend.recommendations_for(session, customer_id=customer_id)[:LISTED]
        for customer_id in ids
    }


def standard_providers(programme: str) -> dict[str, Provider]:
    """The families every template may use beyond the profile and the points balance."""
    return {
        "tier": tier_provider(programme),
        "affordable_rewards": affordable_rewards_provider(programme),
        "vouchers": vouchers_provider,
        "recommended_products": recommended_products_provider,
    }
