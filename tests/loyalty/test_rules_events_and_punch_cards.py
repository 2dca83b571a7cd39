"""Non-purchase events with use limits, and punch cards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fidela.loyalty.rules import (
    CapKind,
    CounterKey,
    Counters,
    Evaluation,
    InvalidEarningInput,
    MemberEvent,
    Order,
    OrderLine,
    Period,
    RuleSet,
    evaluate,
    load_rule_set,
)

T0 = datetime(2026, 11, 4, 9, 0, tzinfo=UTC)


def rules(*items: dict[str, Any], **top: Any) -> RuleSet:
    return load_rule_set(
        {"currency": "EUR", "timezone": "Europe/Paris", "rules": list(items), **top}
    )


def event(kind: str, at: datetime = T0, **attributes: Any) -> MemberEvent:
    return MemberEvent(id="e1", customer_id=7, type=kind, occurred_at=at, attributes=attributes)


def sequence(
    rule_set: RuleSet, events: list[Any], counters: Counters | None = None
) -> list[Evaluation]:
    """Evaluate one member's events in turn, carrying the counters like the service does."""
    counters = counters or Counters()
    results = []
    for item in events:
        result = evaluate(rule_set, item, counters=counters)
        counters = counters.plus(result.usage)
        results.append(result)
    return results


@pytest.mark.parametrize(
    "kind",
    [
        "customer.signed_up",
        "birthday",
        "app.opened",
        "review.posted",
        "social.shared",
        "referral.completed",
        "event.attended",
        "survey.answered",
        "newsletter.subscribed",
    ],
)
def test_each_non_purchase_event_type_can_earn_fixed_points(kind: str) -> None:
    rule_set = rules({"id": "r", "kind": "event", "event": kind, "points": 25})
    result = evaluate(rule_set, event(kind))
    assert result.total_points == 25
    assert result.awards[0].reason == f"r: {kind}"


def test_any_custom_event_earns_through_a_prefix_rule() -> None:
    rule_set = rules({"id": "custom", "kind": "event", "event": "custom.*", "points": 5})
    assert evaluate(rule_set, event("custom.quiz_won")).total_points == 5
    assert evaluate(rule_set, event("review.posted")).total_points == 0


def test_an_event_rule_ignores_orders_and_order_rules_ignore_events() -> None:
    rule_set = rules(
        {"id": "base", "kind": "spend", "rate": "1"},
        {"id": "review", "kind": "event", "event": "review.posted", "points": 5},
    )
    purchase = Order("o1", 7, "EUR", T0, [OrderLine(1, "p", 1000)])
    assert [award.rule_id for award in evaluate(rule_set, purchase).awards] == ["base"]
    assert [award.rule_id for award in evaluate(rule_set, event("review.posted")).awards] == [
        "review"
    ]


def test_attribute_conditions_must_all_match_with_exact_types() -> None:
    rule_set = rules(
        {
            "id": "insta",
            "kind": "event",
            "event": "social.shared",
            "points": 10,
            "where": {"network": ["instagram", "tiktok"], "verified": True},
        }
    )
    assert (
        evaluate(rule_set, event("social.shared", network="tiktok", verified=True)).total_points
        == 10
    )
    assert evaluate(rule_set, event("social.shared", network="x", verified=True)).total_points == 0
    assert (
        evaluate(rule_set, event("social.shared", network="tiktok", verified=1)).total_points == 0
    )
    assert evaluate(rule_set, event("social.shared", network="tiktok")).total_points == 0


def test_first_app_login_is_awarded_once_ever() -> None:
    rule_set = rules(
        {
            "id": "first-open",
            "kind": "event",
            "event": "app.opened",
            "points": 100,
            "where": {"first_open": True},
            "limit": {"times": 1, "per": "ever"},
        }
    )
    first, second = sequence(
        rule_set,
        [
            event("app.opened", first_open=True),
            event("app.opened", T0 + timedelta(days=400), first_open=True),
        ],
    )
    assert first.total_points == 100
    assert first.usage.awards == {CounterKey("first-open", "ever"): 1}
    assert second.total_points == 0
    hit = second.awards[0].capped_by[0]
    assert (hit.kind, hit.period, hit.limit, hit.left) == (CapKind.LIMIT, Period.EVER, 1, 0)


def test_reviews_earn_at_most_five_times_per_calendar_month() -> None:
    rule_set = rules(
        {
            "id": "review",
            "kind": "event",
            "event": "review.posted",
            "points": 20,
            "limit": {"times": 5, "per": "month"},
        }
    )
    november = [event("review.posted", T0 + timedelta(hours=hour)) for hour in range(6)]
    december = [event("review.posted", datetime(2026, 12, 1, 9, tzinfo=UTC))]
    results = sequence(rule_set, november + december)
    assert [result.total_points for result in results] == [20, 20, 20, 20, 20, 0, 20]


def test_a_limit_counts_in_the_programme_timezone_calendar() -> None:
    rule_set = rules(
        {
            "id": "bday",
            "kind": "event",
            "event": "birthday",
            "points": 200,
            "limit": {"times": 1, "per": "year"},
        }
    )
    # 23:30 UTC on 31 December is already next year in Paris.
    new_year = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    results = sequence(
        rule_set, [event("birthday", datetime(2026, 3, 1, tzinfo=UTC)), event("birthday", new_year)]
    )
    assert [result.total_points for result in results] == [200, 200]
    assert CounterKey("bday", "year:2027") in results[1].usage.awards


def test_events_must_be_timezone_aware() -> None:
    with pytest.raises(InvalidEarningInput):
        event("birthday", datetime(2026, 1, 1))  # noqa: DTZ001 - naive on purpose


COFFEE_CARD = {
    "id": "coffee",
    "kind": "punch_card",
    "every": 3,
    "lines": {"categories": ["coffee"]},
    "reward": "free-coffee",
    "reward_cost_minor": 150,
}


def coffee(
    at: datetime = T0, quantity: int = 1, amount: int = 250, category: str = "coffee"
) -> Order:
    return Order(
        "o", 7, "EUR", at, [OrderLine(1, "espresso", amount, quantity=quantity, category=category)]
    )


def test_punch_card_rewards_every_nth_qualifying_purchase_and_reports_progress() -> None:
    rule_set = rules(COFFEE_CARD)
    results = sequence(rule_set, [coffee() for _ in range(4)])
    progress = [(r.punch_cards[0].in_card, r.punch_cards[0].to_go) for r in results]
    assert progress == [(1, 2), (2, 1), (0, 3), (1, 2)]
    rewards = [[(a.reward, a.reward_count) for a in r.awards] for r in results]
    assert rewards == [[], [], [("free-coffee", 1)], []]
    assert results[2].cost_minor == 150
    assert "1 card(s) of 3 completed" in results[2].awards[0].reason


def test_punch_card_ignores_purchases_without_eligible_lines() -> None:
    rule_set = rules(COFFEE_CARD)
    result = evaluate(rule_set, coffee(category="tea"))
    assert result.punch_cards == ()
    assert result.usage.punches == {}


def test_punch_card_minimum_amount_is_checked_on_eligible_lines() -> None:
    rule_set = rules({**COFFEE_CARD, "min_minor": 300})
    assert evaluate(rule_set, coffee(amount=299)).punch_cards == ()
    assert evaluate(rule_set, coffee(amount=300)).punch_cards[0].punches == 1


def test_punch_card_per_unit_can_complete_several_cards_in_one_order() -> None:
    rule_set = rules({**COFFEE_CARD, "per": "unit", "points": 10})
    result = evaluate(rule_set, coffee(quantity=7), counters=Counters(punches={"coffee": 1}))
    progress = result.punch_cards[0]
    assert (progress.punches, progress.completed, progress.in_card) == (8, 2, 2)
    award = result.awards[0]
    assert (award.points, award.reward_count, award.reward_cost_minor) == (20, 2, 300)
    assert result.usage.punches == {"coffee": 7}


def test_punch_card_giving_points_only_has_no_reward() -> None:
    points_card = {key: value for key, value in COFFEE_CARD.items() if key != "reward"}
    rule_set = rules({**points_card, "points": 50})
    results = sequence(rule_set, [coffee() for _ in range(3)])
    award = results[2].awards[0]
    assert (award.points, award.reward, award.reward_count) == (50, None, 0)
