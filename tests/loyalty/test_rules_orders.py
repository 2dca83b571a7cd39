"""Purchase rules: points per currency unit, basket thresholds, multipliers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from fidela.loyalty.rules import (
    CurrencyNotProgramme,
    Evaluation,
    InvalidEarningInput,
    Member,
    Order,
    OrderLine,
    evaluate,
    load_rule_set,
)

# A Wednesday, 10:00 in Paris.
WEDNESDAY = datetime(2026, 11, 4, 9, 0, tzinfo=UTC)


def rules(*items: dict[str, Any], **top: Any) -> Any:
    return load_rule_set(
        {"currency": "EUR", "timezone": "Europe/Paris", "rules": list(items), **top}
    )


def line(no: int, amount: int, **fields: Any) -> OrderLine:
    return OrderLine(
        line_no=no, product_id=fields.pop("product_id", f"p{no}"), amount_minor=amount, **fields
    )


def order(*lines: OrderLine, **fields: Any) -> Order:
    defaults: dict[str, Any] = {"id": "o1", "customer_id": 7, "currency": "EUR"}
    defaults["occurred_at"] = fields.pop("occurred_at", WEDNESDAY)
    return Order(lines=lines, **{**defaults, **fields})


def points(result: Evaluation, rule_id: str) -> int:
    award = result.award_for(rule_id)
    return 0 if award is None else award.points


BASE = {"id": "base", "kind": "spend", "rate": "1"}


def test_spend_rule_gives_rate_points_per_major_unit_rounded_down_once() -> None:
    result = evaluate(rules(BASE), order(line(1, 12345)))
    assert points(result, "base") == 123
    award = result.awards[0]
    assert award.amount_minor == 12345
    assert award.lines == (1,)
    assert "1 pt per EUR on 123.45 EUR" in award.reason


def test_spend_rule_rounding_mode_comes_from_the_rule_set() -> None:
    rule_set = rules({**BASE, "rate": "1.5"}, rounding="half_up")
    assert points(evaluate(rule_set, order(line(1, 1100))), "base") == 17  # 16.5 -> 17


def test_spend_rule_uses_the_currency_minor_exponent() -> None:
    rule_set = load_rule_set(
        {"currency": "JPY", "timezone": "Asia/Tokyo", "rules": [{**BASE, "rate": "0.01"}]}
    )
    result = evaluate(rule_set, order(line(1, 1500), currency="JPY"))
    assert points(result, "base") == 15


def test_an_order_in_another_currency_is_refused_not_converted() -> None:
    with pytest.raises(CurrencyNotProgramme) as caught:
        evaluate(rules(BASE), order(line(1, 1000), currency="USD"))
    assert caught.value.problems[0].pointer == "/currency"
    assert caught.value.code == "order_currency_not_programme"


def test_invalid_orders_are_refused_with_pointers() -> None:
    with pytest.raises(InvalidEarningInput) as caught:
        order(line(1, -5), line(1, 100, quantity=0), shipping_minor=-1)
    assert {problem.pointer for problem in caught.value.problems} == {
        "/lines/0/amount_minor",
        "/lines/1/quantity",
        "/lines/1/line_no",
        "/shipping_minor",
    }
    with pytest.raises(InvalidEarningInput):
        order(line(1, 100), occurred_at=datetime(2026, 11, 4, 9))  # noqa: DTZ001 - the point
    with pytest.raises(InvalidEarningInput):
        order(line(1, 100), points_paid_minor=101)


def test_spend_rule_counts_only_lines_in_its_categories_or_products() -> None:
    rule_set = rules({**BASE, "lines": {"categories": ["shoes"], "products": ["sock-1"]}})
    result = evaluate(
        rule_set,
        order(
            line(1, 5000, category="shoes"),
            line(2, 700, product_id="sock-1", category="socks"),
            line(3, 9000, category="bags"),
        ),
    )
    award = result.awards[0]
    assert award.points == 57
    assert award.lines == (1, 2)


def test_excluded_skus_and_categories_never_earn_even_when_included() -> None:
    rule_set = rules(
        {
            **BASE,
            "lines": {
                "categories": ["food"],
                "exclude_skus": ["GIFT-CARD"],
                "exclude_categories": ["tobacco"],
            },
        }
    )
    result = evaluate(
        rule_set,
        order(
            line(1, 2000, category="food"),
            line(2, 5000, category="food", sku="GIFT-CARD"),
            line(3, 800, category="tobacco"),
        ),
    )
    assert points(result, "base") == 20


def test_shipping_is_excluded_by_default_and_included_on_request() -> None:
    shipped = order(line(1, 2000), shipping_minor=990)
    assert points(evaluate(rules(BASE), shipped), "base") == 20
    assert points(evaluate(rules({**BASE, "include_shipping": True}), shipped), "base") == 29


def test_an_order_with_no_eligible_line_gets_no_award() -> None:
    rule_set = rules({**BASE, "lines": {"categories": ["shoes"]}})
    assert evaluate(rule_set, order(line(1, 5000, category="bags"))).awards == ()


def test_channel_and_store_filters_restrict_the_rule() -> None:
    rule_set = rules({**BASE, "channels": ["web"], "stores": ["paris-1"]})
    assert (
        points(evaluate(rule_set, order(line(1, 5000), channel="web", store_id="paris-1")), "base")
        == 50
    )
    assert (
        evaluate(rule_set, order(line(1, 5000), channel="store", store_id="paris-1")).awards == ()
    )
    assert evaluate(rule_set, order(line(1, 5000), channel="web", store_id="lyon-1")).awards == ()


def test_the_part_paid_with_points_earns_nothing_by_default() -> None:
    # 100 EUR order, 25 EUR paid with points: 75 EUR earns.
    paid = order(line(1, 10000), points_paid_minor=2500)
    result = evaluate(rules(BASE), paid)
    assert points(result, "base") == 75
    assert "25.00 EUR paid with points earns nothing" in result.awards[0].reason
    assert points(evaluate(rules({**BASE, "earn_on_points_payment": True}), paid), "base") == 100


def test_threshold_bonus_takes_highest_reached_step_only() -> None:
    ladder = {
        "id": "ladder",
        "kind": "threshold",
        "steps": [{"min_minor": 10000, "points": 50}, {"min_minor": 20000, "points": 150}],
    }
    rule_set = rules(ladder)
    assert evaluate(rule_set, order(line(1, 9999))).awards == ()
    assert points(evaluate(rule_set, order(line(1, 10000))), "ladder") == 50
    assert points(evaluate(rule_set, order(line(1, 15000), line(2, 6000))), "ladder") == 150


def test_threshold_bonus_counts_eligible_amount_only() -> None:
    ladder = {
        "id": "ladder",
        "kind": "threshold",
        "steps": [{"min_minor": 10000, "points": 50}],
        "lines": {"exclude_skus": ["GIFT"]},
    }
    rule_set = rules(ladder)
    basket = order(line(1, 6000), line(2, 6000, sku="GIFT"), shipping_minor=5000)
    assert evaluate(rule_set, basket).awards == ()
    paid_with_points = order(line(1, 10000), points_paid_minor=1)
    assert evaluate(rule_set, paid_with_points).awards == ()  # 99.99 EUR left to count


def test_category_multiplier_applies_to_its_lines_only() -> None:
    rule_set = rules(
        BASE,
        {"id": "shoes-x3", "kind": "multiplier", "factor": "3", "lines": {"categories": ["shoes"]}},
    )
    result = evaluate(rule_set, order(line(1, 1000, category="shoes"), line(2, 1000)))
    assert points(result, "base") == 40
    assert "x3 shoes-x3 on 1 of 2 lines" in result.awards[0].reason


def test_channel_multiplier_applies_to_orders_on_that_channel() -> None:
    rule_set = rules(
        BASE, {"id": "app-x2", "kind": "multiplier", "factor": "2", "channels": ["app"]}
    )
    assert points(evaluate(rule_set, order(line(1, 1000), channel="app")), "base") == 20
    assert points(evaluate(rule_set, order(line(1, 1000), channel="web")), "base") == 10


def test_tier_multiplier_always_multiplies_on_top() -> None:
    rule_set = rules(BASE, {"id": "x2", "kind": "multiplier", "factor": "2"})
    gold = Member(tier="gold", tier_multiplier=Decimal("1.5"))
    result = evaluate(rule_set, order(line(1, 1000)), member=gold)
    assert points(result, "base") == 30
    assert "x1.5 tier gold" in result.awards[0].reason


def test_tier_filter_restricts_a_rule_to_members_of_those_tiers() -> None:
    rule_set = rules(BASE, {"id": "vip-x2", "kind": "multiplier", "factor": "2", "tiers": ["gold"]})
    assert (
        points(evaluate(rule_set, order(line(1, 1000)), member=Member(tier="gold")), "base") == 20
    )
    assert (
        points(evaluate(rule_set, order(line(1, 1000)), member=Member(tier="silver")), "base") == 10
    )
    assert points(evaluate(rule_set, order(line(1, 1000))), "base") == 10


def test_multipliers_take_the_max_by_default() -> None:
    rule_set = rules(
        BASE,
        {"id": "shoes-x3", "kind": "multiplier", "factor": "3", "lines": {"categories": ["shoes"]}},
        {"id": "x2", "kind": "multiplier", "factor": "2"},
    )
    assert points(evaluate(rule_set, order(line(1, 1000, category="shoes"))), "base") == 30


def test_multipliers_compound_when_configured_to_multiply() -> None:
    rule_set = rules(
        BASE,
        {"id": "shoes-x3", "kind": "multiplier", "factor": "3", "lines": {"categories": ["shoes"]}},
        {"id": "x2", "kind": "multiplier", "factor": "2"},
        combine_multipliers="multiply",
    )
    assert points(evaluate(rule_set, order(line(1, 1000, category="shoes"))), "base") == 60


def test_a_multiplier_below_one_reduces_earning_on_its_lines() -> None:
    rule_set = rules(
        BASE,
        {"id": "sale", "kind": "multiplier", "factor": "0.5", "lines": {"categories": ["sale"]}},
    )
    assert points(evaluate(rule_set, order(line(1, 1000, category="sale"))), "base") == 5


def test_exclusive_multipliers_keep_the_highest_priority_one_per_line() -> None:
    rule_set = rules(
        BASE,
        {"id": "x3", "kind": "multiplier", "factor": "3", "group": "promo", "priority": 1},
        {"id": "x5", "kind": "multiplier", "factor": "5", "group": "promo"},
        combine_multipliers="multiply",
    )
    assert points(evaluate(rule_set, order(line(1, 1000))), "base") == 30


def test_a_multiplier_targets_only_the_spend_rules_it_names() -> None:
    rule_set = rules(
        BASE,
        {"id": "bonus", "kind": "spend", "rate": "1", "lines": {"categories": ["shoes"]}},
        {"id": "x2", "kind": "multiplier", "factor": "2", "applies_to": ["bonus"]},
    )
    result = evaluate(rule_set, order(line(1, 1000, category="shoes")))
    assert (points(result, "base"), points(result, "bonus")) == (10, 20)


def test_an_open_multiplier_also_multiplies_included_shipping_but_a_filtered_one_does_not() -> None:
    shipped = order(line(1, 1000, category="shoes"), shipping_minor=1000)
    base = {**BASE, "include_shipping": True}
    everything = rules(base, {"id": "x2", "kind": "multiplier", "factor": "2"})
    shoes_only = rules(
        base, {"id": "x2", "kind": "multiplier", "factor": "2", "lines": {"categories": ["shoes"]}}
    )
    result = evaluate(everything, shipped)
    assert points(result, "base") == 40
    assert "x2 x2 incl. shipping" in result.awards[0].reason
    assert points(evaluate(shoes_only, shipped), "base") == 30


def test_double_points_date_window_follows_the_programme_timezone() -> None:
    rule_set = rules(
        BASE,
        {
            "id": "black-friday",
            "kind": "multiplier",
            "factor": "2",
            "dates": [{"first": "2026-11-27", "last": "2026-11-27"}],
        },
    )
    # 23:30 UTC on the 26th is already 00:30 on the 27th in Paris.
    late = datetime(2026, 11, 26, 23, 30, tzinfo=UTC)
    assert points(evaluate(rule_set, order(line(1, 1000), occurred_at=late)), "base") == 20
    early = datetime(2026, 11, 26, 22, 30, tzinfo=UTC)
    assert points(evaluate(rule_set, order(line(1, 1000), occurred_at=early)), "base") == 10
    # A member in New York: it is still the 26th there.
    new_york = Member(timezone="America/New_York")
    assert (
        points(evaluate(rule_set, order(line(1, 1000), occurred_at=late), member=new_york), "base")
        == 10
    )


def test_happy_hour_window_matches_weekday_and_local_hours() -> None:
    rule_set = rules(
        BASE,
        {
            "id": "happy-hour",
            "kind": "multiplier",
            "factor": "2",
            "hours": [{"days": ["wed"], "start": "18:00", "end": "20:00"}],
        },
    )

    def earned(at: datetime) -> int:
        return points(evaluate(rule_set, order(line(1, 1000), occurred_at=at)), "base")

    assert earned(datetime(2026, 11, 4, 17, 0, tzinfo=UTC)) == 20  # Wed 18:00 Paris
    assert earned(datetime(2026, 11, 4, 18, 59, tzinfo=UTC)) == 20  # Wed 19:59
    assert earned(datetime(2026, 11, 4, 19, 0, tzinfo=UTC)) == 10  # Wed 20:00, end excluded
    assert earned(datetime(2026, 11, 5, 17, 0, tzinfo=UTC)) == 10  # Thursday


def test_a_window_across_midnight_belongs_to_the_day_it_starts() -> None:
    rule_set = rules(
        BASE,
        {
            "id": "late",
            "kind": "multiplier",
            "factor": "2",
            "hours": [{"days": ["fri"], "start": "22:00", "end": "02:00"}],
        },
    )

    def earned(at: datetime) -> int:
        return points(evaluate(rule_set, order(line(1, 1000), occurred_at=at)), "base")

    assert earned(datetime(2026, 11, 6, 21, 30, tzinfo=UTC)) == 20  # Fri 22:30 Paris
    assert earned(datetime(2026, 11, 7, 0, 30, tzinfo=UTC)) == 20  # Sat 01:30
    assert earned(datetime(2026, 11, 6, 0, 30, tzinfo=UTC)) == 10  # Fri 01:30 (Thu night)


def test_hour_windows_follow_daylight_saving_time() -> None:
    rule_set = rules(
        BASE,
        {
            "id": "morning",
            "kind": "multiplier",
            "factor": "2",
            "hours": [{"start": "09:00", "end": "10:00"}],
        },
    )
    summer = datetime(2026, 7, 1, 7, 30, tzinfo=UTC)  # 09:30 CEST
    winter = datetime(2026, 12, 1, 7, 30, tzinfo=UTC)  # 08:30 CET
    assert points(evaluate(rule_set, order(line(1, 1000), occurred_at=summer)), "base") == 20
    assert points(evaluate(rule_set, order(line(1, 1000), occurred_at=winter)), "base") == 10


def test_validity_window_includes_its_start_and_excludes_its_end() -> None:
    rule_set = rules(
        {
            **BASE,
            "valid_from": "2026-11-01T00:00:00+00:00",
            "valid_until": "2026-12-01T00:00:00+00:00",
        }
    )
    start = datetime(2026, 11, 1, tzinfo=UTC)
    end = datetime(2026, 12, 1, tzinfo=UTC)
    assert evaluate(rule_set, order(line(1, 1000), occurred_at=start)).awards != ()
    assert (
        evaluate(rule_set, order(line(1, 1000), occurred_at=end - timedelta(seconds=1))).awards
        != ()
    )
    assert evaluate(rule_set, order(line(1, 1000), occurred_at=end)).awards == ()


def test_stackable_rules_add_up_and_cost_is_valued_once() -> None:
    rule_set = rules(
        BASE,
        {"id": "ladder", "kind": "threshold", "steps": [{"min_minor": 10000, "points": 50}]},
        cost_per_point_minor="0.3",
    )
    result = evaluate(rule_set, order(line(1, 12000)))
    assert result.total_points == 170
    assert result.cost_minor == 51  # 170 x 0.3 cent
    assert result.currency == "EUR"


def test_an_invalid_member_timezone_points_at_the_member() -> None:
    with pytest.raises(InvalidEarningInput) as caught:
        evaluate(rules(BASE), order(line(1, 100)), member=Member(timezone="Mars/Olympus"))
    assert caught.value.problems[0].pointer == "/member/timezone"


def test_a_member_tier_multiplier_must_be_a_positive_decimal() -> None:
    with pytest.raises(InvalidEarningInput):
        Member(tier_multiplier=Decimal(0))
