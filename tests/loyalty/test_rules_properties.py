"""Properties of the earning engine over random baskets and histories."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from fidela.loyalty.rules import (
    Counters,
    Event,
    Member,
    Order,
    OrderLine,
    RuleSet,
    evaluate,
    load_rule_set,
    replay,
)

T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")
CATEGORIES = ("shoes", "bags", "coffee", "gift")

RULES: list[dict[str, Any]] = [
    {"id": "base", "kind": "spend", "rate": "1.7", "lines": {"exclude_categories": ["gift"]}},
    {"id": "shipping", "kind": "spend", "rate": "0.3", "include_shipping": True},
    {
        "id": "ladder",
        "kind": "threshold",
        "steps": [{"min_minor": 10000, "points": 50}, {"min_minor": 20000, "points": 150}],
    },
    {"id": "shoes", "kind": "multiplier", "factor": "3", "lines": {"categories": ["shoes"]}},
    {"id": "sale", "kind": "multiplier", "factor": "0.25", "lines": {"categories": ["bags"]}},
    {
        "id": "weekend",
        "kind": "multiplier",
        "factor": "2",
        "hours": [{"days": ["sat", "sun"], "start": "00:00", "end": "24:00"}],
    },
    {"id": "card", "kind": "punch_card", "every": 4, "per": "unit", "points": 25},
    {"id": "promo-a", "kind": "spend", "rate": "2", "group": "promo", "priority": 2},
    {"id": "promo-b", "kind": "spend", "rate": "4", "group": "promo", "priority": 1},
]


def rule_set(combine: str = "max", rounding: str = "down", **top: Any) -> RuleSet:
    return load_rule_set(
        {
            "currency": "EUR",
            "timezone": "Europe/Paris",
            "combine_multipliers": combine,
            "rounding": rounding,
            "rules": RULES,
            **top,
        }
    )


lines = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=50_000),
        st.integers(min_value=1, max_value=5),
        st.sampled_from(CATEGORIES),
    ),
    min_size=1,
    max_size=6,
)
moments = st.integers(min_value=0, max_value=60 * 24 * 30).map(lambda m: T0 + timedelta(minutes=m))
multipliers = st.sampled_from([Decimal(1), Decimal("1.25"), Decimal("1.5"), Decimal(2)])


def order(
    items: list[tuple[int, int, str]],
    at: datetime,
    shipping: int,
    paid_share: int,
    customer: int = 1,
) -> Order:
    order_lines = [
        OrderLine(index + 1, f"p{index}", amount, quantity=quantity, category=category)
        for index, (amount, quantity, category) in enumerate(items)
    ]
    total = sum(amount for amount, _, _ in items) + shipping
    return Order(
        "o",
        customer,
        "EUR",
        at,
        order_lines,
        shipping_minor=shipping,
        points_paid_minor=total * paid_share // 100,
    )


@given(
    items=lines,
    at=moments,
    shipping=st.integers(min_value=0, max_value=2_000),
    paid_share=st.integers(min_value=0, max_value=100),
    combine=st.sampled_from(["max", "multiply"]),
    tier=multipliers,
    punches=st.integers(min_value=0, max_value=50),
)
def test_points_are_never_negative_and_the_total_is_the_sum_of_awards(
    items: list[tuple[int, int, str]],
    at: datetime,
    shipping: int,
    paid_share: int,
    combine: str,
    tier: Decimal,
    punches: int,
) -> None:
    result = evaluate(
        rule_set(combine),
        order(items, at, shipping, paid_share),
        member=Member(tier="x", tier_multiplier=tier),
        counters=Counters(punches={"card": punches}),
    )
    assert all(0 <= award.points <= award.uncapped_points for award in result.awards)
    assert result.total_points == sum(award.points for award in result.awards)
    assert result.cost_minor >= 0


@given(
    amount=st.integers(min_value=0, max_value=1_000_000),
    cuts=st.lists(st.integers(min_value=0, max_value=1_000_000), max_size=8),
    category=st.sampled_from(CATEGORIES),
    at=moments,
    paid_share=st.integers(min_value=0, max_value=100),
    tier=multipliers,
    rounding=st.sampled_from(["down", "half_up", "half_even"]),
)
def test_splitting_a_basket_across_lines_gives_exactly_the_same_points(
    amount: int,
    cuts: list[int],
    category: str,
    at: datetime,
    paid_share: int,
    tier: Decimal,
    rounding: str,
) -> None:
    bounds = sorted({0, amount, *(cut % (amount + 1) for cut in cuts)})
    parts = [high - low for low, high in pairwise(bounds)] or [0]
    assert sum(parts) == amount
    rules = rule_set(rounding=rounding)
    member = Member(tier="x", tier_multiplier=tier)
    whole = evaluate(rules, order([(amount, 1, category)], at, 0, paid_share), member=member)
    split = evaluate(
        rules, order([(part, 1, category) for part in parts], at, 0, paid_share), member=member
    )
    # Punch cards count units, so with one unit per line they legitimately differ.
    assert {a.rule_id: a.points for a in whole.awards if a.rule_id != "card"} == {
        a.rule_id: a.points for a in split.awards if a.rule_id != "card"
    }


ORDER_HISTORY = st.lists(
    st.tuples(st.integers(min_value=1, max_value=3), moments, lines), min_size=1, max_size=25
)


@settings(max_examples=60)
@given(history=ORDER_HISTORY)
def test_caps_and_budgets_are_never_exceeded_over_any_history(
    history: list[tuple[int, datetime, list[tuple[int, int, str]]]],
) -> None:
    capped = load_rule_set(
        {
            "currency": "EUR",
            "timezone": "Europe/Paris",
            "member_caps": [{"period": "day", "max_points": 300}],
            "rules": [
                {
                    "id": "base",
                    "kind": "spend",
                    "rate": "1",
                    "caps": [{"period": "week", "max_points": 700}],
                },
                {
                    "id": "ladder",
                    "kind": "threshold",
                    "steps": [{"min_minor": 5000, "points": 120}],
                    "budget": 500,
                },
            ],
        }
    )
    events: list[tuple[Event, Member]] = [
        (order(items, at, 0, 0, customer), Member()) for customer, at, items in history
    ]
    per_day: dict[tuple[int, str], int] = defaultdict(int)
    per_week: dict[tuple[int, str], int] = defaultdict(int)
    ladder_total = 0
    counters: dict[int, Counters] = {}
    budget: dict[str, int] = {}
    for event, _ in sorted(events, key=lambda item: item[0].occurred_at):
        mine = counters.get(event.customer_id, Counters())
        result = evaluate(capped, event, counters=replace(mine, budget_used=budget))
        counters[event.customer_id] = mine.plus(result.usage)
        budget = dict(Counters(budget_used=budget).plus(result.usage).budget_used)
        local = event.occurred_at.astimezone(PARIS)
        iso = local.isocalendar()
        per_day[event.customer_id, local.date().isoformat()] += result.total_points
        base = result.award_for("base")
        per_week[event.customer_id, f"{iso.year}-{iso.week}"] += base.points if base else 0
        ladder = result.award_for("ladder")
        ladder_total += ladder.points if ladder else 0
    assert all(total <= 300 for total in per_day.values())
    assert all(total <= 700 for total in per_week.values())
    assert ladder_total <= 500
    report = replay(capped, events)
    assert report.total_points == sum(per_day.values())
    assert report.for_rule("ladder").points == ladder_total


@given(
    items=lines,
    at=moments,
    permutation=st.permutations(range(len(RULES))),
)
def test_the_result_does_not_depend_on_the_order_rules_are_listed_in(
    items: list[tuple[int, int, str]], at: datetime, permutation: list[int]
) -> None:
    listed = load_rule_set(
        {"currency": "EUR", "timezone": "Europe/Paris", "rules": [RULES[i] for i in permutation]}
    )
    basket = order(items, at, 500, 10)
    assert evaluate(listed, basket) == evaluate(rule_set(), basket)
