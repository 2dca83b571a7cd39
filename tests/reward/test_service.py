"""Rewards persisted: catalogue, redemption, cancellation, vouchers, affordability, charity."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from fidela.kernel.errors import DomainError
from fidela.kernel.money import CurrencyMismatch, Money
from fidela.ledger import service as ledger
from fidela.ledger.models import LedgerEntry
from fidela.platform.db import Database
from fidela.reward import charity as charity_service
from fidela.reward import service
from fidela.reward.errors import RewardUnknown, RewardVersionConflict
from fidela.reward.models import CharityDonation, RewardRedemption, RewardVoucher
from fidela.reward.rules import (
    InvalidReward,
    MemberLimitReached,
    PointsShort,
    RedemptionNotCancellable,
    RewardNotVisible,
    RewardOutOfStock,
    VoucherAlreadyUsed,
    VoucherExpired,
    VoucherUnknown,
)
from tests.conftest import T0
from tests.ledger.builders import cached, remaining_by_lot
from tests.reward.builders import PROGRAMME, count, earn, fixed_voucher, new_customer, reward


def _member(database: Database, points: int = 1_000) -> int:
    with database.write() as session:
        member = new_customer(session, T0)
        if points:
            earn(session, member, points, f"seed-{member}", T0)
        return member


NO_TRAITS = service.MemberTraits()


def _voucher(done: service.Redeemed) -> RewardVoucher:
    assert done.voucher is not None
    return done.voucher


def _redeem(
    database: Database,
    member: int,
    code: str = "coffee-5",
    *,
    channel: str = "store",
    now: datetime = T0,
    traits: service.MemberTraits = NO_TRAITS,
    store_id: str | None = None,
) -> service.Redeemed:
    with database.write() as session:
        return service.redeem(
            session,
            customer_id=member,
            reward_code=code,
            channel=channel,
            now=now,
            traits=traits,
            store_id=store_id,
            rng=random.Random(7),
        )


def _last_entry(database: Database, member: int) -> tuple[tuple[int, int], int | None]:
    with database.read() as session:
        return (
            cached(session, member),
            session.scalar(select(LedgerEntry.id).order_by(LedgerEntry.id.desc()).limit(1)),
        )


def _refused(database: Database, error: type[DomainError], member: int, code: str) -> None:
    """The redemption is refused with ``error`` and leaves nothing behind."""
    before = _last_entry(database, member)
    redemptions = count(database, RewardRedemption)
    with pytest.raises(error):
        _redeem(database, member, code)
    assert _last_entry(database, member) == before
    assert count(database, RewardRedemption) == redemptions


def test_redemption_spends_the_soonest_expiring_lots_first(database: Database) -> None:
    with database.write() as session:
        member = new_customer(session, T0)
        never = earn(session, member, 100, "never", T0)
        later = earn(session, member, 100, "later", T0, expires_in_days=60)
        soon = earn(session, member, 100, "soon", T0, expires_in_days=20)
        reward(session, T0, fixed_voucher(cost=150))

    done = _redeem(database, member)

    assert dict(done.allocations) == {soon: 100, later: 50}
    with database.read() as session:
        assert remaining_by_lot(session, member) == {never: 100, later: 50, soon: 0}
        assert cached(session, member) == (150, 0)


def test_redemption_issues_a_crockford_voucher_and_records_the_channel(
    database: Database,
) -> None:
    member = _member(database)
    with database.write() as session:
        reward(session, T0, fixed_voucher(stock=3))

    done = _redeem(database, member, channel="kiosk", store_id="S01")

    voucher = _voucher(done)
    assert voucher.code.startswith("FID-")
    assert set(voucher.key[3:]) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
    assert voucher.expires_at == T0 + timedelta(days=30)
    assert done.redemption.channel == "kiosk"
    assert done.reward.stock == 2
    assert (done.redemption.value_minor, done.redemption.currency) == (500, "EUR")


def test_cancellation_restores_the_points_to_their_lots_and_the_item_to_stock(
    database: Database,
) -> None:
    with database.write() as session:
        member = new_customer(session, T0)
        earn(session, member, 80, "a", T0, expires_in_days=10)
        earn(session, member, 300, "b", T0, expires_in_days=90)
        reward(session, T0, fixed_voucher(cost=200, stock=5))
        before = remaining_by_lot(session, member)

    done = _redeem(database, member)
    with database.write() as session:
        cancelled = service.cancel_redemption(
            session,
            redemption_id=done.redemption.id,
            now=T0 + timedelta(hours=1),
        )

    assert (cancelled.restored, cancelled.expired, cancelled.restocked) == (200, 0, 1)
    with database.read() as session:
        assert remaining_by_lot(session, member) == before
        assert cached(session, member) == (380, 0)
        assert service.get_reward(session, code="coffee-5").stock == 5
        voucher = session.scalar(select(RewardVoucher))
        assert voucher is not None
        assert voucher.cancelled_at is not None
        assert ledger.verify(session) == []
    with database.write() as session, pytest.raises(RedemptionNotCancellable):
        service.cancel_redemption(session, redemption_id=done.redemption.id, now=T0)


def test_a_used_voucher_cannot_be_cancelled(database: Database) -> None:
    member = _member(database)
    with database.write() as session:
        reward(session, T0)
    done = _redeem(database, member)
    with database.write() as session:
        service.consume_voucher(session, code=_voucher(done).code, now=T0, channel="store")
    with database.write() as session, pytest.raises(RedemptionNotCancellable):
        service.cancel_redemption(session, redemption_id=done.redemption.id, now=T0)


def test_out_of_stock_over_limit_short_and_unknown_are_refused_and_write_nothing(
    database: Database,
) -> None:
    member = _member(database, points=250)
    with database.write() as session:
        reward(session, T0, fixed_voucher("gone", stock=0))
        reward(session, T0, fixed_voucher("dear", cost=5_000))
        reward(session, T0, fixed_voucher("monthly", member_limit={"count": 1, "period": "month"}))
    _redeem(database, member, "monthly")

    _refused(database, RewardOutOfStock, member, code="gone")
    _refused(database, PointsShort, member, code="dear")
    _refused(database, MemberLimitReached, member, code="monthly")
    _refused(database, RewardUnknown, member, code="no-such-reward")
    # The limit is per calendar month: December opens a new period.
    _redeem(database, member, "monthly", now=T0.replace(month=12, day=1))


def test_a_reward_hidden_from_the_member_tier_is_neither_listed_nor_redeemable(
    database: Database,
) -> None:
    member = _member(database)
    with database.write() as session:
        reward(session, T0, fixed_voucher("gold-only", visibility={"tiers": ["gold"]}))
        reward(session, T0, fixed_voucher("for-all", cost=300))
        reward(session, T0, fixed_voucher("too-dear", cost=5_000))
        reward(session, T0, fixed_voucher("sold-out", cost=50, stock=0))

    with database.read() as session:
        available, rows = service.affordable(
            session, customer_id=member, programme=PROGRAMME, now=T0
        )
        _, gold_rows = service.affordable(
            session,
            customer_id=member,
            programme=PROGRAMME,
            now=T0,
            traits=service.MemberTraits(tier_code="gold"),
        )
    assert available == 1_000
    assert [row.code for row in rows] == ["for-all"]
    assert [row.code for row in gold_rows] == ["gold-only", "for-all"]
    _refused(database, RewardNotVisible, member, code="gold-only")
    _redeem(database, member, "gold-only", traits=service.MemberTraits(tier_code="gold"))


def test_a_voucher_is_used_once_with_its_discount_in_the_order_currency(
    database: Database,
) -> None:
    member = _member(database)
    with database.write() as session:
        reward(session, T0)
    code = _voucher(_redeem(database, member)).code
    typed = code.lower().replace("0", "o").replace("-", " ")

    with database.write() as session, pytest.raises(CurrencyMismatch):
        service.consume_voucher(
            session, code=code, now=T0, channel="store", order_total=Money(2_000, "USD")
        )
    with database.write() as session:
        used = service.consume_voucher(
            session,
            code=typed,
            now=T0,
            channel="store",
            customer_id=member,
            order_total=Money(2_000, "EUR"),
            order_ref="T-77",
        )
    assert used.discount == Money(500, "EUR")
    assert used.voucher.used_order_ref == "T-77"
    with database.write() as session, pytest.raises(VoucherAlreadyUsed):
        service.consume_voucher(session, code=code, now=T0, channel="web")
    with database.write() as session, pytest.raises(VoucherUnknown):
        service.consume_voucher(session, code="FID-0000-0000", now=T0, channel="web")


def test_an_expired_voucher_is_refused_and_listed_as_expired(database: Database) -> None:
    member = _member(database)
    with database.write() as session:
        reward(session, T0)
    code = _voucher(_redeem(database, member)).code
    later = T0 + timedelta(days=31)

    with database.write() as session, pytest.raises(VoucherExpired):
        service.consume_voucher(session, code=code, now=later, channel="store")
    with database.read() as session:
        listed = service.member_vouchers(session, customer_id=member, now=later)
        active = service.member_vouchers(session, customer_id=member, now=T0, status="active")
    assert [status for _, _, status in listed] == ["expired"]
    assert len(active) == 1


def test_an_update_from_a_stale_version_is_refused(database: Database) -> None:
    with database.write() as session:
        row = reward(session, T0, fixed_voucher(stock=4))
        version = row.version
        data = fixed_voucher(cost=120)
        updated = service.update_reward(
            session, code="coffee-5", data=data, expected_version=version, active=True, now=T0
        )
        assert (updated.cost_points, updated.stock, updated.version) == (120, 4, version + 1)
        with pytest.raises(RewardVersionConflict):
            service.update_reward(
                session, code="coffee-5", data=data, expected_version=version, active=True, now=T0
            )
        with pytest.raises(InvalidReward) as raised:
            service.update_reward(
                session,
                code="coffee-5",
                data={**data, "stock": 99},
                expected_version=version + 1,
                active=True,
                now=T0,
            )
    assert raised.value.problems[0].pointer == "/stock"


def test_a_negative_cost_is_refused_with_a_pointer(database: Database) -> None:
    with database.write() as session, pytest.raises(InvalidReward) as raised:
        reward(session, T0, fixed_voucher(cost=-5))
    assert [p.pointer for p in raised.value.problems] == ["/cost_points"]


def test_donations_spend_points_and_add_up_per_charity(database: Database) -> None:
    member = _member(database, points=500)
    with database.write() as session:
        charity_service.create_charity(
            session,
            data={
                "code": "reforest",
                "name": "Reforest",
                "currency": "EUR",
                "value_per_point": "0.01",
                "minimum_points": 10,
                "multiple_of": 10,
                "daily_limit_points": 300,
            },
            now=T0,
        )
        charity_service.donate(
            session,
            customer_id=member,
            charity_code="reforest",
            programme=PROGRAMME,
            points=200,
            now=T0,
        )
        charity_service.donate(
            session,
            customer_id=member,
            charity_code="reforest",
            programme=PROGRAMME,
            points=100,
            now=T0,
        )
    with database.write() as session, pytest.raises(DomainError) as refused:
        charity_service.donate(
            session,
            customer_id=member,
            charity_code="reforest",
            programme=PROGRAMME,
            points=10,
            now=T0,
        )
    assert refused.value.code == "donation_limit_reached"
    with database.read() as session:
        totals = charity_service.charity(session, code="reforest")
        assert cached(session, member) == (200, 0)
        rules = session.scalars(select(LedgerEntry.rule).where(LedgerEntry.kind == "spend"))
        assert set(rules) == {"donation:reforest"}
    assert (totals.donations, totals.points, totals.value_minor) == (2, 300, 300)
    assert count(database, CharityDonation) == 2


def test_a_percent_voucher_discounts_the_order_within_its_cap(database: Database) -> None:
    member = _member(database)
    with database.write() as session:
        reward(
            session,
            T0,
            {
                "code": "ten-percent",
                "name": "10 % off",
                "kind": "percent_voucher",
                "cost_points": 250,
                "terms": {"percent": "10", "currency": "EUR", "max_discount_minor": 1_500},
                "voucher": {"length": 10},
            },
        )
    code = _voucher(_redeem(database, member, "ten-percent")).code

    with database.write() as session:
        used = service.consume_voucher(
            session, code=code, now=T0, channel="web", order_total=Money(25_999, "EUR")
        )
    assert used.discount == Money(1_500, "EUR")


def test_an_experience_books_a_seat_until_the_cutoff(database: Database) -> None:
    member = _member(database)
    starts = T0 + timedelta(days=10)
    with database.write() as session:
        reward(
            session,
            T0,
            {
                "code": "roastery-visit",
                "name": "Private roastery visit",
                "kind": "experience",
                "cost_points": 400,
                "terms": {
                    "type": "private_visit",
                    "starts_at": starts.isoformat(),
                    "ends_at": (starts + timedelta(hours=2)).isoformat(),
                    "capacity": 2,
                    "cancel_cutoff_hours": 48,
                },
                "voucher": {"prefix": "VISIT"},
            },
        )
    booked = _redeem(database, member, "roastery-visit")
    second = _redeem(database, member, "roastery-visit")

    assert _voucher(booked).expires_at == starts + timedelta(hours=2)
    assert second.reward.stock == 0
    _refused(database, RewardOutOfStock, _member(database), "roastery-visit")
    with database.write() as session, pytest.raises(RedemptionNotCancellable):
        service.cancel_redemption(
            session, redemption_id=booked.redemption.id, now=starts - timedelta(hours=47)
        )
    with database.write() as session:
        service.cancel_redemption(
            session, redemption_id=second.redemption.id, now=starts - timedelta(hours=49)
        )
        assert service.get_reward(session, code="roastery-visit").stock == 1
