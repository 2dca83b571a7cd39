"""Reads and guarded writes of the reward tables. ``get_*`` returns or raises, ``find_*``
returns or None, ``list_*`` returns lists; every conditional write reports whether it won."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from fidela.platform.upsert import insert_ignoring_conflicts
from fidela.reward.errors import CharityUnknown, RedemptionUnknown, RewardUnknown
from fidela.reward.models import (
    Charity,
    CharityDonation,
    CharityPledge,
    CharityPledgeRecord,
    Reward,
    RewardRedemption,
    RewardVoucher,
)

# ----------------------------------------------------------------------------- catalogue


def insert_reward(session: Session, values: dict[str, Any]) -> int | None:
    """The new reward's id, or None when the code is taken (``ON CONFLICT DO NOTHING``)."""
    return session.execute(
        insert_ignoring_conflicts(session, Reward, "code").values(**values).returning(Reward.id)
    ).scalar_one_or_none()


def find_reward(session: Session, code: str) -> Reward | None:
    return session.execute(
        select(Reward).where(Reward.code == code).execution_options(populate_existing=True)
    ).scalar_one_or_none()


def get_reward(session: Session, code: str) -> Reward:
    reward = find_reward(session, code)
    if reward is None:
        raise RewardUnknown(f"no reward '{code}'")
    return reward


def get_reward_by_id(session: Session, reward_id: int) -> Reward:
    reward = session.get(Reward, reward_id, populate_existing=True)
    if reward is None:  # pragma: no cover - rewards are never deleted
        raise RewardUnknown(f"no reward {reward_id}")
    return reward


def list_rewards(session: Session, *, programme: str | None, active_only: bool) -> list[Reward]:
    query = select(Reward).order_by(Reward.code)
    if programme is not None:
        query = query.where(Reward.programme == programme)
    if active_only:
        query = query.where(Reward.active.is_(True))
    return list(session.execute(query).scalars())


def update_reward_if_version(
    session: Session, *, code: str, version: int, values: dict[str, Any]
) -> bool:
    """Compare-and-set on ``version``: True when the row at that version was updated."""
    result = session.execute(
        update(Reward)
        .where(Reward.code == code, Reward.version == version)
        .values(**values, version=Reward.version + 1)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def take_stock(session: Session, reward_id: int, count: int) -> bool:
    """The guarded decrement: True when ``count`` items were left and are now taken."""
    result = session.execute(
        update(Reward)
        .where(Reward.id == reward_id, Reward.stock.is_not(None), Reward.stock >= count)
        .values(stock=Reward.stock - count)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def adjust_stock(session: Session, *, code: str, delta: int, now: datetime) -> bool:
    """Add ``delta`` (may be negative) to a stocked reward, never below 0."""
    result = session.execute(
        update(Reward)
        .where(Reward.code == code, Reward.stock.is_not(None), Reward.stock + delta >= 0)
        .values(stock=Reward.stock + delta, updated_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def give_back_stock(session: Session, reward_id: int, count: int) -> None:
    session.execute(
        update(Reward)
        .where(Reward.id == reward_id, Reward.stock.is_not(None))
        .values(stock=Reward.stock + count)
    )


# ---------------------------------------------------------------------------- redemptions


def add_redemption(session: Session, values: dict[str, Any]) -> RewardRedemption:
    redemption = RewardRedemption(**values)
    session.add(redemption)
    session.flush()
    return redemption


def get_redemption(session: Session, redemption_id: int, *, lock: bool = False) -> RewardRedemption:
    query = select(RewardRedemption).where(RewardRedemption.id == redemption_id)
    if lock:
        query = query.with_for_update()
    redemption = session.execute(
        query.execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if redemption is None:
        raise RedemptionUnknown(f"no redemption {redemption_id}")
    return redemption


def member_redemptions(
    session: Session, *, customer_id: int, reward_id: int | None = None
) -> list[tuple[str, datetime]]:
    """(reward code, redeemed at) of the member's redemptions that were not cancelled."""
    query = (
        select(Reward.code, RewardRedemption.redeemed_at)
        .join(Reward, Reward.id == RewardRedemption.reward_id)
        .where(RewardRedemption.customer_id == customer_id, RewardRedemption.status == "active")
    )
    if reward_id is not None:
        query = query.where(RewardRedemption.reward_id == reward_id)
    return [(code, at) for code, at in session.execute(query).all()]


def cancel_redemption_if_active(session: Session, redemption_id: int, now: datetime) -> bool:
    result = session.execute(
        update(RewardRedemption)
        .where(RewardRedemption.id == redemption_id, RewardRedemption.status == "active")
        .values(status="cancelled", cancelled_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------- vouchers


def add_voucher(session: Session, values: dict[str, Any]) -> RewardVoucher | None:
    """The stored voucher, or None when its key is taken (the caller draws another code)."""
    voucher_id = session.execute(
        insert_ignoring_conflicts(session, RewardVoucher, "key")
        .values(**values)
        .returning(RewardVoucher.id)
    ).scalar_one_or_none()
    return None if voucher_id is None else session.get(RewardVoucher, voucher_id)


def find_voucher_by_key(session: Session, key: str, *, lock: bool = False) -> RewardVoucher | None:
    query = select(RewardVoucher).where(RewardVoucher.key == key)
    if lock:
        query = query.with_for_update()
    return session.execute(query.execution_options(populate_existing=True)).scalar_one_or_none()


def find_voucher_of(session: Session, redemption_id: int) -> RewardVoucher | None:
    return session.execute(
        select(RewardVoucher)
        .where(RewardVoucher.redemption_id == redemption_id)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def use_voucher_if_unused(session: Session, voucher_id: int, values: dict[str, Any]) -> bool:
    """The one-use guard: only an unused, uncancelled voucher is marked used."""
    result = session.execute(
        update(RewardVoucher)
        .where(
            RewardVoucher.id == voucher_id,
            RewardVoucher.used_at.is_(None),
            RewardVoucher.cancelled_at.is_(None),
        )
        .values(**values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def cancel_voucher(session: Session, redemption_id: int, now: datetime) -> None:
    session.execute(
        update(RewardVoucher)
        .where(RewardVoucher.redemption_id == redemption_id, RewardVoucher.used_at.is_(None))
        .values(cancelled_at=now)
    )


def list_member_vouchers(session: Session, *, customer_id: int) -> list[tuple[RewardVoucher, str]]:
    """The member's vouchers with their reward code, newest first."""
    rows = session.execute(
        select(RewardVoucher, Reward.code)
        .join(Reward, Reward.id == RewardVoucher.reward_id)
        .where(RewardVoucher.customer_id == customer_id)
        .order_by(RewardVoucher.issued_at.desc(), RewardVoucher.id.desc())
    ).all()
    return [(voucher, code) for voucher, code in rows]


# -------------------------------------------------------------------------------- charity


def insert_charity(session: Session, values: dict[str, Any]) -> int | None:
    return session.execute(
        insert_ignoring_conflicts(session, Charity, "code").values(**values).returning(Charity.id)
    ).scalar_one_or_none()


def get_charity(session: Session, code: str) -> Charity:
    charity = session.execute(select(Charity).where(Charity.code == code)).scalar_one_or_none()
    if charity is None:
        raise CharityUnknown(f"no charity '{code}'")
    return charity


def list_charities(session: Session) -> list[Charity]:
    return list(session.execute(select(Charity).order_by(Charity.code)).scalars())


def charity_totals(
    session: Session, charity_ids: Sequence[int]
) -> dict[int, tuple[int, int, int, int]]:
    """Per charity: (donations, points donated, value donated, pledged cost), summed on read
    from the indexed detail rows: no counter row is contended by donors."""
    donated = {
        charity_id: (int(count), int(points or 0), int(value or 0))
        for charity_id, count, points, value in session.execute(
            select(
                CharityDonation.charity_id,
                func.count(),
                func.sum(CharityDonation.points),
                func.sum(CharityDonation.value_minor),
            )
            .where(CharityDonation.charity_id.in_(charity_ids))
            .group_by(CharityDonation.charity_id)
        ).all()
    }
    pledged = {
        charity_id: int(cost or 0)
        for charity_id, cost in session.execute(
            select(CharityPledgeRecord.charity_id, func.sum(CharityPledgeRecord.cost_minor))
            .where(CharityPledgeRecord.charity_id.in_(charity_ids))
            .group_by(CharityPledgeRecord.charity_id)
        ).all()
    }
    return {
        charity_id: (*donated.get(charity_id, (0, 0, 0)), pledged.get(charity_id, 0))
        for charity_id in charity_ids
    }


def add_donation(session: Session, values: dict[str, Any]) -> CharityDonation:
    donation = CharityDonation(**values)
    session.add(donation)
    session.flush()
    return donation


def donations_since(
    session: Session, *, customer_id: int, since: datetime
) -> list[tuple[datetime, int]]:
    return [
        (at, int(points))
        for at, points in session.execute(
            select(CharityDonation.donated_at, CharityDonation.points).where(
                CharityDonation.customer_id == customer_id, CharityDonation.donated_at >= since
            )
        ).all()
    ]


def insert_pledge(session: Session, values: dict[str, Any]) -> int | None:
    return session.execute(
        insert_ignoring_conflicts(session, CharityPledge, "code")
        .values(**values)
        .returning(CharityPledge.id)
    ).scalar_one_or_none()


class ActivePledge(NamedTuple):
    id: int
    charity_id: int
    definition: dict[str, Any]
    charity_code: str


# Built once, and run through Core (columns, not entities: a fraction of the ORM's CPU): read
# for every group of orders ingested.
_ACTIVE_PLEDGES = (
    select(CharityPledge.id, CharityPledge.charity_id, CharityPledge.definition, Charity.code)
    .join(Charity, Charity.id == CharityPledge.charity_id)
    .where(CharityPledge.active.is_(True), Charity.active.is_(True))
    .order_by(CharityPledge.id)
)


def active_pledges(session: Session) -> list[ActivePledge]:
    """Active pledges with their charity's code, in id order (the lock order)."""
    session.flush()  # as the ORM would: a pledge changed earlier in this session is seen
    return [ActivePledge(*row) for row in session.connection().execute(_ACTIVE_PLEDGES)]


def lock_pledge(session: Session, pledge_id: int) -> None:
    session.execute(select(CharityPledge.id).where(CharityPledge.id == pledge_id).with_for_update())


def pledge_committed(session: Session, pledge_id: int) -> int:
    return int(
        session.scalar(
            select(func.coalesce(func.sum(CharityPledgeRecord.cost_minor), 0)).where(
                CharityPledgeRecord.pledge_id == pledge_id
            )
        )
        or 0
    )


def add_pledge_record(session: Session, values: dict[str, Any]) -> bool:
    """False when this pledge already recorded this event (a replay)."""
    inserted = session.execute(
        insert_ignoring_conflicts(session, CharityPledgeRecord, "pledge_id", "event_id")
        .values(**values)
        .returning(CharityPledgeRecord.id)
    ).scalar_one_or_none()
    return inserted is not None
