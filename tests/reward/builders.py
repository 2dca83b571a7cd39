"""Rewards, members with points, and counts for the reward tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fidela.ledger import service as ledger
from fidela.ledger.rules import ExpirySchedule, FixedExpiry
from fidela.platform.db import Database
from fidela.reward import service
from fidela.reward.models import Reward
from tests.ledger.builders import PROGRAMME, new_customer

__all__ = ["PROGRAMME", "count", "earn", "fixed_voucher", "new_customer", "reward"]


def fixed_voucher(code: str = "coffee-5", cost: int = 100, **extra: Any) -> dict[str, Any]:
    """A 5 € voucher, valid 30 days, with the given extra fields (stock, member_limit...)."""
    return {
        "code": code,
        "name": "5 € off",
        "kind": "fixed_voucher",
        "cost_points": cost,
        "terms": {"currency": "EUR", "value_minor": 500},
        "voucher": {"prefix": "FID", "valid_days": 30},
        **extra,
    }


def reward(session: Session, now: datetime, data: dict[str, Any] | None = None) -> Reward:
    return service.create_reward(
        session, programme=PROGRAMME, data=data or fixed_voucher(), active=True, now=now
    )


def earn(
    session: Session,
    customer_id: int,
    points: int,
    key: str,
    now: datetime,
    *,
    expires_in_days: int | None = None,
) -> int:
    """Earn a lot; its id."""
    expiry = (
        None
        if expires_in_days is None
        else ExpirySchedule((FixedExpiry(days=expires_in_days - 1),))
    )
    result = ledger.earn_points(
        session,
        customer_id=customer_id,
        programme=PROGRAMME,
        points=points,
        now=now - timedelta(seconds=1),
        key=key,
        expiry=expiry,
    )
    return result.lot.id


def count(database: Database, model: type[Any]) -> int:
    with database.read() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())
