from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest

from fidela.kernel.points import Rounding
from fidela.ledger.rules import (
    Account,
    Activity,
    ActivityExpiry,
    Allocation,
    Bucket,
    DuplicateReference,
    Earn,
    Entry,
    EntryKind,
    ExpireDue,
    ExpirySchedule,
    FixedExpiry,
    Hold,
    HoldKind,
    InsufficientPoints,
    InvalidExpiryPolicy,
    InvalidLiabilityInput,
    InvalidPoints,
    InvalidReturn,
    LineEarning,
    Lot,
    LotNotFound,
    LotState,
    NoExpiry,
    NothingPending,
    NothingToRestore,
    OrderEarning,
    RestoreExceedsSpend,
    Returned,
    ReturnPolicy,
    RoundTo,
    Spend,
    SpendNotFound,
    activate,
    allocate,
    balance,
    balance_as_of,
    cache_of,
    due_expiries,
    earned_lot,
    expected_breakage,
    expiry_for,
    expiry_warnings,
    extend_on_activity,
    figures_by_month,
    liability,
    new_lot,
    outstanding,
    plan_clawback,
    plan_restore,
    points_to_claw_back,
    points_to_give_back,
    points_value,
    post_activation,
    post_activity,
    post_cancel,
    post_due_expiries,
    post_earn,
    post_return,
    post_spend,
    realised_breakage,
    replay,
    restore,
    take,
)

T0 = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


def day(n: int, hours: int = 0) -> datetime:
    return T0 + timedelta(days=n, hours=hours)


def lot(
    lot_id: int,
    points: int,
    *,
    expires_at: datetime | None = None,
    earned_at: datetime = T0,
    remaining: int | None = None,
    state: LotState = LotState.ACTIVE,
    activates_at: datetime | None = None,
    ref: str | None = None,
) -> Lot:
    return Lot(
        id=lot_id,
        amount=points,
        remaining=points if remaining is None else remaining,
        earned_at=earned_at,
        expires_at=expires_at,
        state=state,
        activates_at=activates_at,
        ref=ref,
    )


def earned(
    account: Account,
    ref: str,
    points: int,
    now: datetime,
    *,
    hold: Hold | None = None,
    expiry: ExpirySchedule | None = None,
) -> Account:
    return post_earn(account, ref=ref, points=points, now=now, hold=hold, expiry=expiry).account


# ------------------------------------------------------------------------------ spend order


def test_spend_takes_soonest_expiring_lot_first() -> None:
    lots = [lot(1, 100, expires_at=day(90)), lot(2, 100, expires_at=day(30))]
    assert allocate(lots, 150, day(1)) == (Allocation(2, 100), Allocation(1, 50))


def test_never_expiring_lots_are_spent_last() -> None:
    lots = [lot(1, 100), lot(2, 100, expires_at=day(400))]
    assert allocate(lots, 120, day(1)) == (Allocation(2, 100), Allocation(1, 20))


def test_lots_expiring_together_are_spent_oldest_earned_first_then_by_id() -> None:
    lots = [
        lot(3, 10, expires_at=day(30), earned_at=day(0)),
        lot(1, 10, expires_at=day(30), earned_at=day(2)),
        lot(2, 10, expires_at=day(30), earned_at=day(0)),
    ]
    assert allocate(lots, 30, day(3)) == (Allocation(2, 10), Allocation(3, 10), Allocation(1, 10))


def test_spend_never_draws_from_pending_or_expired_lots() -> None:
    lots = [
        lot(1, 100, expires_at=day(5)),
        lot(2, 100, state=LotState.PENDING, activates_at=day(20)),
        lot(3, 100, state=LotState.PENDING),
        lot(4, 40, expires_at=day(60)),
    ]
    assert allocate(lots, 40, day(10)) == (Allocation(4, 40),)
    with pytest.raises(InsufficientPoints):
        allocate(lots, 41, day(10))


def test_insufficient_points_allocates_nothing_and_says_what_is_spendable() -> None:
    account = earned(Account(), "o1", 30, day(0))
    with pytest.raises(InsufficientPoints) as caught:
        post_spend(account, ref="r1", points=31, now=day(1))
    assert (caught.value.requested, caught.value.available) == (31, 30)
    assert caught.value.code == "points_insufficient"
    assert account.lots[0].remaining == 30
    assert account.debits == ()


@pytest.mark.parametrize("points", [0, -5])
def test_spending_zero_or_negative_points_is_invalid(points: int) -> None:
    with pytest.raises(InvalidPoints):
        allocate([lot(1, 10)], points, day(1))


def test_a_lot_whose_return_window_ended_is_spendable_before_any_job_runs() -> None:
    held = lot(1, 50, state=LotState.PENDING, activates_at=day(14))
    assert allocate([held], 50, day(14)) == (Allocation(1, 50),)
    with pytest.raises(InsufficientPoints):
        allocate([held], 50, day(14) - timedelta(seconds=1))


def test_a_lot_refuses_remaining_outside_its_amount_and_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="remaining"):
        lot(1, 10, remaining=11)
    with pytest.raises(ValueError, match="remaining"):
        lot(1, 10, remaining=-1)
    with pytest.raises(ValueError, match="timezone-aware"):
        lot(1, 10, earned_at=datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test


def test_take_removes_allocated_points_from_the_lots() -> None:
    lots = [lot(1, 10), lot(2, 10)]
    assert [x.remaining for x in take(lots, [Allocation(2, 4), Allocation(2, 6)])] == [0]


# ------------------------------------------------------------------------ restore / cancel


def test_cancel_restores_exactly_the_allocated_points_to_the_original_lots() -> None:
    schedule = ExpirySchedule((FixedExpiry(days=60),))
    account = earned(Account(), "o1", 100, day(0), expiry=schedule)
    account = earned(account, "o2", 100, day(10), expiry=schedule)
    spent = post_spend(account, ref="r1", points=150, now=day(20))
    assert spent.result == (Allocation(1, 100), Allocation(2, 50))
    cancelled = post_cancel(spent.account, ref="r1", now=day(21))
    assert [x.remaining for x in cancelled.account.lots] == [100, 100]
    assert [x.expires_at for x in cancelled.account.lots] == [x.expires_at for x in account.lots]
    assert cancelled.entries == (Entry(EntryKind.CANCEL, Bucket.ACTIVE, 150, day(21), "r1"),)
    assert balance(cancelled.account, day(21)).available == 200


def test_cancelled_points_whose_lot_expired_meanwhile_come_back_expired() -> None:
    schedule = ExpirySchedule((FixedExpiry(days=30),))
    account = earned(Account(), "o1", 100, day(0), expiry=schedule)
    account = earned(account, "o2", 100, day(20), expiry=schedule)
    account = post_spend(account, ref="r1", points=120, now=day(25)).account
    cancelled = post_cancel(account, ref="r1", now=day(40))
    assert cancelled.result.expired == (Allocation(1, 100),)
    assert cancelled.result.restored == (Allocation(2, 20),)
    assert cancelled.entries == (
        Entry(EntryKind.CANCEL, Bucket.ACTIVE, 120, day(40), "r1"),
        Entry(EntryKind.EXPIRE, Bucket.ACTIVE, -100, day(40), "r1", 1),
    )
    assert balance(cancelled.account, day(40)).available == 100
    assert cancelled.account.cache.active == sum(x.remaining for x in cancelled.account.lots)


def test_a_spend_cannot_be_cancelled_twice_nor_an_unknown_one() -> None:
    account = earned(Account(), "o1", 10, day(0))
    account = post_spend(account, ref="r1", points=10, now=day(1)).account
    account = post_cancel(account, ref="r1", now=day(2)).account
    with pytest.raises(NothingToRestore):
        post_cancel(account, ref="r1", now=day(3))
    with pytest.raises(SpendNotFound):
        post_cancel(account, ref="nope", now=day(3))


def test_a_spend_reference_cannot_be_used_twice() -> None:
    account = earned(Account(), "o1", 10, day(0))
    account = post_spend(account, ref="r1", points=5, now=day(1)).account
    with pytest.raises(DuplicateReference):
        post_spend(account, ref="r1", points=5, now=day(1))


def test_give_backs_split_pro_rata_and_add_up_to_the_whole_spend() -> None:
    outstanding_ = (Allocation(1, 30), Allocation(2, 60), Allocation(3, 10))
    first = plan_restore(outstanding_, 50)
    assert first == (Allocation(1, 15), Allocation(2, 30), Allocation(3, 5))
    left = (Allocation(1, 15), Allocation(2, 30), Allocation(3, 5))
    assert plan_restore(left, 50) == left
    with pytest.raises(ValueError, match="cannot give back"):
        plan_restore(outstanding_, 101)


def test_restore_into_a_lot_that_is_not_given_is_refused() -> None:
    with pytest.raises(LotNotFound, match="lot 9"):
        restore([lot(1, 10)], [Allocation(9, 1)], day(1))


# ------------------------------------------------------------------------------- balances


def test_balance_as_of_now_excludes_expired_points_before_the_expiry_job_runs() -> None:
    lots = [lot(1, 100, expires_at=day(10)), lot(2, 50, expires_at=day(100))]
    before = balance_as_of(lots, day(9))
    after = balance_as_of(lots, day(10))
    assert (before.available, after.available) == (150, 50)
    assert after.unrecorded_expiry == 100


def test_balance_separates_pending_and_reports_points_expiring_within_30_days() -> None:
    lots = [
        lot(1, 100, expires_at=day(20)),
        lot(2, 50, expires_at=day(45)),
        lot(3, 70, state=LotState.PENDING, activates_at=day(14)),
        lot(4, 5),
    ]
    figures = balance_as_of(lots, day(1))
    assert (figures.available, figures.pending, figures.expiring) == (155, 70, 100)
    assert figures.expiring_before == day(31)
    assert balance_as_of(lots, day(1), expiring_within_days=60).expiring == 150


def test_debt_comes_off_available_and_off_the_soonest_expiring_points_first() -> None:
    lots = [lot(1, 100, expires_at=day(20)), lot(2, 50)]
    covered = balance_as_of(lots, day(1), debt=30)
    assert (covered.available, covered.expiring, covered.debt) == (120, 70, 0)
    short = balance_as_of(lots, day(1), debt=200)
    assert (short.available, short.expiring, short.debt) == (-50, 0, 50)


def test_the_expiry_job_writes_each_expired_lots_remaining_at_its_deadline() -> None:
    schedule = ExpirySchedule((FixedExpiry(days=30),))
    account = earned(Account(), "o1", 100, day(0), expiry=schedule)
    account = earned(account, "o2", 40, day(5), expiry=schedule)
    account = post_spend(account, ref="r1", points=30, now=day(6)).account
    job = post_due_expiries(account, now=day(33))
    deadline = expiry_for(FixedExpiry(days=30), day(0))
    assert deadline is not None
    assert job.entries == (Entry(EntryKind.EXPIRE, Bucket.ACTIVE, -70, deadline, "o1", 1),)
    assert [x.remaining for x in job.account.lots] == [0, 40]
    before, after = balance(account, day(33)), balance(job.account, day(33))
    assert (after.available, after.expiring) == (before.available, before.expiring)
    assert (before.unrecorded_expiry, after.unrecorded_expiry) == (70, 0)
    assert post_due_expiries(job.account, now=day(33)).entries == ()


# -------------------------------------------------------------------------- expiry policies


def test_without_a_policy_points_never_expire() -> None:
    assert expiry_for(NoExpiry(), day(0)) is None
    account = earned(Account(), "o1", 10, day(0))
    assert balance(account, day(5000)).available == 10


def test_a_duration_in_days_runs_to_the_end_of_the_last_day() -> None:
    assert expiry_for(FixedExpiry(days=30), datetime(2026, 1, 10, 15, tzinfo=UTC)) == datetime(
        2026, 2, 10, tzinfo=UTC
    )


def test_a_month_from_the_31st_ends_with_the_last_day_of_a_shorter_month() -> None:
    assert expiry_for(FixedExpiry(months=1), datetime(2026, 1, 31, 9, tzinfo=UTC)) == datetime(
        2026, 3, 1, tzinfo=UTC
    )
    assert expiry_for(FixedExpiry(months=1), datetime(2026, 1, 25, 9, tzinfo=UTC)) == datetime(
        2026, 2, 26, tzinfo=UTC
    )
    assert expiry_for(FixedExpiry(months=13), datetime(2027, 12, 31, tzinfo=UTC)) == datetime(
        2029, 2, 1, tzinfo=UTC
    )


def test_zero_months_expire_at_midnight_of_the_earn_day() -> None:
    assert expiry_for(FixedExpiry(), datetime(2026, 1, 25, 9, tzinfo=UTC)) == datetime(
        2026, 1, 26, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("policy", "earned_at", "expires_at"),
    [
        (FixedExpiry(round_to=RoundTo.MONTH), date(2026, 1, 22), date(2026, 2, 1)),
        (FixedExpiry(round_to=RoundTo.YEAR), date(2018, 6, 1), date(2019, 1, 1)),
        (FixedExpiry(round_to=RoundTo.QUARTER), date(2026, 11, 2), date(2027, 1, 1)),
        (FixedExpiry(round_to=RoundTo.QUARTER), date(2026, 4, 1), date(2026, 7, 1)),
        (FixedExpiry(round_to=RoundTo.HALF_YEAR), date(2026, 6, 30), date(2026, 7, 1)),
        (
            FixedExpiry(months=12, round_to=RoundTo.YEAR),
            date(2026, 3, 5),
            date(2028, 1, 1),
        ),
        (
            FixedExpiry(months=1, round_to=RoundTo.MONTH),
            date(2026, 1, 31),
            date(2026, 3, 1),
        ),
    ],
)
def test_a_duration_is_rounded_up_to_the_end_of_its_period(
    policy: FixedExpiry, earned_at: date, expires_at: date
) -> None:
    start = datetime.combine(earned_at, time(10), tzinfo=UTC)
    assert expiry_for(policy, start) == datetime.combine(expires_at, time(), tzinfo=UTC)


def test_period_ends_are_midnight_in_the_programmes_timezone() -> None:
    policy = FixedExpiry(round_to=RoundTo.YEAR, timezone="Europe/Paris")
    # 23:30 UTC on 31 Dec is already 1 Jan in Paris: the points belong to the new year.
    assert expiry_for(policy, datetime(2026, 12, 31, 23, 30, tzinfo=UTC)) == datetime(
        2027, 12, 31, 23, tzinfo=UTC
    )


def test_switching_expiry_on_is_not_retroactive() -> None:
    switch_on = day(100)
    schedule = ExpirySchedule((FixedExpiry(months=6, effective_from=switch_on),))
    account = earned(Account(), "before", 100, day(1), expiry=schedule)
    account = earned(account, "after", 50, day(101), expiry=schedule)
    assert [x.expires_at for x in account.lots] == [None, datetime(2026, 10, 22, tzinfo=UTC)]
    years_later = day(1000)
    assert balance(account, years_later).available == 100
    assert post_due_expiries(account, now=years_later).result[0].lot_id == 2


def test_the_schedule_applies_the_policy_in_force_when_the_points_were_earned() -> None:
    fixed = FixedExpiry(months=12)
    annual = FixedExpiry(round_to=RoundTo.YEAR, effective_from=day(200))
    schedule = ExpirySchedule((annual, fixed))
    assert schedule.in_force(day(199)) is fixed
    assert schedule.in_force(day(200)) is annual
    assert ExpirySchedule().in_force(day(0)) == NoExpiry()
    with pytest.raises(InvalidExpiryPolicy):
        ExpirySchedule((FixedExpiry(months=1), NoExpiry()))


def test_a_lot_cannot_be_earned_under_a_policy_not_yet_in_force() -> None:
    later = FixedExpiry(months=1, effective_from=day(10))
    with pytest.raises(ValueError, match="in_force"):
        new_lot(1, 10, earned_at=day(1), hold=Hold.immediate(), policy=later)


@pytest.mark.parametrize(
    ("build", "pointer"),
    [
        (lambda: FixedExpiry(months=-1), "/months"),
        (lambda: FixedExpiry(days=-1), "/days"),
        (lambda: FixedExpiry(timezone="Mars/Olympus"), "/timezone"),
        (lambda: FixedExpiry(effective_from=datetime(2026, 1, 1)), "/effective_from"),  # noqa: DTZ001
        (lambda: ActivityExpiry(months=12, activity_kinds=frozenset()), "/activity_kinds"),
        (lambda: ActivityExpiry(months=0, activity_kinds=frozenset({"purchase"})), "/months"),
    ],
)
def test_an_invalid_expiry_policy_names_the_offending_field(
    build: Callable[[], object], pointer: str
) -> None:
    with pytest.raises(InvalidExpiryPolicy) as caught:
        build()
    assert caught.value.problems[0].pointer == pointer


def test_held_points_start_their_expiry_clock_when_the_hold_ends() -> None:
    policy = FixedExpiry(days=30)
    held = new_lot(1, 10, earned_at=day(0), hold=Hold.for_days(14), policy=policy)
    assert (held.state, held.activates_at) == (LotState.PENDING, day(14))
    assert held.expires_at == expiry_for(policy, day(14))
    waiting = new_lot(2, 10, earned_at=day(0), hold=Hold.until_event(), policy=policy)
    assert (waiting.activates_at, waiting.expires_at) == (None, None)
    assert waiting.is_pending(day(5000))
    active = activate(waiting, day(50), policy)
    assert active.state is LotState.ACTIVE
    assert active.expires_at == expiry_for(policy, day(50))
    with pytest.raises(NothingPending):
        activate(active, day(51), policy)


def test_an_activation_event_moves_pending_points_to_the_active_balance() -> None:
    schedule = ExpirySchedule((FixedExpiry(days=30),))
    account = earned(Account(), "o1", 80, day(0), hold=Hold.until_event(), expiry=schedule)
    assert account.cache.pending == 80
    assert balance(account, day(3)).available == 0
    posted = post_activation(account, ref="o1", now=day(3), expiry=schedule)
    assert posted.entries == (
        Entry(EntryKind.ACTIVATE, Bucket.PENDING, -80, day(3), "o1", 1),
        Entry(EntryKind.ACTIVATE, Bucket.ACTIVE, 80, day(3), "o1", 1),
    )
    assert (posted.account.cache.active, posted.account.cache.pending) == (80, 0)
    with pytest.raises(NothingPending):
        post_activation(posted.account, ref="o1", now=day(4), expiry=schedule)


def test_a_return_window_ends_by_itself_and_the_next_step_records_the_activation() -> None:
    account = earned(Account(), "o1", 60, day(0), hold=Hold.for_days(14))
    assert balance(account, day(14)).available == 60
    spent = post_spend(account, ref="r1", points=10, now=day(20))
    assert spent.entries[:2] == (
        Entry(EntryKind.ACTIVATE, Bucket.PENDING, -60, day(14), "o1", 1),
        Entry(EntryKind.ACTIVATE, Bucket.ACTIVE, 60, day(14), "o1", 1),
    )
    assert spent.account.cache.active == 50


def _activity_account() -> tuple[Account, ExpirySchedule]:
    policy = ActivityExpiry(
        months=12, activity_kinds=frozenset({"purchase", "review"}), effective_from=day(0)
    )
    schedule = ExpirySchedule((policy,))
    account = earned(Account(), "o1", 100, day(1), expiry=schedule)
    account = earned(account, "o2", 100, day(40), expiry=schedule)
    return account, schedule


def test_activity_pushes_every_lots_expiry_to_the_last_activity_plus_the_window() -> None:
    account, schedule = _activity_account()
    posted = post_activity(account, Activity("review", day(200)), expiry=schedule)
    pushed_to = expiry_for(schedule.in_force(day(200)), day(200))
    assert [x.expires_at for x in posted.account.lots] == [pushed_to, pushed_to]
    assert posted.entries == ()
    assert balance(posted.account, day(500)).available == 200


def test_activity_of_a_kind_not_listed_does_not_keep_points_alive() -> None:
    account, schedule = _activity_account()
    assert post_activity(account, Activity("login", day(200)), expiry=schedule).result == ()
    assert balance(account, day(500)).available == 0


def test_zero_point_activity_counts_only_if_the_policy_says_so() -> None:
    strict = ActivityExpiry(
        months=6, activity_kinds=frozenset({"purchase"}), counts_zero_points=False
    )
    lots = [new_lot(1, 10, earned_at=day(0), hold=Hold.immediate(), policy=strict)]
    assert extend_on_activity(lots, strict, Activity("purchase", day(30), points=0)) == ()
    assert len(extend_on_activity(lots, strict, Activity("purchase", day(30), points=5))) == 1


def test_activity_does_not_revive_expired_points_nor_touch_lots_from_before_the_policy() -> None:
    policy = ActivityExpiry(months=1, activity_kinds=frozenset({"purchase"}), effective_from=day(5))
    old = lot(1, 10, earned_at=day(0), expires_at=day(400))
    expired = new_lot(2, 10, earned_at=day(6), hold=Hold.immediate(), policy=policy)
    alive = new_lot(3, 10, earned_at=day(60), hold=Hold.immediate(), policy=policy)
    pushed = extend_on_activity([old, expired, alive], policy, Activity("purchase", day(70)))
    assert [x.id for x in pushed] == [3]


def test_expiry_warnings_list_points_expiring_in_the_next_days_soonest_first() -> None:
    lots = [
        lot(1, 10, expires_at=day(25)),
        lot(2, 20, expires_at=day(5)),
        lot(3, 30, expires_at=day(45)),
        lot(4, 40, expires_at=day(6), remaining=0),
        lot(5, 50),
    ]
    warnings = expiry_warnings(lots, day(0), within_days=30)
    assert [(w.lot_id, w.points, w.expires_at) for w in warnings] == [
        (2, 20, day(5)),
        (1, 10, day(25)),
    ]
    assert warnings[0].key == f"2:{day(5).isoformat()}"
    assert expiry_warnings(lots, day(6), within_days=0) == ()


def test_due_expiries_take_the_whole_remaining_of_each_expired_lot() -> None:
    lots = [lot(1, 100, remaining=40, expires_at=day(3)), lot(2, 5, expires_at=day(9))]
    assert [(d.lot_id, d.points, d.expired_at) for d in due_expiries(lots, day(5))] == [
        (1, 40, day(3))
    ]


# -------------------------------------------------------------------------------- returns


def test_clawback_is_proportional_to_the_returned_value_of_the_order() -> None:
    # Open Loyalty's example: 40 EUR earned 70 points; returning 20 EUR removes 35.
    order = OrderEarning(amount_minor=4000, points=70)
    assert points_to_claw_back(order, Returned(total_minor=2000)) == 35


def test_clawback_per_line_takes_the_points_each_line_earned() -> None:
    order = OrderEarning(
        amount_minor=4000,
        points=70,
        lines=(LineEarning(1, 2000, 10), LineEarning(2, 2000, 20)),
    )
    # Line 2 earned 20 of its own; the 40 order-level points go by value: 20 + 20.
    assert points_to_claw_back(order, Returned(2000, {2: 2000})) == 40
    assert points_to_claw_back(order, Returned(2000, {1: 2000})) == 30


def test_partial_returns_ending_in_a_full_return_claw_back_exactly_what_was_earned() -> None:
    order = OrderEarning(amount_minor=3000, points=100)
    clawed = 0
    for returned in (1000, 2000, 3000):
        clawed += points_to_claw_back(order, Returned(returned), already_clawed_back=clawed)
    assert clawed == 100


def test_rounding_down_never_claws_back_more_than_the_share() -> None:
    order = OrderEarning(amount_minor=300, points=10)
    assert points_to_claw_back(order, Returned(100)) == 3
    assert points_to_claw_back(order, Returned(100), rounding=Rounding.HALF_UP) == 3
    assert points_to_claw_back(order, Returned(200), rounding=Rounding.HALF_UP) == 7


def test_what_was_returned_before_a_return_leaves_out_its_amount_and_its_lines() -> None:
    after = Returned(3500, {1: 2000, 2: 500})
    assert after.before(500, {2: 500}) == Returned(3000, {1: 2000})
    assert after.before(1000, {}) == Returned(2500, {1: 2000, 2: 500})
    with pytest.raises(InvalidReturn):
        after.before(600, {2: 600})


def test_return_figures_out_of_range_are_refused() -> None:
    order = OrderEarning(amount_minor=100, points=10, lines=(LineEarning(1, 100, 5),))
    with pytest.raises(InvalidReturn):
        points_to_claw_back(order, Returned(10), already_clawed_back=11)
    with pytest.raises(InvalidReturn):
        points_to_claw_back(order, Returned(10, {7: 10}))
    with pytest.raises(InvalidReturn):
        Returned(-1)
    with pytest.raises(InvalidReturn):
        OrderEarning(amount_minor=100, points=4, lines=(LineEarning(1, 100, 5),))


def test_only_pending_claws_back_from_the_orders_pending_lot_and_leaves_active_points() -> None:
    lots = [
        lot(1, 50, ref="o1", state=LotState.PENDING, activates_at=day(14)),
        lot(2, 100, ref="o0"),
    ]
    plan = plan_clawback(
        80, order_ref="o1", lots=lots, now=day(2), policy=ReturnPolicy.ONLY_PENDING
    )
    assert plan.pending == (Allocation(1, 50),)
    assert (plan.active, plan.forgiven, plan.owed) == ((), 30, 0)


def test_clawback_takes_the_orders_own_lot_first_then_other_lots_in_spend_order() -> None:
    lots = [
        lot(1, 100, ref="o0", expires_at=day(10)),
        lot(2, 30, ref="o1", expires_at=day(300)),
        lot(3, 100, ref="o2", expires_at=day(20)),
    ]
    plan = plan_clawback(
        150, order_ref="o1", lots=lots, now=day(1), policy=ReturnPolicy.WITHIN_BALANCE
    )
    assert plan.active == (Allocation(2, 30), Allocation(1, 100), Allocation(3, 20))


def test_within_balance_never_goes_below_zero_and_reports_what_it_forgives() -> None:
    account = earned(Account(), "o1", 100, day(0))
    account = post_spend(account, ref="r1", points=70, now=day(1)).account
    posted = post_return(
        account,
        ref="ret1",
        order_ref="o1",
        claw_back=100,
        now=day(2),
        policy=ReturnPolicy.WITHIN_BALANCE,
    )
    assert (posted.result.clawback.taken, posted.result.clawback.forgiven) == (30, 70)
    assert balance(posted.account, day(2)).available == 0


def test_unlimited_records_debt_that_the_next_points_pay_off() -> None:
    account = earned(Account(), "o1", 100, day(0))
    account = post_spend(account, ref="r1", points=70, now=day(1)).account
    posted = post_return(
        account,
        ref="ret1",
        order_ref="o1",
        claw_back=100,
        now=day(2),
        policy=ReturnPolicy.UNLIMITED,
    )
    assert posted.result.clawback.owed == 70
    assert posted.entries[-1] == Entry(EntryKind.CLAWBACK, Bucket.ACTIVE, -70, day(2), "ret1")
    assert balance(posted.account, day(2)).available == -70
    later = post_earn(posted.account, ref="o2", points=50, now=day(3))
    assert later.account.debt == 20
    assert later.account.lots[-1].remaining == 0
    assert balance(later.account, day(3)).available == -20
    with pytest.raises(InsufficientPoints):
        post_spend(later.account, ref="r2", points=1, now=day(3))


@pytest.mark.parametrize(
    ("policy", "hold"),
    [
        (ReturnPolicy.WITHIN_BALANCE, Hold.immediate()),
        (ReturnPolicy.UNLIMITED, Hold.immediate()),
        (ReturnPolicy.ONLY_PENDING, Hold.for_days(30)),
        (ReturnPolicy.WITHIN_BALANCE, Hold.for_days(30)),
    ],
)
def test_buy_earn_refund_does_not_keep_the_points(policy: ReturnPolicy, hold: Hold) -> None:
    account = earned(Account(), "old", 40, day(0))
    order = OrderEarning(amount_minor=5000, points=250)
    account = earned(account, "o1", order.points, day(1), hold=hold)
    claw = points_to_claw_back(order, Returned(5000))
    posted = post_return(
        account, ref="ret1", order_ref="o1", claw_back=claw, now=day(2), policy=policy
    )
    figures = balance(posted.account, day(60))
    assert (figures.available, figures.pending) == (40, 0)


def test_refunding_an_order_paid_with_points_gives_them_back_instead_of_charging_twice() -> None:
    account = earned(Account(), "old", 500, day(0))
    account = post_spend(account, ref="pay-o1", points=300, now=day(1)).account
    account = earned(account, "o1", 20, day(1))
    assert balance(account, day(1)).available == 220
    give_back = points_to_give_back(300, 4000, 4000)
    claw = points_to_claw_back(OrderEarning(amount_minor=1000, points=20), Returned(1000))
    posted = post_return(
        account,
        ref="ret1",
        order_ref="o1",
        claw_back=claw,
        give_back=give_back,
        paid_with="pay-o1",
        now=day(2),
        policy=ReturnPolicy.WITHIN_BALANCE,
    )
    assert balance(posted.account, day(2)).available == 500
    kinds = [(e.kind, e.points) for e in posted.entries]
    assert kinds == [(EntryKind.GIVE_BACK, 300), (EntryKind.CLAWBACK, -20)]
    assert posted.account.lots[0].remaining == 500


def test_partial_refund_of_a_points_payment_gives_back_pro_rata_to_the_original_lots() -> None:
    schedule = ExpirySchedule((FixedExpiry(days=90),))
    account = earned(Account(), "a", 100, day(0), expiry=schedule)
    account = earned(account, "b", 100, day(10), expiry=schedule)
    account = post_spend(account, ref="pay", points=150, now=day(11)).account
    first = points_to_give_back(150, 3000, 1000)
    posted = post_return(
        account,
        ref="ret1",
        order_ref="o9",
        claw_back=0,
        give_back=first,
        paid_with="pay",
        now=day(12),
        policy=ReturnPolicy.WITHIN_BALANCE,
    )
    assert first == 50
    assert posted.result.given_back is not None
    assert posted.result.given_back.restored == (Allocation(1, 33), Allocation(2, 17))
    rest = points_to_give_back(150, 3000, 3000, already_given_back=first)
    final = post_return(
        posted.account,
        ref="ret2",
        order_ref="o9",
        claw_back=0,
        give_back=rest,
        paid_with="pay",
        now=day(13),
        policy=ReturnPolicy.WITHIN_BALANCE,
    )
    assert [x.remaining for x in final.account.lots] == [100, 100]
    with pytest.raises(RestoreExceedsSpend):
        post_return(
            final.account,
            ref="ret3",
            order_ref="o9",
            claw_back=0,
            give_back=1,
            paid_with="pay",
            now=day(14),
            policy=ReturnPolicy.WITHIN_BALANCE,
        )


def test_giving_back_points_needs_the_spend_that_paid() -> None:
    account = earned(Account(), "a", 10, day(0))
    with pytest.raises(SpendNotFound):
        post_return(
            account,
            ref="ret1",
            order_ref="o1",
            claw_back=0,
            give_back=5,
            now=day(1),
            policy=ReturnPolicy.UNLIMITED,
        )


def test_expired_points_of_the_order_are_not_clawed_back_again() -> None:
    lots = [lot(1, 100, ref="o1", expires_at=day(5)), lot(2, 100, ref="o2")]
    plan = plan_clawback(
        100, order_ref="o1", lots=lots, now=day(6), policy=ReturnPolicy.WITHIN_BALANCE
    )
    assert plan.active == (Allocation(2, 100),)


def test_a_negative_clawback_is_refused() -> None:
    with pytest.raises(InvalidPoints):
        post_return(
            Account(),
            ref="r",
            order_ref="o",
            claw_back=-1,
            now=day(0),
            policy=ReturnPolicy.UNLIMITED,
        )


# ------------------------------------------------------------------------------- journal


def test_replaying_a_history_gives_a_cache_equal_to_the_sum_of_its_entries() -> None:
    schedule = ExpirySchedule((FixedExpiry(days=30),))
    history = replay(
        [
            (day(0), Earn("o1", 100)),
            (day(1), Earn("o2", 50, Hold.for_days(10))),
            (day(2), Spend("r1", 60)),
            (day(40), ExpireDue()),
        ],
        returns=ReturnPolicy.WITHIN_BALANCE,
        expiry=schedule,
    )
    assert history.account.cache == cache_of(history.entries)
    assert history.account.cache.active == 50
    assert balance(history.account, day(40)).available == 50


# ------------------------------------------------------------------------------ liability


def test_outstanding_points_are_active_and_pending_but_not_expired() -> None:
    lots = [
        lot(1, 100, expires_at=day(5)),
        lot(2, 60, remaining=40),
        lot(3, 30, state=LotState.PENDING),
    ]
    owed = outstanding(lots, day(6))
    assert (owed.active, owed.pending, owed.points) == (40, 30, 70)


def test_points_are_valued_at_cost_per_point_with_one_half_even_rounding() -> None:
    assert points_value(3, Decimal("0.5")) == 2
    assert points_value(5, Decimal("0.5")) == 2
    assert points_value(7, Decimal("0.5")) == 4
    with pytest.raises(InvalidLiabilityInput):
        points_value(1, Decimal(-1))
    with pytest.raises(InvalidLiabilityInput):
        points_value(1, Decimal(1), expected_breakage=Decimal("1.5"))


def test_liability_after_expected_breakage_follows_the_ifrs_example() -> None:
    # 2,000 points worth $200 (10 cents each), 85 % expected to be redeemed: $170.
    figures = liability(
        [lot(1, 2000)],
        day(1),
        cost_per_point_minor=Decimal(10),
        expected_breakage=Decimal("0.15"),
    )
    assert (figures.value_minor, figures.expected_value_minor) == (20000, 17000)


def _history() -> tuple[Entry, ...]:
    schedule = ExpirySchedule((FixedExpiry(days=30),))
    return replay(
        [
            (datetime(2026, 1, 5, tzinfo=UTC), Earn("o1", 100)),
            (datetime(2026, 1, 6, tzinfo=UTC), Earn("o2", 100)),
            (datetime(2026, 1, 7, tzinfo=UTC), Spend("r1", 50)),
            (datetime(2026, 3, 1, tzinfo=UTC), ExpireDue()),
            (datetime(2026, 3, 2, tzinfo=UTC), Earn("o3", 40)),
        ],
        returns=ReturnPolicy.WITHIN_BALANCE,
        expiry=schedule,
    ).entries


def test_issued_redeemed_and_expired_points_are_reported_per_month() -> None:
    months = figures_by_month(_history())
    assert [(m.period, m.issued, m.redeemed, m.expired) for m in months] == [
        ("2026-01", 200, 50, 0),
        ("2026-02", 0, 0, 150),
        ("2026-03", 40, 0, 0),
    ]


def test_realised_breakage_is_points_expired_over_points_issued_in_the_period() -> None:
    breakage = realised_breakage(
        _history(),
        start=datetime(2026, 1, 1, tzinfo=UTC),
        end=datetime(2026, 3, 1, tzinfo=UTC),
    )
    assert (breakage.issued, breakage.expired, breakage.rate) == (200, 150, Decimal("0.75"))
    empty = realised_breakage((), start=day(0), end=day(1))
    assert empty.rate is None


def test_expected_breakage_comes_from_matured_cohorts_only() -> None:
    entries = _history()
    matured = expected_breakage(
        entries, now=datetime(2026, 4, 1, tzinfo=UTC), matured_after_months=2
    )
    assert (matured.issued, matured.expired) == (200, 150)
    young = expected_breakage(
        entries, now=datetime(2026, 3, 31, tzinfo=UTC), matured_after_months=2
    )
    assert young.rate is None


def test_clawbacks_reduce_a_cohorts_issued_points() -> None:
    earned_ = replay(
        [
            (datetime(2026, 1, 5, tzinfo=UTC), Earn("o1", 100)),
            (datetime(2026, 1, 6, tzinfo=UTC), Earn("o2", 100)),
        ],
        returns=ReturnPolicy.WITHIN_BALANCE,
    )
    returned = post_return(
        earned_.account,
        ref="ret",
        order_ref="o1",
        claw_back=100,
        now=datetime(2026, 1, 9, tzinfo=UTC),
        policy=ReturnPolicy.WITHIN_BALANCE,
    )
    entries = (*earned_.entries, *returned.entries)
    breakage = expected_breakage(
        entries, now=datetime(2027, 1, 1, tzinfo=UTC), matured_after_months=1
    )
    assert breakage.issued == 100
    months = figures_by_month(entries)
    assert (months[0].clawed_back, months[0].net_issued) == (100, 100)


# ---------------------------------------------------- named activation events, late earns


def test_an_activation_event_releases_only_the_lots_whose_hold_names_it() -> None:
    account = earned(Account(), "o1", 50, day(0), hold=Hold.until_event("custom.delivered"))
    account = earned(account, "o1", 20, day(0), hold=Hold.until_event("custom.reviewed"))
    account = earned(account, "o1", 30, day(0), hold=Hold.for_days(14))
    posted = post_activation(account, ref="o1", now=day(2), event="custom.delivered")
    assert [lot.amount for lot in posted.result] == [50]
    figures = balance(posted.account, day(2))
    assert (figures.available, figures.pending) == (50, 50)
    # The return window is not cut short by an event, and the other event is still awaited.
    with pytest.raises(NothingPending):
        post_activation(posted.account, ref="o1", now=day(3), event="custom.delivered")
    later = post_activation(posted.account, ref="o1", now=day(3), event="custom.reviewed")
    assert [lot.amount for lot in later.result] == [20]


def test_lots_held_before_holds_named_their_event_wait_for_the_programmes_event() -> None:
    account = earned(Account(), "o1", 40, day(0), hold=Hold.until_event())
    with pytest.raises(NothingPending):
        post_activation(account, ref="o1", now=day(1), event="custom.other", unnamed=False)
    posted = post_activation(account, ref="o1", now=day(1), event="custom.delivered")
    assert posted.account.cache.active == 40


def test_a_hold_names_an_event_only_when_it_waits_for_one() -> None:
    with pytest.raises(ValueError, match="names an event"):
        Hold(kind=HoldKind.DAYS, days=3, event="custom.delivered")
    assert Hold.until_event("custom.delivered").label == "event:custom.delivered"
    assert Hold.for_days(14).label == "days:14"
    assert Hold.immediate().label == "none"


def test_a_late_earn_is_dated_at_the_purchase_and_expires_from_it() -> None:
    schedule = ExpirySchedule((FixedExpiry(months=24),))
    purchase = day(-365)
    posted = post_earn(
        Account(), ref="o1", points=70, now=day(0), expiry=schedule, earned_at=purchase
    )
    assert posted.result.earned_at == purchase
    assert posted.result.expires_at == expiry_for(schedule.in_force(purchase), purchase)
    assert posted.entries == (Entry(EntryKind.EARN, Bucket.ACTIVE, 70, purchase, "o1", 1),)


def test_an_earn_dated_in_the_future_is_dated_now() -> None:
    posted = post_earn(Account(), ref="o1", points=5, now=day(0), earned_at=day(3))
    assert posted.result.earned_at == day(0)


def test_a_late_earn_whose_return_window_is_over_is_active_at_once() -> None:
    posted = post_earn(
        Account(), ref="o1", points=60, now=day(0), hold=Hold.for_days(14), earned_at=day(-20)
    )
    assert (posted.result.state, posted.result.activates_at) == (LotState.ACTIVE, day(-6))
    assert (posted.account.cache.active, posted.account.cache.pending) == (60, 0)
    still_held = post_earn(
        Account(), ref="o2", points=60, now=day(0), hold=Hold.for_days(14), earned_at=day(-4)
    )
    assert still_held.result.activates_at == day(10)
    assert balance(still_held.account, day(0)).pending == 60


def test_a_late_earn_already_past_its_expiry_is_never_spendable() -> None:
    schedule = ExpirySchedule((FixedExpiry(months=24),))
    account = post_earn(
        Account(), ref="old", points=90, now=day(0), expiry=schedule, earned_at=day(-800)
    ).account
    figures = balance(account, day(0))
    assert (figures.available, figures.unrecorded_expiry) == (0, 90)
    with pytest.raises(InsufficientPoints):
        post_spend(account, ref="s1", points=1, now=day(0))
    expired = post_due_expiries(account, now=day(0))
    assert [entry.kind for entry in expired.entries] == [EntryKind.EXPIRE]
    assert expired.account.cache.active == 0


def test_a_late_earn_from_before_expiry_was_switched_on_never_expires() -> None:
    switch_on = day(-100)
    schedule = ExpirySchedule((FixedExpiry(days=30, effective_from=switch_on),))
    before = post_earn(
        Account(), ref="o1", points=10, now=day(0), expiry=schedule, earned_at=day(-200)
    )
    after = post_earn(
        Account(), ref="o2", points=10, now=day(0), expiry=schedule, earned_at=day(-50)
    )
    assert before.result.expires_at is None
    assert after.result.expires_at == expiry_for(schedule.in_force(day(-50)), day(-50))


@pytest.mark.parametrize(
    "hold",
    [Hold.immediate(), Hold.for_days(14), Hold.for_days(1), Hold.until_event("delivered")],
    ids=lambda hold: hold.label,
)
@pytest.mark.parametrize("earned", [day(0, -3), day(-3)], ids=["3 hours before", "3 days before"])
def test_an_earned_lot_is_what_post_earn_posts_on_an_empty_account(
    hold: Hold, earned: datetime
) -> None:
    """The set-based earn posts ``earned_lot`` where the account owes nothing: the same lot
    and entry as ``post_earn``, a return window already over included (active at once)."""
    schedule = ExpirySchedule((FixedExpiry(months=24, round_to=RoundTo.MONTH),))
    posting = post_earn(
        Account(), ref="order:1", points=120, now=T0, hold=hold, expiry=schedule, earned_at=earned
    )
    lot, entry = earned_lot(
        1, ref="order:1", points=120, now=T0, hold=hold, expiry=schedule, earned_at=earned
    )
    assert (lot, (entry,)) == (posting.result, posting.entries)
