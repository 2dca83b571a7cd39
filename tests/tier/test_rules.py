from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fidela.kernel.money import CurrencyMismatch
from fidela.tier.rules import (
    Activity,
    ActivityKind,
    Basis,
    Benefits,
    Cause,
    DowngradeTo,
    InvalidActivity,
    InvalidLadder,
    Level,
    LevelRemoved,
    Membership,
    OnReturn,
    Outcome,
    TierDecision,
    TierLadder,
    UnknownTier,
    Window,
    WindowKind,
    activity_needed_since,
    apply_ladder_change,
    benefits_for,
    enrol,
    evaluate,
    load_ladder,
    progress,
    qualifying_amount,
    settled_decision,
)

JOIN = datetime(2024, 1, 5, 9, tzinfo=UTC)
LEVELS = (
    Level("member", "Member", 0),
    Level("silver", "Silver", 1000, Benefits(earn_multiplier=Decimal("1.25"))),
    Level("gold", "Gold", 5000, Benefits(Decimal(2), Decimal(10), free_shipping=True)),
)


def make_ladder(**changes: Any) -> TierLadder:
    ladder = TierLadder(
        code="club",
        name="Club",
        basis=Basis.POINTS,
        window=Window(WindowKind.ROLLING, 12),
        levels=LEVELS,
    )
    return replace(ladder, **changes)


def earn(points: int, at: datetime, order: str | None = None, pending: bool = False) -> Activity:
    return Activity(ActivityKind.EARN, points, at, order_ref=order, pending=pending)


def clawback(points: int, order_at: datetime, order: str) -> Activity:
    return Activity(ActivityKind.CLAWBACK, points, order_at, order_ref=order)


def member(ladder: TierLadder) -> Membership:
    return enrol(ladder, joined_at=JOIN)


def upgraded(ladder: TierLadder, activity: list[Activity], at: datetime) -> Membership:
    decision = evaluate(ladder, member(ladder), activity, at)
    assert decision.outcome is Outcome.UPGRADE
    return decision.membership


# -- basis -----------------------------------------------------------------------------------


def test_tier_is_based_on_earned_points_not_balance() -> None:
    ladder = make_ladder()
    at = datetime(2024, 3, 1, tzinfo=UTC)
    activity = [
        earn(1200, at, "o-1"),
        Activity(ActivityKind.REDEEM, 1200, at + timedelta(hours=1)),  # balance back to 0
    ]
    decision = evaluate(ladder, member(ladder), activity, at + timedelta(hours=2))
    assert decision.outcome is Outcome.UPGRADE
    assert decision.membership.tier_code == "silver"


def test_redeeming_or_expiring_points_never_lowers_a_tier() -> None:
    ladder = make_ladder()
    at = datetime(2024, 3, 1, tzinfo=UTC)
    state = upgraded(ladder, [earn(1200, at)], at)
    later = [
        earn(1200, at),
        Activity(ActivityKind.REDEEM, 1000, at + timedelta(days=10)),
        Activity(ActivityKind.EXPIRE, 200, at + timedelta(days=200)),
    ]
    decision = evaluate(ladder, state, later, at + timedelta(days=300))
    assert decision.outcome is Outcome.KEEP
    assert not decision.changed


def test_pending_points_do_not_qualify_by_default() -> None:
    ladder = make_ladder()
    at = datetime(2024, 3, 1, tzinfo=UTC)
    activity = [earn(600, at), earn(600, at, pending=True)]
    assert evaluate(ladder, member(ladder), activity, at).outcome is Outcome.KEEP
    assert qualifying_amount(ladder, member(ladder), activity, at) == 600


def test_pending_points_qualify_when_the_ladder_counts_them() -> None:
    ladder = make_ladder(count_pending=True)
    at = datetime(2024, 3, 1, tzinfo=UTC)
    activity = [earn(600, at), earn(600, at, pending=True)]
    assert evaluate(ladder, member(ladder), activity, at).membership.tier_code == "silver"


def test_spend_basis_counts_spend_minus_refunds_in_the_ladder_currency() -> None:
    ladder = make_ladder(basis=Basis.SPEND, currency="EUR")
    at = datetime(2024, 3, 1, tzinfo=UTC)
    activity = [
        Activity(ActivityKind.SPEND, 80_000, at, "o-1", currency="EUR"),
        Activity(ActivityKind.EARN, 99_999, at),  # points do not count on a spend ladder
        Activity(ActivityKind.REFUND, 30_000, at, "o-1", currency="EUR"),
    ]
    assert qualifying_amount(ladder, member(ladder), activity, at) == 50_000
    with pytest.raises(CurrencyMismatch) as caught:
        evaluate(ladder, member(ladder), [Activity(ActivityKind.SPEND, 1, at, currency="USD")], at)
    assert caught.value.problems[0].pointer == "/activity/0/currency"


def test_activity_amounts_are_never_negative_and_dates_are_aware() -> None:
    with pytest.raises(InvalidActivity):
        Activity(ActivityKind.EARN, -5, JOIN)
    with pytest.raises(InvalidActivity):
        Activity(ActivityKind.EARN, 5, datetime(2024, 1, 1))  # noqa: DTZ001


def test_a_tier_not_on_the_ladder_is_refused() -> None:
    ladder = make_ladder()
    with pytest.raises(UnknownTier):
        evaluate(ladder, replace(member(ladder), tier_code="platinum"), [], JOIN)


def test_benefits_follow_the_tier() -> None:
    ladder = make_ladder()
    assert benefits_for(ladder, "gold").free_shipping
    assert benefits_for(ladder, "silver").earn_multiplier == Decimal("1.25")
    assert benefits_for(ladder, "member") == Benefits()


# -- upgrade ---------------------------------------------------------------------------------


def test_upgrade_is_immediate_to_the_highest_level_reached() -> None:
    ladder = make_ladder()
    at = datetime(2024, 3, 1, 15, tzinfo=UTC)
    decision = evaluate(ladder, member(ladder), [earn(6000, at, "o-big")], at)
    assert decision.membership.tier_code == "gold"
    assert decision.membership.since == at
    assert decision.membership.upgrade_order_ref == "o-big"
    assert [t.cause for t in decision.transitions] == [Cause.THRESHOLD_REACHED]


def test_upgrade_restarts_the_clock() -> None:
    # Capillary's example: 12-month validity, upgraded 15 Apr 2024, then 25 Oct 2024.
    ladder = make_ladder()
    april, october = datetime(2024, 4, 15, tzinfo=UTC), datetime(2024, 10, 25, tzinfo=UTC)
    activity = [earn(1000, april)]
    silver = evaluate(ladder, member(ladder), activity, april).membership
    assert silver.review_at == datetime(2025, 4, 15, tzinfo=UTC)
    activity.append(earn(4000, october))
    gold = evaluate(ladder, silver, activity, october).membership
    assert gold.tier_code == "gold"
    assert gold.review_at == datetime(2025, 10, 25, tzinfo=UTC)
    # only the last upgrade can be undone: the snapshot keeps one level of history
    assert gold.before_upgrade == replace(silver, before_upgrade=None)


def test_the_base_level_has_no_review_date() -> None:
    ladder = make_ladder()
    decision = evaluate(ladder, member(ladder), [earn(10, JOIN)], JOIN + timedelta(days=900))
    assert decision.membership.review_at is None
    assert decision.outcome is Outcome.KEEP


# -- review, downgrade and grace -------------------------------------------------------------


def test_tier_is_kept_at_review_when_the_window_reaches_the_threshold() -> None:
    ladder = make_ladder()
    start = datetime(2024, 4, 15, tzinfo=UTC)
    activity = [earn(1000, start), earn(1000, datetime(2025, 1, 1, tzinfo=UTC))]
    silver = upgraded(ladder, activity, start)
    decision = evaluate(ladder, silver, activity, datetime(2025, 4, 16, tzinfo=UTC))
    assert decision.outcome is Outcome.KEEP
    assert decision.transitions[0].cause is Cause.REVIEW_PASSED
    assert decision.transitions[0].at == datetime(2025, 4, 15, tzinfo=UTC)
    assert decision.membership.period_start == datetime(2025, 4, 15, tzinfo=UTC)
    assert decision.membership.review_at == datetime(2026, 4, 15, tzinfo=UTC)


def test_downgrade_happens_only_at_the_review_date() -> None:
    ladder = make_ladder()
    start = datetime(2024, 4, 15, tzinfo=UTC)
    silver = upgraded(ladder, [earn(1000, start)], start)
    just_before = evaluate(ladder, silver, [earn(1000, start)], datetime(2025, 4, 14, tzinfo=UTC))
    assert just_before.outcome is Outcome.KEEP
    assert not just_before.changed
    at_review = evaluate(ladder, silver, [earn(1000, start)], datetime(2025, 4, 15, tzinfo=UTC))
    assert at_review.outcome is Outcome.DOWNGRADE
    assert at_review.membership.tier_code == "member"
    assert at_review.membership.review_at is None


def test_the_activity_that_earned_a_tier_does_not_count_toward_keeping_it() -> None:
    ladder = make_ladder()
    start = datetime(2024, 4, 15, tzinfo=UTC)
    review = datetime(2025, 4, 15, tzinfo=UTC)
    silver = upgraded(ladder, [earn(1000, start)], start)
    assert evaluate(ladder, silver, [earn(1000, start)], review).outcome is Outcome.DOWNGRADE
    # activity on the review instant still counts for that review
    kept = evaluate(ladder, silver, [earn(1000, start), earn(1000, review)], review)
    assert kept.transitions[0].cause is Cause.REVIEW_PASSED


def test_downgrade_goes_one_step_by_default() -> None:
    ladder = make_ladder()
    start = datetime(2024, 4, 15, tzinfo=UTC)
    gold = upgraded(ladder, [earn(5000, start)], start)
    decision = evaluate(ladder, gold, [earn(5000, start)], datetime(2025, 4, 15, tzinfo=UTC))
    assert decision.membership.tier_code == "silver"
    assert decision.membership.review_at == datetime(2026, 4, 15, tzinfo=UTC)


def test_downgrade_to_the_level_qualified_when_the_ladder_says_so() -> None:
    ladder = make_ladder(downgrade=DowngradeTo.QUALIFIED)
    start = datetime(2024, 4, 15, tzinfo=UTC)
    gold = upgraded(ladder, [earn(5000, start)], start)
    decision = evaluate(ladder, gold, [earn(5000, start)], datetime(2025, 4, 15, tzinfo=UTC))
    assert decision.membership.tier_code == "member"


def test_missed_reviews_are_processed_at_their_own_dates() -> None:
    ladder = make_ladder()
    start = datetime(2024, 4, 15, tzinfo=UTC)
    gold = upgraded(ladder, [earn(5000, start)], start)
    decision = evaluate(ladder, gold, [earn(5000, start)], datetime(2027, 1, 1, tzinfo=UTC))
    assert [(t.at.year, t.to_code) for t in decision.transitions] == [
        (2025, "silver"),
        (2026, "member"),
    ]
    assert decision.outcome is Outcome.DOWNGRADE


def test_grace_delays_the_downgrade_and_grace_activity_keeps_the_tier() -> None:
    ladder = make_ladder(grace_days=30)
    start = datetime(2024, 4, 15, tzinfo=UTC)
    review = datetime(2025, 4, 15, tzinfo=UTC)
    activity = [earn(1000, start), earn(600, datetime(2024, 12, 1, tzinfo=UTC))]
    silver = upgraded(ladder, activity[:1], start)
    in_grace = evaluate(ladder, silver, activity, review + timedelta(days=1))
    assert in_grace.outcome is Outcome.GRACE
    assert in_grace.membership.tier_code == "silver"
    assert in_grace.membership.grace_until == review + timedelta(days=30)
    activity.append(earn(400, review + timedelta(days=10)))
    kept = evaluate(ladder, in_grace.membership, activity, review + timedelta(days=10))
    assert kept.outcome is Outcome.KEEP
    assert kept.transitions[0].cause is Cause.GRACE_REQUALIFIED
    # the clock does not move for grace: the next window starts at the review date
    assert kept.membership.review_at == datetime(2026, 4, 15, tzinfo=UTC)
    assert kept.membership.grace_until is None


def test_grace_end_without_requalification_downgrades_at_the_grace_date() -> None:
    ladder = make_ladder(grace_days=30)
    start = datetime(2024, 4, 15, tzinfo=UTC)
    review = datetime(2025, 4, 15, tzinfo=UTC)
    silver = upgraded(ladder, [earn(1000, start)], start)
    in_grace = evaluate(ladder, silver, [earn(1000, start)], review).membership
    decision = evaluate(ladder, in_grace, [earn(1000, start)], review + timedelta(days=45))
    assert decision.outcome is Outcome.DOWNGRADE
    assert decision.transitions[0].cause is Cause.GRACE_ENDED
    assert decision.transitions[0].at == review + timedelta(days=30)


def test_calendar_year_counts_since_january_first_in_the_ladder_timezone() -> None:
    ladder = make_ladder(window=Window(WindowKind.CALENDAR_YEAR), timezone="Europe/Paris")
    new_year_in_paris = datetime(2025, 12, 31, 23, 30, tzinfo=UTC)  # 00:30 on 1 January
    activity = [earn(900, datetime(2025, 6, 1, tzinfo=UTC)), earn(200, new_year_in_paris)]
    state = member(ladder)
    assert qualifying_amount(ladder, state, activity, new_year_in_paris) == 200
    assert evaluate(ladder, state, activity, new_year_in_paris).outcome is Outcome.KEEP


def test_calendar_year_status_is_held_through_the_next_full_year_and_judged_on_it() -> None:
    ladder = make_ladder(window=Window(WindowKind.CALENDAR_YEAR))
    at = datetime(2025, 11, 20, tzinfo=UTC)
    silver = upgraded(ladder, [earn(1000, at)], at)
    assert (silver.period_start, silver.review_at) == (
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    activity = [earn(1000, at), earn(1000, datetime(2026, 7, 1, tzinfo=UTC))]
    decision = evaluate(ladder, silver, activity, datetime(2027, 1, 2, tzinfo=UTC))
    assert decision.transitions[0].cause is Cause.REVIEW_PASSED
    assert decision.membership.review_at == datetime(2028, 1, 1, tzinfo=UTC)


def test_anniversary_window_counts_the_membership_year_from_the_join_date() -> None:
    ladder = make_ladder(window=Window(WindowKind.ANNIVERSARY))
    state = member(ladder)  # joined 5 January 2024
    after_anniversary = JOIN.replace(2025) + timedelta(hours=1)
    activity = [earn(800, datetime(2024, 12, 20, tzinfo=UTC)), earn(300, after_anniversary)]
    assert qualifying_amount(ladder, state, activity, after_anniversary) == 300
    silver = upgraded(ladder, [*activity, earn(700, JOIN.replace(2025, 3))], JOIN.replace(2025, 3))
    # the upgrade moves the anniversary to the upgrade date
    assert silver.review_at == JOIN.replace(2026, 3)


def test_anniversary_of_a_leap_day_does_not_drift() -> None:
    ladder = make_ladder(window=Window(WindowKind.ANNIVERSARY))
    leap = datetime(2024, 2, 29, 12, tzinfo=UTC)
    silver = upgraded(
        ladder, [earn(1000, leap), earn(1000, datetime(2025, 1, 1, tzinfo=UTC))], leap
    )
    activity = [
        earn(1000, leap),
        earn(1000, datetime(2025, 1, 1, tzinfo=UTC)),
        earn(1000, datetime(2026, 1, 1, tzinfo=UTC)),
        earn(1000, datetime(2027, 1, 1, tzinfo=UTC)),
    ]
    decision = evaluate(ladder, silver, activity, datetime(2028, 3, 1, tzinfo=UTC))
    assert [t.at for t in decision.transitions] == [
        datetime(2025, 2, 28, 12, tzinfo=UTC),
        datetime(2026, 2, 28, 12, tzinfo=UTC),
        datetime(2027, 2, 28, 12, tzinfo=UTC),
        datetime(2028, 2, 29, 12, tzinfo=UTC),
    ]


def test_lifetime_tiers_have_no_review() -> None:
    ladder = make_ladder(window=Window(WindowKind.LIFETIME))
    silver = upgraded(ladder, [earn(1000, JOIN)], JOIN)
    assert silver.review_at is None
    decision = evaluate(ladder, silver, [earn(1000, JOIN)], JOIN + timedelta(days=3650))
    assert decision.outcome is Outcome.KEEP
    assert not decision.changed


# -- returns ---------------------------------------------------------------------------------


def test_return_of_the_order_that_caused_the_upgrade_requalifies_at_once() -> None:
    ladder = make_ladder()
    first, second = datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 10, tzinfo=UTC)
    activity = [earn(700, first, "o-1"), earn(500, second, "o-2")]
    silver = upgraded(ladder, activity, second)
    assert silver.upgrade_order_ref == "o-2"
    activity.append(clawback(500, second, "o-2"))
    decision = evaluate(ladder, silver, activity, second + timedelta(days=5))
    assert decision.outcome is Outcome.DOWNGRADE
    assert decision.transitions[0].cause is Cause.RETURN_UNDID_UPGRADE
    assert decision.membership == silver.before_upgrade


def test_return_of_another_order_waits_for_the_review() -> None:
    ladder = make_ladder()
    first, second = datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 10, tzinfo=UTC)
    activity = [earn(700, first, "o-1"), earn(500, second, "o-2")]
    silver = upgraded(ladder, activity, second)
    activity.append(clawback(700, first, "o-1"))
    decision = evaluate(ladder, silver, activity, second + timedelta(days=5))
    assert decision.outcome is Outcome.KEEP
    at_review = evaluate(ladder, silver, activity, datetime(2025, 3, 10, tzinfo=UTC))
    assert at_review.outcome is Outcome.DOWNGRADE


def test_return_after_the_return_window_waits_for_the_review() -> None:
    ladder = make_ladder(return_window_days=14)
    at = datetime(2024, 3, 10, tzinfo=UTC)
    activity = [earn(1000, at, "o-1")]
    silver = upgraded(ladder, activity, at)
    activity.append(clawback(1000, at, "o-1"))
    assert evaluate(ladder, silver, activity, at + timedelta(days=15)).outcome is Outcome.KEEP


def test_ladders_can_judge_returns_only_at_review() -> None:
    ladder = make_ladder(on_return=OnReturn.AT_REVIEW)
    at = datetime(2024, 3, 10, tzinfo=UTC)
    activity = [earn(1000, at, "o-1")]
    silver = upgraded(ladder, activity, at)
    activity.append(clawback(1000, at, "o-1"))
    assert evaluate(ladder, silver, activity, at + timedelta(days=1)).outcome is Outcome.KEEP


def test_a_partial_return_that_still_reaches_the_threshold_keeps_the_tier() -> None:
    ladder = make_ladder()
    at = datetime(2024, 3, 10, tzinfo=UTC)
    activity = [earn(1300, at, "o-1")]
    silver = upgraded(ladder, activity, at)
    activity.append(clawback(300, at, "o-1"))
    decision = evaluate(ladder, silver, activity, at + timedelta(days=2))
    assert decision.outcome is Outcome.KEEP
    assert "still reach Silver" in decision.reasons[0]


def test_undoing_a_double_jump_lands_on_the_level_still_reached() -> None:
    ladder = make_ladder()
    at = datetime(2024, 3, 10, tzinfo=UTC)
    activity = [earn(3000, at - timedelta(days=1), "o-1"), earn(2500, at, "o-2")]
    silver = upgraded(ladder, activity[:1], at - timedelta(days=1))
    gold = evaluate(ladder, silver, activity, at).membership
    assert gold.tier_code == "gold"
    activity.append(clawback(2500, at, "o-2"))
    decision = evaluate(ladder, gold, activity, at + timedelta(days=1))
    # back to silver with silver's own clock (only the last upgrade is remembered)
    assert decision.membership == replace(silver, before_upgrade=None)


def test_a_return_counts_in_the_window_of_its_order_not_of_the_return() -> None:
    ladder = make_ladder(window=Window(WindowKind.CALENDAR_YEAR))
    december, january = datetime(2025, 12, 20, tzinfo=UTC), datetime(2026, 1, 5, tzinfo=UTC)
    activity = [earn(1000, december, "o-1"), earn(400, january), clawback(600, december, "o-1")]
    state = member(ladder)
    assert qualifying_amount(ladder, state, activity, december + timedelta(days=1)) == 400
    assert qualifying_amount(ladder, state, activity, january) == 400


def test_a_return_undoes_an_upgrade_across_the_new_year() -> None:
    ladder = make_ladder(window=Window(WindowKind.CALENDAR_YEAR))
    december, january = datetime(2025, 12, 20, tzinfo=UTC), datetime(2026, 1, 5, tzinfo=UTC)
    activity = [earn(1000, december, "o-1")]
    silver = upgraded(ladder, activity, december)
    activity.append(clawback(1000, december, "o-1"))
    decision = evaluate(ladder, silver, activity, january)
    assert decision.membership.tier_code == "member"
    assert decision.transitions[0].cause is Cause.RETURN_UNDID_UPGRADE


# -- ladder changes --------------------------------------------------------------------------


def test_config_change_never_downgrades_on_save() -> None:
    old = make_ladder()
    at = datetime(2024, 3, 10, tzinfo=UTC)
    silver = upgraded(old, [earn(1000, at)], at)
    harder = replace(old, levels=(LEVELS[0], replace(LEVELS[1], threshold=3000), LEVELS[2]))
    decision = apply_ladder_change(old, harder, silver, [earn(1000, at)], at + timedelta(days=1))
    assert decision.membership.tier_code == "silver"
    assert not decision.changed
    # the new threshold applies at the review
    review = evaluate(harder, silver, [earn(1000, at)], datetime(2025, 3, 10, tzinfo=UTC))
    assert review.outcome is Outcome.DOWNGRADE


def test_config_change_upgrades_at_once_under_lower_thresholds() -> None:
    old = make_ladder()
    at = datetime(2024, 3, 10, tzinfo=UTC)
    easier = replace(old, levels=(LEVELS[0], replace(LEVELS[1], threshold=500), LEVELS[2]))
    decision = apply_ladder_change(old, easier, member(old), [earn(600, at)], at)
    assert decision.outcome is Outcome.UPGRADE


def test_removing_a_level_is_refused_and_retiring_it_keeps_members_until_review() -> None:
    old = make_ladder()
    at = datetime(2024, 3, 10, tzinfo=UTC)
    gold = upgraded(old, [earn(5000, at)], at)
    with pytest.raises(LevelRemoved) as caught:
        apply_ladder_change(old, replace(old, levels=LEVELS[:2]), gold, [], at)
    assert "mark it retired" in caught.value.problems[0].message
    retired = replace(old, levels=(*LEVELS[:2], replace(LEVELS[2], retired=True)))
    assert not apply_ladder_change(old, retired, gold, [earn(5000, at)], at).changed
    # nobody new reaches a retired level
    assert evaluate(retired, member(old), [earn(9000, at)], at).membership.tier_code == "silver"
    review = evaluate(retired, gold, [earn(5000, at)], datetime(2025, 3, 10, tzinfo=UTC))
    assert review.membership.tier_code == "silver"


def test_a_tier_without_review_gets_one_when_the_ladder_leaves_lifetime() -> None:
    old = make_ladder(window=Window(WindowKind.LIFETIME))
    at = datetime(2024, 3, 10, tzinfo=UTC)
    silver = upgraded(old, [earn(1000, at)], at)
    new = make_ladder(window=Window(WindowKind.CALENDAR_YEAR))
    decision = apply_ladder_change(
        old, new, silver, [earn(1000, at)], datetime(2025, 6, 1, tzinfo=UTC)
    )
    assert decision.membership.tier_code == "silver"
    assert decision.membership.review_at == datetime(2027, 1, 1, tzinfo=UTC)  # a full year


# -- progress --------------------------------------------------------------------------------


def test_progress_says_what_is_missing_for_the_next_level_and_to_keep_the_tier() -> None:
    ladder = make_ladder()
    at = datetime(2024, 3, 10, tzinfo=UTC)
    activity = [earn(1200, at)]
    silver = upgraded(ladder, activity, at)
    activity.append(earn(300, at + timedelta(days=400)))
    now = at + timedelta(days=30)
    view = progress(ladder, silver, activity, now)
    assert view.amount == 1200
    assert view.next is not None
    assert view.next.text == "3800 points to Gold"
    assert view.keep is not None  # the points that earned Silver do not keep it
    assert (view.keep.counted, view.keep.remaining) == (0, 1000)
    assert view.keep.text == "1000 points to keep Silver by 2025-03-10"
    activity.append(earn(1000, at + timedelta(days=20)))
    kept = progress(ladder, silver, activity, now).keep
    assert kept is not None
    assert kept.text == "Silver is kept at the review on 2025-03-10"
    member_view = progress(ladder, member(ladder), [earn(250, at)], now)
    assert member_view.next is not None
    assert member_view.next.remaining == 750
    assert member_view.keep is None


def test_progress_on_a_spend_ladder_speaks_money_and_a_deadline() -> None:
    ladder = make_ladder(basis=Basis.SPEND, currency="EUR", window=Window(WindowKind.CALENDAR_YEAR))
    at = datetime(2025, 5, 1, tzinfo=UTC)
    spend = [Activity(ActivityKind.SPEND, 550, at, currency="EUR")]
    view = progress(ladder, member(ladder), spend, at)
    assert view.unit == "EUR"
    assert view.next is not None
    assert view.next.text == "4.50 EUR to Silver before 2026-01-01"


def test_progress_to_keep_a_tier_counts_the_window_under_review() -> None:
    ladder = make_ladder(window=Window(WindowKind.CALENDAR_YEAR))
    at = datetime(2025, 11, 20, tzinfo=UTC)
    silver = upgraded(ladder, [earn(1000, at)], at)
    activity = [earn(1000, at), earn(400, datetime(2026, 2, 1, tzinfo=UTC))]
    view = progress(ladder, silver, activity, datetime(2026, 3, 1, tzinfo=UTC))
    assert view.keep is not None
    assert (view.keep.counted, view.keep.remaining) == (400, 600)
    assert view.keep.text == "600 points to keep Silver by 2027-01-01"


# -- loading ---------------------------------------------------------------------------------

LADDER_DATA: dict[str, Any] = {
    "code": "club",
    "name": "Club",
    "basis": "points",
    "window": {"kind": "rolling", "months": 12},
    "timezone": "Europe/Paris",
    "downgrade": "one_step",
    "grace_days": 30,
    "levels": [
        {"code": "member", "name": "Member", "threshold": 0},
        {
            "code": "silver",
            "name": "Silver",
            "threshold": 1000,
            "benefits": {
                "earn_multiplier": "1.25",
                "discount_percent": "5",
                "reward_tags": ["vip"],
            },
        },
        {"code": "gold", "name": "Gold", "threshold": 5000, "benefits": {"free_shipping": True}},
    ],
}


def test_a_ladder_loads_from_its_json_form() -> None:
    ladder = load_ladder(LADDER_DATA)
    assert ladder.grace_days == 30
    assert ladder.levels[1].benefits.reward_tags == frozenset({"vip"})
    assert ladder.levels[1].benefits.discount_percent == Decimal(5)
    assert ladder.on_return is OnReturn.REQUALIFY_AT_ONCE
    # a JSON float is read through its shortest text, never its binary expansion
    floats = load_ladder(with_level(1, benefits={"earn_multiplier": 1.1}))
    assert floats.levels[1].benefits.earn_multiplier == Decimal("1.1")


def pointers(data: dict[str, Any]) -> list[str]:
    with pytest.raises(InvalidLadder) as caught:
        load_ladder(data)
    return [problem.pointer for problem in caught.value.problems]


def with_level(index: int, **changes: Any) -> dict[str, Any]:
    levels = [dict(level) for level in LADDER_DATA["levels"]]
    levels[index].update(changes)
    return {**LADDER_DATA, "levels": levels}


def test_thresholds_must_strictly_increase_and_the_error_points_at_the_field() -> None:
    assert pointers(with_level(2, threshold=1000)) == ["/levels/2/threshold"]


def test_a_ladder_has_exactly_one_base_level_at_zero() -> None:
    assert pointers(with_level(0, threshold=10)) == ["/levels/0/threshold"]
    assert pointers(with_level(1, threshold=0)) == ["/levels/1/threshold"]
    assert pointers({**LADDER_DATA, "levels": []}) == ["/levels"]


def test_ladder_field_problems_are_all_reported_with_pointers() -> None:
    data = with_level(1, treshold=1200, benefits={"earn_multiplier": "lots"})
    data["basis"] = "balance"
    assert sorted(pointers(data)) == [
        "/basis",
        "/levels/1/benefits/earn_multiplier",
        "/levels/1/treshold",
    ]


def test_ladder_semantics_are_checked_with_pointers() -> None:
    assert pointers(with_level(2, code="silver")) == ["/levels/2/code"]
    assert pointers({**LADDER_DATA, "basis": "spend"}) == ["/currency"]
    assert pointers({**LADDER_DATA, "window": {"kind": "rolling"}}) == ["/window/months"]
    assert pointers({**LADDER_DATA, "window": {"kind": "lifetime", "months": 3}}) == [
        "/window/months"
    ]
    assert pointers({**LADDER_DATA, "timezone": "Mars/Olympus"}) == ["/timezone"]
    assert pointers(with_level(0, retired=True)) == ["/levels/0/retired"]
    assert pointers(with_level(1, benefits={"discount_percent": "150"})) == [
        "/levels/1/benefits/discount_percent"
    ]


# -- properties ------------------------------------------------------------------------------

STEP = st.tuples(
    st.integers(min_value=0, max_value=120),  # days after the previous event
    st.integers(min_value=0, max_value=3000),  # points earned (0: a mere evaluation)
    st.booleans(),  # returns that order right after
)


@st.composite
def ladders(draw: st.DrawFn) -> TierLadder:
    kind = draw(st.sampled_from(WindowKind))
    return make_ladder(
        window=Window(kind, draw(st.integers(1, 24)) if kind is WindowKind.ROLLING else None),
        downgrade=draw(st.sampled_from(DowngradeTo)),
        grace_days=draw(st.sampled_from([0, 15, 60])),
        on_return=draw(st.sampled_from(OnReturn)),
    )


@settings(max_examples=150, deadline=None)
@given(ladder=ladders(), steps=st.lists(STEP, max_size=25))
def test_a_tier_only_changes_by_upgrade_review_grace_end_or_return(
    ladder: TierLadder, steps: list[tuple[int, int, bool]]
) -> None:
    state, now, activity = member(ladder), JOIN, []
    for number, (gap, points, returned) in enumerate(steps):
        now += timedelta(days=gap)
        order = f"o-{number}"
        if points:
            activity.append(earn(points, now, order))
        decision = evaluate(ladder, state, activity, now)
        for transition in decision.transitions:
            assert transition.at <= now
            if transition.outcome is Outcome.DOWNGRADE:
                assert transition.cause in {
                    Cause.REVIEW_FAILED,
                    Cause.GRACE_ENDED,
                    Cause.RETURN_UNDID_UPGRADE,
                }
            if transition.outcome is Outcome.UPGRADE:
                assert transition.at == now
        final = decision.membership
        level = ladder.level(final.tier_code)
        if ladder.rank(level.code) == 0 or ladder.window.kind is WindowKind.LIFETIME:
            assert final.review_at is None
        else:
            assert final.review_at is not None
            assert final.review_at > now or final.grace_until is not None
        if decision.outcome is Outcome.UPGRADE:
            # judged in the window before the upgrade (an anniversary window restarts at it)
            assert qualifying_amount(ladder, state, activity, now) >= level.threshold
        # the shortcut from the window's amount, when it answers, answers the same
        settled = settled_from(ladder, state, activity, now)
        assert settled is None or settled == decision
        # evaluating again at the same instant changes nothing
        assert not evaluate(ladder, final, activity, now).changed
        # and the activity before activity_needed_since is irrelevant
        since = activity_needed_since(ladder, state, now)
        if since is not None:
            recent = [entry for entry in activity if entry.at > since]
            assert evaluate(ladder, state, recent, now) == decision
        state = final
        if returned and points:
            activity.append(clawback(points, now, order))
            undo = evaluate(ladder, state, activity, now)
            assert undo.outcome in {Outcome.KEEP, Outcome.DOWNGRADE, Outcome.GRACE}
            state = undo.membership


@settings(max_examples=100, deadline=None)
@given(
    ladder=ladders(),
    earned=st.lists(st.tuples(st.integers(0, 700), st.integers(0, 5000)), max_size=12),
    spent=st.lists(st.tuples(st.integers(0, 700), st.integers(1, 5000)), max_size=12),
    days=st.integers(0, 900),
)
def test_redeemed_and_expired_points_never_change_the_decision(
    ladder: TierLadder, earned: list[tuple[int, int]], spent: list[tuple[int, int]], days: int
) -> None:
    activity = [earn(points, JOIN + timedelta(days=day)) for day, points in earned]
    noise = [
        Activity(kind, points, JOIN + timedelta(days=day))
        for index, (day, points) in enumerate(spent)
        for kind in [ActivityKind.REDEEM if index % 2 else ActivityKind.EXPIRE]
    ]
    now = JOIN + timedelta(days=days)
    plain = evaluate(ladder, member(ladder), activity, now)
    assert evaluate(ladder, member(ladder), activity + noise, now) == plain


@settings(max_examples=100, deadline=None)
@given(
    thresholds=st.lists(st.integers(1, 10_000), min_size=2, max_size=2, unique=True),
    new_thresholds=st.lists(st.integers(1, 10_000), min_size=2, max_size=2, unique=True),
    earned=st.integers(0, 12_000),
    later=st.integers(0, 12_000),
)
def test_config_change_never_lowers_anyone(
    thresholds: list[int], new_thresholds: list[int], earned: int, later: int
) -> None:
    def ladder_with(values: list[int]) -> TierLadder:
        low, high = sorted(values)
        return make_ladder(
            levels=(
                LEVELS[0],
                replace(LEVELS[1], threshold=low),
                replace(LEVELS[2], threshold=high),
            )
        )

    old, new = ladder_with(thresholds), ladder_with(new_thresholds)
    at = datetime(2024, 3, 10, tzinfo=UTC)
    state = evaluate(old, member(old), [earn(earned, at)], at).membership
    activity = [earn(earned, at), earn(later, at + timedelta(days=1))]
    decision = apply_ladder_change(old, new, state, activity, at + timedelta(days=1))
    assert new.rank(decision.membership.tier_code) >= new.rank(state.tier_code)
    assert decision.outcome in {Outcome.KEEP, Outcome.UPGRADE}


def settled_from(
    ladder: TierLadder, state: Membership, activity: list[Activity], at: datetime
) -> TierDecision | None:
    """``settled_decision`` from the two facts the database gives the earning path: the
    window's amount, and whether the last upgrade's order has a counted clawback."""
    returned = any(
        entry.kind is ActivityKind.CLAWBACK
        and entry.order_ref == state.upgrade_order_ref
        and (ladder.count_pending or not entry.pending)
        for entry in activity
    )
    amount = qualifying_amount(ladder, state, activity, at)
    return settled_decision(ladder, state, amount, at, upgrade_returned=returned)


@settings(max_examples=200, deadline=None)
@given(
    ladder=ladders(),
    steps=st.lists(STEP, max_size=20),
    pending=st.lists(st.booleans(), max_size=20),
    later=st.integers(0, 800),
)
def test_the_settled_shortcut_agrees_with_a_full_evaluation_whenever_it_answers(
    ladder: TierLadder, steps: list[tuple[int, int, bool]], pending: list[bool], later: int
) -> None:
    state, now, activity = member(ladder), JOIN, []
    for number, (gap, points, returned) in enumerate(steps):
        now += timedelta(days=gap)
        held = number < len(pending) and pending[number]
        if points:
            activity.append(earn(points, now, f"o-{number}", pending=held))
        if returned and points:
            activity.append(
                Activity(ActivityKind.CLAWBACK, points // 2, now, f"o-{number}", pending=held)
            )
        for at in (now, now + timedelta(days=later)):
            full = evaluate(ladder, state, activity, at)
            settled = settled_from(ladder, state, activity, at)
            if settled is not None:
                assert settled == full
                assert not settled.changed
        state = evaluate(ladder, state, activity, now).membership


def test_the_settled_shortcut_declines_when_more_than_the_window_matters() -> None:
    ladder = make_ladder(grace_days=30)
    gold = upgraded(ladder, [earn(6000, JOIN, "o-1")], JOIN)
    soon = JOIN + timedelta(days=1)
    # the upgrade's order was returned within the return window: a full evaluation decides
    assert settled_decision(ladder, gold, 0, soon, upgrade_returned=True) is None
    assert settled_decision(ladder, gold, 0, soon, upgrade_returned=False) is not None
    later = JOIN + timedelta(days=ladder.return_window_days + 1)
    kept = settled_decision(ladder, gold, 0, later, upgrade_returned=True)
    assert kept is not None
    assert kept.outcome is Outcome.KEEP
    assert not kept.changed
    assert gold.review_at is not None
    due = gold.review_at
    assert settled_decision(ladder, gold, 0, due, upgrade_returned=False) is None  # review due
    in_grace = replace(gold, grace_until=due + timedelta(days=30))
    assert settled_decision(ladder, in_grace, 0, later, upgrade_returned=False) is None
    base = member(ladder)
    assert settled_decision(ladder, base, 999, JOIN, upgrade_returned=False) is not None
    # reaches Silver
    assert settled_decision(ladder, base, 1000, JOIN, upgrade_returned=False) is None
