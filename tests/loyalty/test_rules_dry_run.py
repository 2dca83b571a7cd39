"""Dry runs: one event, and the replay of a history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from fidela.loyalty.rules import (
    CounterKey,
    Counters,
    Event,
    Member,
    MemberEvent,
    Order,
    OrderLine,
    RuleSet,
    evaluate,
    load_rule_set,
    replay,
)

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def rules(*items: dict[str, Any], **top: Any) -> RuleSet:
    return load_rule_set(
        {
            "currency": "EUR",
            "timezone": "Europe/Paris",
            "cost_per_point_minor": "0.5",
            "rules": list(items),
            **top,
        }
    )


def purchase(
    order_id: str, customer: int, amount: int, at: datetime, currency: str = "EUR"
) -> Order:
    return Order(order_id, customer, currency, at, [OrderLine(1, "p", amount, category="coffee")])


PROGRAMME = (
    {"id": "base", "kind": "spend", "rate": "1", "caps": [{"period": "day", "max_points": 60}]},
    {"id": "card", "kind": "punch_card", "every": 2, "reward": "cookie", "reward_cost_minor": 80},
    {
        "id": "launch",
        "kind": "threshold",
        "steps": [{"min_minor": 5000, "points": 100}],
        "budget": 150,
    },
)


def test_evaluating_one_event_is_a_dry_run_that_returns_points_and_cost() -> None:
    result = evaluate(rules(*PROGRAMME), purchase("o1", 1, 5000, T0))
    assert [(a.rule_id, a.points) for a in result.awards] == [
        ("base", 50),
        ("launch", 100),
    ]
    assert result.total_points == 150
    assert result.cost_minor == 75  # 150 points x 0.5 cent
    assert result.usage.budget_used == {"launch": 100}


def test_replay_reports_points_and_cost_per_rule_carrying_counters_between_events() -> None:
    history: list[tuple[Event, Member]] = [
        (purchase("o1", 1, 5000, T0), Member()),
        (purchase("o2", 1, 3000, T0 + timedelta(hours=1)), Member()),  # day cap: 10 of 30
        (purchase("o3", 2, 6000, T0 + timedelta(hours=2)), Member()),  # budget: 50 of 100
        (purchase("o4", 1, 1000, T0 + timedelta(days=1)), Member()),  # a new day
    ]
    report = replay(rules(*PROGRAMME), history)
    assert report.events == 4
    assert report.members == 2
    base = report.for_rule("base")
    assert (base.awards, base.points, base.uncapped_points, base.capped) == (4, 130, 150, 1)
    launch = report.for_rule("launch")
    assert (launch.points, launch.uncapped_points, launch.capped) == (150, 200, 1)
    card = report.for_rule("card")
    assert (card.rewards, card.cost_minor) == (1, 80)  # customer 1's second purchase
    assert report.total_points == 280
    assert report.cost_minor == 140 + 80
    assert report.budget_used == {"launch": 150}
    assert report.counters[1].punches == {"card": 3}
    assert report.counters[1].points[CounterKey("base", "day:2026-11-02")] == 60


def test_replay_plays_events_in_time_order_whatever_the_input_order() -> None:
    rule_set = rules(
        {
            "id": "first-review",
            "kind": "event",
            "event": "review.posted",
            "points": 50,
            "limit": {"times": 1, "per": "ever"},
        },
    )
    later = MemberEvent("late", 1, "review.posted", T0 + timedelta(days=2))
    earlier = MemberEvent("early", 1, "review.posted", T0)
    report = replay(rule_set, [(later, Member()), (earlier, Member())])
    assert report.for_rule("first-review").awards == 1
    assert report.for_rule("first-review").capped == 1


def test_replay_starts_from_given_counters_and_budgets() -> None:
    rule_set = rules(*PROGRAMME)
    starting = {1: Counters(punches={"card": 1})}
    report = replay(
        rule_set,
        [(purchase("o1", 1, 5000, T0), Member())],
        starting=starting,
        budget_used={"launch": 140},
    )
    assert report.for_rule("card").rewards == 1
    assert report.for_rule("launch").points == 10


def test_replay_reports_refused_events_and_goes_on() -> None:
    history: list[tuple[Event, Member]] = [
        (purchase("usd", 1, 5000, T0, currency="USD"), Member()),
        (purchase("eur", 1, 1000, T0), Member()),
    ]
    report = replay(rules(*PROGRAMME), history)
    assert report.events == 1
    assert [(r.event_id, r.code) for r in report.rejected] == [
        ("usd", "order_currency_not_programme")
    ]
    assert report.total_points == 10


def test_replay_uses_each_events_member_context() -> None:
    rule_set = rules({"id": "base", "kind": "spend", "rate": "1"})
    history: list[tuple[Event, Member]] = [
        (purchase("o1", 1, 1000, T0), Member(tier="silver")),
        (purchase("o2", 1, 1000, T0 + timedelta(days=30)), Member("gold", Decimal(2))),
    ]
    assert replay(rule_set, history).total_points == 30


def test_replay_of_nothing_lists_every_rule_with_zero() -> None:
    report = replay(rules(*PROGRAMME), [])
    assert [totals.rule_id for totals in report.rules] == ["base", "card", "launch"]
    assert report.total_points == report.cost_minor == report.members == 0
