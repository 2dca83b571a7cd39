"""Caps, budgets, exclusive groups and precedence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fidela.loyalty.rules import (
    PROGRAMME,
    CapKind,
    CounterKey,
    Counters,
    Member,
    MemberEvent,
    Order,
    OrderLine,
    Period,
    RuleSet,
    bucket,
    counters_needed,
    evaluate,
    load_rule_set,
)

T0 = datetime(2026, 11, 4, 9, 0, tzinfo=UTC)  # Wednesday, ISO week 45


def rules(*items: dict[str, Any], **top: Any) -> RuleSet:
    return load_rule_set(
        {"currency": "EUR", "timezone": "Europe/Paris", "rules": list(items), **top}
    )


def purchase(amount: int, at: datetime = T0, customer: int = 7) -> Order:
    return Order("o", customer, "EUR", at, [OrderLine(1, "p", amount)])


def test_period_buckets_are_calendar_periods_in_local_time() -> None:
    local = datetime(2027, 1, 1, 0, 30, tzinfo=UTC)  # a Friday, still in ISO week 2026-W53
    assert bucket(Period.DAY, local) == "day:2027-01-01"
    assert bucket(Period.WEEK, local) == "week:2026-W53"
    assert bucket(Period.MONTH, local) == "month:2027-01"
    assert bucket(Period.YEAR, local) == "year:2027"
    assert bucket(Period.EVER, local) == "ever"


def test_rule_cap_per_member_per_day_reduces_the_award_and_says_so() -> None:
    rule_set = rules(
        {"id": "base", "kind": "spend", "rate": "1", "caps": [{"period": "day", "max_points": 100}]}
    )
    used = Counters(points={CounterKey("base", "day:2026-11-04"): 70})
    result = evaluate(rule_set, purchase(5000), counters=used)
    award = result.awards[0]
    assert (award.points, award.uncapped_points) == (30, 50)
    hit = award.capped_by[0]
    assert (hit.kind, hit.period, hit.limit, hit.left) == (CapKind.RULE_CAP, Period.DAY, 100, 30)
    assert result.usage.points == {CounterKey("base", "day:2026-11-04"): 30}


def test_a_cap_already_reached_yields_a_zero_award_that_lists_the_cap() -> None:
    rule_set = rules(
        {
            "id": "base",
            "kind": "spend",
            "rate": "1",
            "caps": [{"period": "week", "max_points": 100}],
        }
    )
    used = Counters(points={CounterKey("base", "week:2026-W45"): 100})
    result = evaluate(rule_set, purchase(5000), counters=used)
    assert result.total_points == 0
    assert result.awards[0].capped
    assert result.usage == Counters()


def test_a_new_period_starts_with_the_whole_cap() -> None:
    rule_set = rules(
        {
            "id": "base",
            "kind": "spend",
            "rate": "1",
            "caps": [{"period": "month", "max_points": 100}],
        }
    )
    used = Counters(points={CounterKey("base", "month:2026-11"): 100})
    december = purchase(5000, datetime(2026, 12, 1, 9, tzinfo=UTC))
    assert evaluate(rule_set, december, counters=used).total_points == 50


def test_programme_member_cap_is_shared_by_all_rules_in_precedence_order() -> None:
    rule_set = rules(
        {"id": "base", "kind": "spend", "rate": "1"},
        {"id": "bonus", "kind": "spend", "rate": "1", "priority": 10},
        member_caps=[{"period": "day", "max_points": 80}],
    )
    result = evaluate(rule_set, purchase(5000))
    assert [(a.rule_id, a.points) for a in result.awards] == [("bonus", 50), ("base", 30)]
    hit = result.awards[1].capped_by[0]
    assert (hit.kind, hit.left) == (CapKind.MEMBER_CAP, 30)
    assert result.usage.points == {CounterKey(PROGRAMME, "day:2026-11-04"): 80}


def test_rule_budget_limits_the_points_a_rule_issues_to_all_members() -> None:
    rule_set = rules({"id": "launch", "kind": "spend", "rate": "1", "budget": 1000})
    result = evaluate(rule_set, purchase(5000), counters=Counters(budget_used={"launch": 980}))
    award = result.awards[0]
    assert award.points == 20
    assert award.capped_by[0].kind is CapKind.BUDGET
    assert result.usage.budget_used == {"launch": 20}


def test_the_smallest_room_left_wins_and_every_biting_cap_is_listed() -> None:
    rule_set = rules(
        {
            "id": "base",
            "kind": "spend",
            "rate": "1",
            "caps": [{"period": "day", "max_points": 40}, {"period": "month", "max_points": 1000}],
            "budget": 30,
        },
        member_caps=[{"period": "day", "max_points": 45}],
    )
    award = evaluate(rule_set, purchase(5000)).awards[0]
    assert award.points == 30
    assert {hit.kind for hit in award.capped_by} == {
        CapKind.RULE_CAP,
        CapKind.MEMBER_CAP,
        CapKind.BUDGET,
    }


def test_a_use_limit_is_not_used_up_by_an_award_capped_to_nothing() -> None:
    rule_set = rules(
        {
            "id": "review",
            "kind": "event",
            "event": "review.posted",
            "points": 20,
            "limit": {"times": 5, "per": "month"},
        },
        member_caps=[{"period": "day", "max_points": 20}],
    )
    full_day = Counters(points={CounterKey(PROGRAMME, "day:2026-11-04"): 20})
    review = MemberEvent("e", 7, "review.posted", T0)
    result = evaluate(rule_set, review, counters=full_day)
    assert result.total_points == 0
    assert result.usage.awards == {}


def test_exclusive_group_applies_only_the_highest_priority_applying_rule() -> None:
    rule_set = rules(
        {"id": "welcome", "kind": "spend", "rate": "3", "group": "promo", "priority": 5},
        {"id": "big-basket", "kind": "spend", "rate": "5", "group": "promo", "priority": 1},
        {"id": "base", "kind": "spend", "rate": "1"},
    )
    result = evaluate(rule_set, purchase(1000))
    assert [(a.rule_id, a.points) for a in result.awards] == [("welcome", 30), ("base", 10)]


def test_a_rule_that_does_not_apply_leaves_its_group_to_the_next() -> None:
    rule_set = rules(
        {
            "id": "shoes",
            "kind": "spend",
            "rate": "3",
            "group": "promo",
            "priority": 5,
            "lines": {"categories": ["shoes"]},
        },
        {"id": "anything", "kind": "spend", "rate": "2", "group": "promo"},
    )
    assert [a.rule_id for a in evaluate(rule_set, purchase(1000)).awards] == ["anything"]


def test_equal_priorities_in_a_group_are_decided_by_rule_id_never_by_listing_order() -> None:
    first = {"id": "b-offer", "kind": "spend", "rate": "5", "group": "promo"}
    second = {"id": "a-offer", "kind": "spend", "rate": "2", "group": "promo"}
    for listing in ([first, second], [second, first]):
        awards = evaluate(rules(*listing), purchase(1000)).awards
        assert [(a.rule_id, a.points) for a in awards] == [("a-offer", 20)]


def test_a_capped_group_winner_does_not_hand_over_to_the_next_rule() -> None:
    rule_set = rules(
        {"id": "promo-a", "kind": "spend", "rate": "2", "group": "g", "priority": 2, "budget": 0},
        {"id": "promo-b", "kind": "spend", "rate": "1", "group": "g", "priority": 1},
    )
    result = evaluate(rule_set, purchase(1000))
    assert [(a.rule_id, a.points) for a in result.awards] == [("promo-a", 0)]


def test_a_punch_card_that_loses_its_group_does_not_count_a_punch() -> None:
    rule_set = rules(
        {"id": "double", "kind": "spend", "rate": "2", "group": "g", "priority": 1},
        {"id": "card", "kind": "punch_card", "every": 5, "points": 10, "group": "g"},
    )
    result = evaluate(rule_set, purchase(1000))
    assert result.punch_cards == ()
    assert result.usage.punches == {}


def test_counters_needed_lists_the_keys_of_the_event_in_the_member_calendar() -> None:
    rule_set = rules(
        {"id": "base", "kind": "spend", "rate": "1", "caps": [{"period": "day", "max_points": 9}]},
        {"id": "card", "kind": "punch_card", "every": 5, "points": 10, "budget": 100},
        {
            "id": "review",
            "kind": "event",
            "event": "review.posted",
            "points": 5,
            "limit": {"times": 5, "per": "month"},
        },
        member_caps=[{"period": "week", "max_points": 500}],
    )
    late = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)  # 1 December in Paris
    needs = counters_needed(rule_set, purchase(100, late), Member())
    assert needs.points == {
        CounterKey("base", "day:2026-12-01"),
        CounterKey(PROGRAMME, "week:2026-W49"),
    }
    assert needs.awards == frozenset()
    assert needs.punches == {"card"}
    assert needs.budgets == {"card"}
    review = MemberEvent("e", 7, "review.posted", late)
    in_new_york = counters_needed(rule_set, review, Member(timezone="America/New_York"))
    assert in_new_york.awards == {CounterKey("review", "month:2026-11")}
    assert in_new_york.punches == frozenset()


def test_counters_carried_across_events_keep_a_daily_cap_over_several_orders() -> None:
    rule_set = rules(
        {"id": "base", "kind": "spend", "rate": "1"},
        member_caps=[{"period": "day", "max_points": 100}],
    )
    counters = Counters()
    granted = []
    for hour in range(4):
        result = evaluate(rule_set, purchase(4000, T0 + timedelta(hours=hour)), counters=counters)
        counters = counters.plus(result.usage)
        granted.append(result.total_points)
    assert granted == [40, 40, 20, 0]
