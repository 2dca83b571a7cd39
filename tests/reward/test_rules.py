from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fidela.kernel.errors import DomainError, ErrorKind
from fidela.kernel.money import CurrencyMismatch, Money
from fidela.reward.rules import (
    CODE_ALPHABET,
    CancelRefusal,
    Charity,
    Donation,
    DonationLimitReached,
    Experience,
    ExperienceKind,
    FixedValue,
    FreeProduct,
    FreeShipping,
    InvalidCharity,
    InvalidPointsAmount,
    InvalidReward,
    IssuedVoucher,
    LimitPeriod,
    MemberLimit,
    MemberLimitReached,
    MemberView,
    PastRedemption,
    PercentOff,
    Pledge,
    PointsShort,
    PointsToMoney,
    RedemptionNotCancellable,
    RedemptionRecord,
    Refusal,
    Reward,
    RewardKind,
    RewardNotVisible,
    RewardOutOfStock,
    RewardUnavailable,
    Visibility,
    VoucherAlreadyUsed,
    VoucherCancelled,
    VoucherCodesExhausted,
    VoucherExpired,
    VoucherMinimumNotMet,
    VoucherNotApplicable,
    VoucherSpec,
    VoucherUnknown,
    VoucherWrongMember,
    affordable_rewards,
    can_redeem,
    cancellation,
    check_voucher_use,
    ensure_can_redeem,
    ensure_cancellable,
    generate_voucher_code,
    load_charity,
    load_pledge,
    load_reward,
    max_payable_points,
    plan_donation,
    plan_redemption,
    pledge_for_order,
    points_value,
    voucher_discount,
    voucher_key,
)

NOW = datetime(2026, 5, 12, 10, tzinfo=UTC)
EUR = "EUR"
SPEC = VoucherSpec(prefix="CAFE", length=8, valid_days=30)


def eur(minor: int) -> Money:
    return Money(minor, EUR)


def voucher_reward(**changes: Any) -> Reward:
    reward = Reward(
        code="five-off", name="5 € off", terms=FixedValue(eur(500)), cost_points=500, voucher=SPEC
    )
    return replace(reward, **changes)


def cashback(**changes: Any) -> Reward:
    terms = PointsToMoney(EUR, Decimal("0.01"), minimum_points=500, step_points=100)
    return replace(
        Reward(code="cashback", name="Pay with points", terms=terms, cost_points=0), **changes
    )


def workshop(stock: int = 12, **changes: Any) -> Reward:
    terms = Experience(
        ExperienceKind.WORKSHOP,
        starts_at=datetime(2026, 6, 1, 18, tzinfo=UTC),
        ends_at=datetime(2026, 6, 1, 20, tzinfo=UTC),
        capacity=12,
        cancel_cutoff_hours=48,
    )
    reward = Reward(
        code="latte-art",
        name="Latte art workshop",
        terms=terms,
        cost_points=2000,
        stock=stock,
        voucher=VoucherSpec(prefix="WS"),
    )
    return replace(reward, **changes)


def alice(points: int = 1000, **changes: Any) -> MemberView:
    return replace(MemberView(member_id="m-alice", available_points=points), **changes)


def rng() -> random.Random:
    return random.Random(7)  # deterministic codes in tests; secrets.SystemRandom() in production


# -- catalogue -------------------------------------------------------------------------------

REWARD_DATA: dict[str, Any] = {
    "code": "five-off",
    "name": "5 € off your next order",
    "kind": "fixed_voucher",
    "cost_points": 500,
    "terms": {"currency": "EUR", "value_minor": 500, "min_order_minor": 2000},
    "stock": 100,
    "member_limit": {"count": 1, "period": "month", "timezone": "Europe/Paris"},
    "available_from": "2026-01-01T00:00:00+01:00",
    "visibility": {"tiers": ["silver", "gold"], "segments": [], "tags": []},
    "voucher": {"prefix": "CAFE", "length": 8, "valid_days": 30},
}


def test_a_reward_loads_from_its_json_form() -> None:
    reward = load_reward(REWARD_DATA)
    assert reward.kind is RewardKind.FIXED_VOUCHER
    assert reward.terms == FixedValue(eur(500), eur(2000))
    assert reward.member_limit == MemberLimit(1, LimitPeriod.MONTH, "Europe/Paris")
    assert reward.available_from == datetime(2025, 12, 31, 23, tzinfo=UTC)
    assert reward.visibility.tiers == frozenset({"silver", "gold"})


@pytest.mark.parametrize(
    ("kind", "terms", "expected"),
    [
        (
            "percent_voucher",
            {"percent": "10", "currency": "EUR", "max_discount_minor": 1500},
            PercentOff(Decimal(10), eur(1500)),
        ),
        (
            "pay_with_points",
            {"currency": "EUR", "value_per_point": 0.01, "minimum_points": 500, "step_points": 100},
            PointsToMoney(EUR, Decimal("0.01"), 500, 100),
        ),
        ("free_shipping", {"currency": "EUR", "max_value_minor": 990}, FreeShipping(eur(990))),
        ("free_product", {"sku": "CAKE-1"}, FreeProduct("CAKE-1")),
    ],
)
def test_every_kind_of_reward_loads(kind: str, terms: dict[str, Any], expected: object) -> None:
    data = {**REWARD_DATA, "kind": kind, "terms": terms}
    if kind == "pay_with_points":
        data = {k: v for k, v in data.items() if k not in {"cost_points", "voucher"}}
    assert load_reward(data).terms == expected


def test_an_experience_starts_with_all_its_seats() -> None:
    data = {
        "code": "private-visit",
        "name": "Private visit of the roastery",
        "kind": "experience",
        "cost_points": 3000,
        "terms": {
            "type": "private_visit",
            "starts_at": "2026-06-01T18:00:00+02:00",
            "ends_at": "2026-06-01T20:00:00+02:00",
            "capacity": 8,
        },
        "voucher": {"prefix": "VISIT"},
    }
    reward = load_reward(data)
    assert reward.stock == 8
    assert isinstance(reward.terms, Experience)
    assert reward.terms.cancel_cutoff_hours == 48
    with pytest.raises(InvalidReward) as caught:
        load_reward({**data, "stock": 9})
    assert [p.pointer for p in caught.value.problems] == ["/stock"]


def reward_pointers(data: dict[str, Any]) -> list[str]:
    with pytest.raises(InvalidReward) as caught:
        load_reward(data)
    return sorted(problem.pointer for problem in caught.value.problems)


def test_reward_problems_point_at_their_fields() -> None:
    assert reward_pointers({**REWARD_DATA, "stok": 5}) == ["/stok"]
    assert reward_pointers({**REWARD_DATA, "terms": {"value_minor": 500}}) == ["/terms/currency"]
    assert reward_pointers({**REWARD_DATA, "kind": "gift", "terms": {"sku": "X"}}) == ["/kind"]
    assert reward_pointers({**REWARD_DATA, "available_from": "2026-01-01"}) == ["/available_from"]
    assert reward_pointers({**REWARD_DATA, "cost_points": 0}) == ["/cost_points"]
    assert reward_pointers({k: v for k, v in REWARD_DATA.items() if k != "voucher"}) == ["/voucher"]
    assert reward_pointers({**REWARD_DATA, "voucher": {"prefix": "café", "length": 4}}) == [
        "/voucher/length",
        "/voucher/prefix",
    ]


def test_pay_with_points_minimum_must_sit_on_the_step() -> None:
    with pytest.raises(InvalidReward) as caught:
        cashback(terms=PointsToMoney(EUR, Decimal("0.01"), minimum_points=250, step_points=100))
    assert caught.value.problems[0].pointer == "/terms/minimum_points"


def test_money_terms_stay_in_one_currency() -> None:
    with pytest.raises(InvalidReward) as caught:
        voucher_reward(terms=FixedValue(eur(500), Money(2000, "USD")))
    assert caught.value.problems[0].pointer == "/terms/min_order_minor"


# -- eligibility -----------------------------------------------------------------------------


def test_a_member_with_enough_points_may_redeem_a_visible_available_reward() -> None:
    eligibility = can_redeem(voucher_reward(), alice(), NOW)
    assert eligibility.ok
    assert eligibility.points_needed == 500


def test_every_reason_is_listed_at_once() -> None:
    reward = voucher_reward(
        stock=0,
        available_until=NOW,
        visibility=Visibility(tiers=frozenset({"gold"})),
        member_limit=MemberLimit(1),
    )
    member = alice(points=200, redemptions=(PastRedemption("five-off", NOW - timedelta(days=90)),))
    eligibility = can_redeem(reward, member, NOW)
    assert [reason.code for reason in eligibility.reasons] == [
        Refusal.NOT_VISIBLE,
        Refusal.OUTSIDE_WINDOW,
        Refusal.OUT_OF_STOCK,
        Refusal.MEMBER_LIMIT_REACHED,
        Refusal.NOT_ENOUGH_POINTS,
    ]
    assert eligibility.points_short == 300


def test_visibility_needs_the_tier_a_shared_segment_and_a_tier_tag() -> None:
    reward = voucher_reward(
        visibility=Visibility(
            tiers=frozenset({"gold"}),
            segments=frozenset({"coffee-lovers"}),
            tags=frozenset({"vip"}),
        )
    )
    fits = alice(
        tier_code="gold",
        segments=frozenset({"coffee-lovers", "lyon"}),
        reward_tags=frozenset({"vip"}),
    )
    assert can_redeem(reward, fits, NOW).ok
    for miss in (
        replace(fits, tier_code="silver"),
        replace(fits, segments=frozenset({"lyon"})),
        replace(fits, reward_tags=frozenset()),
    ):
        assert can_redeem(reward, miss, NOW).reasons[0].code is Refusal.NOT_VISIBLE


def test_the_validity_window_includes_its_start_and_excludes_its_end() -> None:
    reward = voucher_reward(available_from=NOW, available_until=NOW + timedelta(days=7))
    assert can_redeem(reward, alice(), NOW).ok
    assert not can_redeem(reward, alice(), NOW - timedelta(seconds=1)).ok
    assert not can_redeem(reward, alice(), NOW + timedelta(days=7)).ok


def test_a_monthly_member_limit_resets_on_the_first_in_its_timezone() -> None:
    reward = voucher_reward(member_limit=MemberLimit(1, LimitPeriod.MONTH, "Europe/Paris"))
    redeemed = alice(redemptions=(PastRedemption("five-off", datetime(2026, 5, 3, tzinfo=UTC)),))
    assert can_redeem(reward, redeemed, NOW).reasons[0].code is Refusal.MEMBER_LIMIT_REACHED
    paris_june = datetime(2026, 5, 31, 22, 30, tzinfo=UTC)  # 00:30 on 1 June in Paris
    assert can_redeem(reward, redeemed, paris_june).ok
    other = alice(redemptions=(PastRedemption("other", datetime(2026, 5, 3, tzinfo=UTC)),))
    assert can_redeem(reward, other, NOW).ok


def test_a_weekly_limit_counts_from_monday() -> None:
    reward = voucher_reward(member_limit=MemberLimit(2, LimitPeriod.WEEK))
    tuesday = datetime(2026, 5, 12, tzinfo=UTC)
    sunday = datetime(2026, 5, 10, tzinfo=UTC)
    member = alice(
        redemptions=(PastRedemption("five-off", sunday), PastRedemption("five-off", tuesday))
    )
    assert can_redeem(reward, member, NOW).ok  # Sunday belongs to last week


def test_an_experience_cannot_be_booked_once_it_started() -> None:
    reward = workshop()
    assert can_redeem(reward, alice(5000), datetime(2026, 6, 1, 17, tzinfo=UTC)).ok
    late = can_redeem(reward, alice(5000), datetime(2026, 6, 1, 18, tzinfo=UTC))
    assert late.reasons[0].code is Refusal.OUTSIDE_WINDOW


def test_affordable_rewards_are_what_the_member_can_redeem_now_cheapest_first() -> None:
    rewards = [
        workshop(),
        voucher_reward(code="ten-off", cost_points=900, terms=FixedValue(eur(1000))),
        voucher_reward(),
        voucher_reward(code="sold-out", stock=0),
        voucher_reward(code="gold-only", visibility=Visibility(tiers=frozenset({"gold"}))),
        cashback(),
    ]
    names = [reward.code for reward in affordable_rewards(rewards, alice(1000), NOW)]
    assert names == ["cashback", "five-off", "ten-off"]


def test_the_first_reason_is_raised_and_a_hidden_reward_does_not_reveal_its_stock() -> None:
    hidden = voucher_reward(stock=0, visibility=Visibility(tiers=frozenset({"gold"})))
    with pytest.raises(RewardNotVisible) as caught:
        ensure_can_redeem(hidden, alice(), NOW)
    assert caught.value.kind is ErrorKind.NOT_FOUND
    cases: list[tuple[Reward, MemberView, type[DomainError]]] = [
        (voucher_reward(stock=0), alice(), RewardOutOfStock),
        (voucher_reward(available_from=NOW + timedelta(days=1)), alice(), RewardUnavailable),
        (
            voucher_reward(member_limit=MemberLimit(1)),
            alice(redemptions=(PastRedemption("five-off", NOW),)),
            MemberLimitReached,
        ),
        (voucher_reward(), alice(499), PointsShort),
    ]
    for reward, member, error in cases:
        with pytest.raises(error) as raised:
            ensure_can_redeem(reward, member, NOW)
        assert raised.value.kind is ErrorKind.CONFLICT


# -- redemption plan -------------------------------------------------------------------------


def test_a_redemption_spends_points_takes_one_from_stock_and_issues_a_voucher() -> None:
    plan = plan_redemption(voucher_reward(stock=3), alice(), NOW, rng=rng())
    assert (plan.points, plan.stock_decrement, plan.stock_after) == (500, 1, 2)
    assert plan.value == eur(500)
    assert plan.voucher is not None
    assert plan.voucher.code.startswith("CAFE-")
    assert plan.voucher.expires_at == NOW + timedelta(days=30)
    assert plan.voucher == plan_redemption(voucher_reward(stock=3), alice(), NOW, rng=rng()).voucher


def test_an_unlimited_reward_leaves_stock_alone() -> None:
    plan = plan_redemption(voucher_reward(), alice(), NOW, rng=rng())
    assert (plan.stock_decrement, plan.stock_after) == (0, None)


def test_a_refused_redemption_raises_and_plans_nothing() -> None:
    with pytest.raises(RewardOutOfStock):
        plan_redemption(voucher_reward(stock=0), alice(), NOW, rng=rng())


def test_pay_with_points_turns_points_into_money_rounded_down() -> None:
    reward = cashback(terms=PointsToMoney(EUR, Decimal("0.00125"), 500, 100))
    plan = plan_redemption(reward, alice(2000), NOW, rng=rng(), points=700)
    assert plan.points == 700
    assert plan.value == eur(87)  # 87.5 cents: a point never buys more than its rate
    assert plan.voucher is None  # applied at checkout
    assert points_value(3, Decimal("0.333"), "JPY") == Money(0, "JPY")


def test_pay_with_points_amounts_must_be_on_the_grid() -> None:
    reward = cashback(terms=PointsToMoney(EUR, Decimal("0.01"), 500, 100, maximum_points=2000))
    for wrong in (400, 550, 2100):
        with pytest.raises(InvalidPointsAmount) as caught:
            plan_redemption(reward, alice(5000), NOW, rng=rng(), points=wrong)
        assert caught.value.problems[0].pointer == "/points"
    with pytest.raises(InvalidPointsAmount):
        can_redeem(voucher_reward(), alice(), NOW, points=400)  # a fixed price is fixed


def test_the_most_points_payable_fits_the_order_the_balance_and_the_grid() -> None:
    reward = cashback()
    assert max_payable_points(reward, order_total=eur(1234), available_points=5000) == 1200
    assert max_payable_points(reward, order_total=eur(5000), available_points=950) == 900
    assert max_payable_points(reward, order_total=eur(450), available_points=5000) == 0
    with pytest.raises(CurrencyMismatch):
        max_payable_points(reward, order_total=Money(100, "USD"), available_points=5000)


def test_an_experience_booking_takes_a_seat_and_its_code_ends_with_it() -> None:
    plan = plan_redemption(workshop(stock=1), alice(5000), NOW, rng=rng())
    assert plan.stock_after == 0
    assert plan.voucher is not None
    assert plan.voucher.expires_at == datetime(2026, 6, 1, 20, tzinfo=UTC)
    assert plan.starts_at == datetime(2026, 6, 1, 18, tzinfo=UTC)


# -- vouchers --------------------------------------------------------------------------------


def test_voucher_codes_come_from_the_given_random_source_without_ambiguous_characters() -> None:
    code = generate_voucher_code(SPEC, rng())
    assert code == generate_voucher_code(SPEC, rng())
    prefix, first, second = code.split("-")
    assert prefix == "CAFE"
    assert len(first + second) == 8
    assert set(first + second) <= set(CODE_ALPHABET)
    assert not set(CODE_ALPHABET) & set("ILOU")
    assert generate_voucher_code(VoucherSpec(length=6), rng()).count("-") == 1


def test_the_voucher_key_forgives_case_separators_and_look_alikes() -> None:
    assert voucher_key("cafe 0k1l-2q") == voucher_key("CAFE-OKIL-2Q")
    assert voucher_key("CAFE-0K11-2Q") == "CAF E0K112Q".replace(" ", "")


class StuckRandom:
    """Always draws the same bits: every code collides."""

    def getrandbits(self, k: int, /) -> int:
        return 0


def test_a_taken_code_is_drawn_again_and_a_stuck_source_gives_up() -> None:
    first = generate_voucher_code(SPEC, rng())
    again = generate_voucher_code(SPEC, rng(), taken={voucher_key(first)})
    assert again != first
    with pytest.raises(VoucherCodesExhausted):
        generate_voucher_code(SPEC, StuckRandom(), taken={voucher_key("CAFE-0000-0000")})


ISSUED = IssuedVoucher(
    code="CAFE-7KQ2-M9XA",
    member_id="m-alice",
    reward_code="five-off",
    issued_at=NOW,
    expires_at=NOW + timedelta(days=30),
)


@pytest.mark.parametrize(
    ("voucher", "code", "member", "when", "error"),
    [
        (None, "CAFE-7KQ2-M9XA", "m-alice", NOW, VoucherUnknown),
        (ISSUED, "CAFE-7KQ2-M9XB", "m-alice", NOW, VoucherUnknown),
        (ISSUED, "CAFE-7KQ2-M9XA", "m-bob", NOW, VoucherWrongMember),
        (replace(ISSUED, cancelled_at=NOW), "CAFE-7KQ2-M9XA", "m-alice", NOW, VoucherCancelled),
        (replace(ISSUED, used_at=NOW), "CAFE-7KQ2-M9XA", "m-alice", NOW, VoucherAlreadyUsed),
        (ISSUED, "CAFE-7KQ2-M9XA", "m-alice", NOW + timedelta(days=30), VoucherExpired),
    ],
)
def test_voucher_use_is_refused_with_the_reason(
    voucher: IssuedVoucher | None,
    code: str,
    member: str,
    when: datetime,
    error: type[DomainError],
) -> None:
    with pytest.raises(error):
        check_voucher_use(voucher, code=code, member_id=member, now=when)


def test_a_valid_voucher_may_be_used_by_its_member_or_its_bearer() -> None:
    assert check_voucher_use(ISSUED, code="cafe 7kq2 m9xa", member_id="m-alice", now=NOW) == ISSUED
    assert check_voucher_use(ISSUED, code="CAFE-7KQ2-M9XA", now=NOW) == ISSUED


def test_voucher_discounts_never_exceed_the_order() -> None:
    fixed = voucher_reward(terms=FixedValue(eur(500), min_order=eur(2000)))
    assert voucher_discount(fixed, ISSUED, order_total=eur(2500)) == eur(500)
    with pytest.raises(VoucherMinimumNotMet):
        voucher_discount(fixed, ISSUED, order_total=eur(1999))
    with pytest.raises(CurrencyMismatch):
        voucher_discount(fixed, ISSUED, order_total=Money(2500, "USD"))
    percent = voucher_reward(terms=PercentOff(Decimal("12.5"), max_discount=eur(1000)))
    assert voucher_discount(percent, ISSUED, order_total=eur(3999)) == eur(499)  # 499.875
    assert voucher_discount(percent, ISSUED, order_total=eur(20000)) == eur(1000)
    shipping = voucher_reward(terms=FreeShipping(max_value=eur(500)))
    assert voucher_discount(shipping, ISSUED, order_total=eur(3000), shipping=eur(690)) == eur(500)
    paid = replace(ISSUED, value=eur(1200))
    assert voucher_discount(cashback(), paid, order_total=eur(800)) == eur(800)
    with pytest.raises(VoucherNotApplicable):
        voucher_discount(voucher_reward(terms=FreeProduct("CAKE-1")), ISSUED, order_total=eur(1))


# -- cancellation ----------------------------------------------------------------------------


def record(voucher: IssuedVoucher | None = ISSUED, **changes: Any) -> RedemptionRecord:
    base = RedemptionRecord("five-off", "m-alice", 500, NOW, voucher=voucher)
    return replace(base, **changes)


def test_an_unused_voucher_can_be_cancelled_and_gives_back_points_and_stock() -> None:
    decision = cancellation(voucher_reward(stock=3), record(), NOW + timedelta(days=1))
    assert decision.allowed
    assert (decision.points_to_restore, decision.restock) == (500, 1)
    assert cancellation(voucher_reward(), record(), NOW).restock == 0


@pytest.mark.parametrize(
    ("redemption", "when", "reason"),
    [
        (record(replace(ISSUED, used_at=NOW)), NOW, CancelRefusal.VOUCHER_USED),
        (record(), NOW + timedelta(days=30), CancelRefusal.VOUCHER_EXPIRED),
        (record(cancelled_at=NOW), NOW, CancelRefusal.ALREADY_CANCELLED),
        (record(voucher=None), NOW, CancelRefusal.APPLIED_TO_ORDER),
    ],
)
def test_a_used_expired_cancelled_or_applied_redemption_cannot_be_cancelled(
    redemption: RedemptionRecord, when: datetime, reason: CancelRefusal
) -> None:
    reward = cashback() if redemption.voucher is None else voucher_reward()
    decision = cancellation(reward, redemption, when)
    assert (decision.allowed, decision.reason, decision.points_to_restore) == (False, reason, 0)
    with pytest.raises(RedemptionNotCancellable):
        ensure_cancellable(reward, redemption, when)


def test_an_experience_booking_can_be_cancelled_until_the_cutoff() -> None:
    reward = workshop(stock=3)
    booking = record(replace(ISSUED, expires_at=datetime(2026, 6, 1, 20, tzinfo=UTC)), points=2000)
    cutoff = datetime(2026, 5, 30, 18, tzinfo=UTC)  # 48 hours before
    before = ensure_cancellable(reward, booking, cutoff - timedelta(seconds=1))
    assert (before.points_to_restore, before.restock) == (2000, 1)
    assert cancellation(reward, booking, cutoff).reason is CancelRefusal.PAST_CUTOFF


# -- charity ---------------------------------------------------------------------------------

TREES = Charity(
    "reforest",
    "Reforest Now",
    EUR,
    Decimal("0.005"),
    minimum_points=100,
    multiple_of=100,
    daily_limit_points=1000,
    timezone="Europe/Paris",
)


def test_a_donation_is_valued_at_the_charity_rate_rounded_down() -> None:
    plan = plan_donation(TREES, points=300, available_points=1000, history=(), now=NOW)
    assert (plan.points, plan.value) == (300, eur(150))
    odd = replace(TREES, value_per_point=Decimal("0.0033"), minimum_points=1, multiple_of=1)
    assert plan_donation(odd, points=7, available_points=7, history=(), now=NOW).value == eur(2)


def test_a_donation_respects_minimum_multiples_balance_and_daily_limit() -> None:
    with pytest.raises(InvalidPointsAmount):
        plan_donation(TREES, points=50, available_points=1000, history=(), now=NOW)
    with pytest.raises(InvalidPointsAmount):
        plan_donation(TREES, points=150, available_points=1000, history=(), now=NOW)
    with pytest.raises(PointsShort):
        plan_donation(TREES, points=500, available_points=400, history=(), now=NOW)
    today = (Donation(NOW - timedelta(hours=2), 800),)
    with pytest.raises(DonationLimitReached) as caught:
        plan_donation(TREES, points=300, available_points=5000, history=today, now=NOW)
    assert "200 more" in caught.value.detail


def test_the_daily_donation_limit_resets_at_local_midnight() -> None:
    late = datetime(2026, 5, 12, 21, 30, tzinfo=UTC)  # 23:30 in Paris
    after_midnight = datetime(2026, 5, 12, 22, 30, tzinfo=UTC)  # 00:30 the next day
    history = (Donation(late, 1000),)
    with pytest.raises(DonationLimitReached):
        plan_donation(TREES, points=100, available_points=5000, history=history, now=late)
    plan = plan_donation(
        TREES, points=100, available_points=5000, history=history, now=after_midnight
    )
    assert plan.points == 100


TREE_PER_ORDER = Pledge(
    code="tree-per-order",
    charity_code="reforest",
    impact="tree",
    units_per_order=1,
    unit_cost=eur(120),
    min_order=eur(2000),
    budget=eur(1000),
)


def test_a_pledge_plants_per_qualifying_order_and_costs_the_business() -> None:
    outcome = pledge_for_order(
        TREE_PER_ORDER, order_total=eur(2500), ordered_at=NOW, committed=eur(0)
    )
    assert (outcome.units, outcome.cost) == (1, eur(120))
    small = pledge_for_order(
        TREE_PER_ORDER, order_total=eur(1999), ordered_at=NOW, committed=eur(0)
    )
    assert small.units == 0


def test_a_pledge_per_amount_counts_full_amounts_spent() -> None:
    per_fifty = replace(TREE_PER_ORDER, per_amount=eur(5000), min_order=None, budget=None)
    outcome = pledge_for_order(per_fifty, order_total=eur(14999), ordered_at=NOW, committed=eur(0))
    assert (outcome.units, outcome.cost) == (2, eur(240))


def test_a_pledge_never_exceeds_its_budget_or_its_window() -> None:
    nearly_spent = pledge_for_order(
        TREE_PER_ORDER, order_total=eur(5000), ordered_at=NOW, committed=eur(900)
    )
    assert (nearly_spent.units, nearly_spent.cost) == (0, eur(0))
    ended = replace(TREE_PER_ORDER, available_until=NOW)
    assert (
        pledge_for_order(ended, order_total=eur(5000), ordered_at=NOW, committed=eur(0)).units == 0
    )
    with pytest.raises(CurrencyMismatch):
        pledge_for_order(
            TREE_PER_ORDER, order_total=Money(5000, "USD"), ordered_at=NOW, committed=eur(0)
        )


def test_charities_and_pledges_load_from_their_json_form() -> None:
    charity = load_charity(
        {
            "code": "reforest",
            "name": "Reforest Now",
            "currency": "eur",
            "value_per_point": "0.005",
            "minimum_points": 100,
            "multiple_of": 100,
            "daily_limit_points": 1000,
            "timezone": "Europe/Paris",
        }
    )
    assert charity == TREES
    pledge = load_pledge(
        {
            "code": "tree-per-order",
            "charity": "reforest",
            "impact": "tree",
            "currency": "EUR",
            "unit_cost_minor": 120,
            "min_order_minor": 2000,
            "budget_minor": 1000,
        }
    )
    assert pledge == TREE_PER_ORDER
    with pytest.raises(InvalidCharity) as caught:
        load_charity({"code": "x", "name": "X", "currency": "EUR", "value_per_point": "0"})
    assert [p.pointer for p in caught.value.problems] == ["/value_per_point"]
    with pytest.raises(InvalidCharity) as caught:
        load_pledge({"code": "p", "charity": "c", "impact": "tree", "unit_cost_minor": 5})
    assert [p.pointer for p in caught.value.problems] == ["/currency"]


# -- properties ------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(
    stock=st.integers(0, 8),
    balances=st.lists(st.integers(0, 1500), max_size=20),
)
def test_stock_never_goes_negative_and_only_covered_redemptions_pass(
    stock: int, balances: list[int]
) -> None:
    reward = voucher_reward(stock=stock)
    source, granted = rng(), 0
    for number, balance in enumerate(balances):
        member = alice(balance, member_id=f"m-{number}")
        try:
            plan = plan_redemption(reward, member, NOW, rng=source)
        except (RewardOutOfStock, PointsShort):
            continue
        assert plan.stock_after is not None
        assert plan.stock_after >= 0
        assert plan.points <= balance
        reward = replace(reward, stock=plan.stock_after)
        granted += 1
    assert granted <= stock
    assert reward.stock == stock - granted


@settings(max_examples=100, deadline=None)
@given(
    limit=st.integers(1, 3),
    period=st.sampled_from(LimitPeriod),
    gaps=st.lists(st.integers(0, 60 * 24 * 20), max_size=25),  # minutes between attempts
)
def test_a_member_never_exceeds_the_limit_in_any_period(
    limit: int, period: LimitPeriod, gaps: list[int]
) -> None:
    reward = voucher_reward(member_limit=MemberLimit(limit, period, "Europe/Paris"))
    member, now = alice(10**9), NOW
    for gap in gaps:
        now += timedelta(minutes=gap)
        if can_redeem(reward, member, now).ok:
            member = replace(
                member, redemptions=(*member.redemptions, PastRedemption("five-off", now))
            )
    times = [past.at for past in member.redemptions]
    if period is LimitPeriod.EVER:
        assert len(times) <= limit
    for at in times:  # no period holds more than the limit
        in_same = [t for t in times if _same_period(t, at, period)]
        assert len(in_same) <= limit


def _same_period(a: datetime, b: datetime, period: LimitPeriod) -> bool:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Europe/Paris")
    x, y = a.astimezone(zone).date(), b.astimezone(zone).date()
    return {
        LimitPeriod.EVER: True,
        LimitPeriod.DAY: x == y,
        LimitPeriod.WEEK: x.isocalendar()[:2] == y.isocalendar()[:2],
        LimitPeriod.MONTH: (x.year, x.month) == (y.year, y.month),
        LimitPeriod.YEAR: x.year == y.year,
    }[period]


@given(points=st.integers(0, 10**9), rate=st.decimals("0.0001", "10", places=4))
def test_points_are_never_worth_more_than_their_rate(points: int, rate: Decimal) -> None:
    value = points_value(points, rate, EUR)
    exact = Decimal(points) * rate * 100
    assert value.minor <= exact < value.minor + 1
    assert points_value(points + 1, rate, EUR).minor >= value.minor


@given(seed=st.integers(0, 2**32), length=st.integers(6, 32))
def test_generated_codes_are_their_own_key_modulo_separators(seed: int, length: int) -> None:
    # a prefix from the code alphabet is its own key too ("GIFT" would key as "G1FT")
    code = generate_voucher_code(VoucherSpec(prefix="CAFE", length=length), random.Random(seed))
    assert voucher_key(code) == code.replace("-", "")
    assert voucher_key(code.lower().replace("0", "o").replace("1", "l")) == voucher_key(code)
