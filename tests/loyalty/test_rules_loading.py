from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from fidela.kernel.points import Rounding
from fidela.loyalty.rules import (
    Combine,
    EventRule,
    InvalidRuleSet,
    MultiplierRule,
    Period,
    PunchCardRule,
    PunchUnit,
    SpendRule,
    ThresholdRule,
    load_rule_set,
)


def problems_of(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InvalidRuleSet) as caught:
        load_rule_set(data)
    return {problem.pointer: problem.message for problem in caught.value.problems}


def programme(*rules: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"currency": "EUR", "timezone": "Europe/Paris", "rules": list(rules), **top}


def test_a_full_rule_set_loads_into_typed_rules_with_defaults() -> None:
    rule_set = load_rule_set(
        programme(
            {"id": "base", "kind": "spend", "rate": "1.5", "lines": {"exclude_skus": ["GIFT"]}},
            {"id": "ladder", "kind": "threshold", "steps": [{"min_minor": 10000, "points": 50}]},
            {"id": "shoes", "kind": "multiplier", "factor": 2, "lines": {"categories": ["shoes"]}},
            {"id": "review", "kind": "event", "event": "review.posted", "points": 20},
            {"id": "coffee", "kind": "punch_card", "every": 10, "reward": "free-coffee"},
            cost_per_point_minor="0.5",
            member_caps=[{"period": "month", "max_points": 5000}],
        )
    )
    assert rule_set.currency == "EUR"
    assert rule_set.rounding is Rounding.DOWN
    assert rule_set.combine_multipliers is Combine.MAX
    assert rule_set.cost_per_point_minor == Decimal("0.5")
    assert rule_set.member_caps[0].period is Period.MONTH
    kinds = {type(rule) for rule in rule_set.rules}
    assert kinds == {SpendRule, ThresholdRule, MultiplierRule, EventRule, PunchCardRule}
    base = next(rule for rule in rule_set.rules if isinstance(rule, SpendRule))
    assert base.rate == Decimal("1.5")
    assert base.include_shipping is False
    assert base.lines.exclude_skus == frozenset({"GIFT"})
    card = next(rule for rule in rule_set.rules if isinstance(rule, PunchCardRule))
    assert card.per is PunchUnit.ORDER


def test_rules_are_held_in_precedence_order_whatever_the_listing_order() -> None:
    rule_set = load_rule_set(
        programme(
            {"id": "b", "kind": "event", "event": "login", "points": 1},
            {"id": "z", "kind": "event", "event": "login", "points": 1, "priority": 5},
            {"id": "a", "kind": "event", "event": "login", "points": 1},
        )
    )
    assert [rule.id for rule in rule_set.rules] == ["z", "a", "b"]


def test_a_bad_rate_is_reported_at_its_pointer() -> None:
    problems = problems_of(
        programme(
            {"id": "ok", "kind": "event", "event": "login", "points": 1},
            {"id": "x", "kind": "spend", "rate": "0"},
            {"id": "y", "kind": "spend", "rate": "abc"},
            {"id": "z", "kind": "spend"},
        )
    )
    assert problems == {
        "/rules/1/rate": "must be > 0",
        "/rules/2/rate": "'abc' is not a decimal number",
        "/rules/3/rate": "is required",
    }


def test_every_problem_is_reported_in_one_pass() -> None:
    problems = problems_of(
        {
            "currency": "eur",
            "rules": [
                {"id": "a b", "kind": "spend", "rate": "1", "budjet": 100},
                {"kind": "bonus"},
                {"id": "r", "kind": "event", "event": "Review Posted", "points": 0},
            ],
        }
    )
    assert set(problems) == {
        "/currency",
        "/timezone",
        "/rules/0/id",
        "/rules/0/budjet",
        "/rules/1/kind",
        "/rules/2/event",
        "/rules/2/points",
    }
    assert problems["/rules/0/budjet"] == "unknown field"


def test_the_error_is_an_invalid_input_with_a_stable_code() -> None:
    with pytest.raises(InvalidRuleSet) as caught:
        load_rule_set(programme({"id": "x", "kind": "spend", "rate": "-1"}))
    assert caught.value.code == "rule_set_invalid"
    assert "/rules/0/rate" in str(caught.value)


def test_duplicate_rule_ids_point_at_the_first_definition() -> None:
    problems = problems_of(
        programme(
            {"id": "base", "kind": "spend", "rate": "1"},
            {"id": "base", "kind": "spend", "rate": "2"},
        )
    )
    assert problems == {"/rules/1/id": "duplicate of /rules/0/id"}


def test_a_group_cannot_mix_multipliers_and_awarding_rules() -> None:
    problems = problems_of(
        programme(
            {"id": "base", "kind": "spend", "rate": "1", "group": "promo"},
            {"id": "x2", "kind": "multiplier", "factor": "2", "group": "promo"},
        )
    )
    assert problems == {"/rules/1/group": "mixes multipliers and awarding rules with /rules/0"}


def test_a_multiplier_may_only_target_spend_rules_that_exist() -> None:
    problems = problems_of(
        programme(
            {"id": "ladder", "kind": "threshold", "steps": [{"min_minor": 1, "points": 1}]},
            {"id": "x2", "kind": "multiplier", "factor": "2", "applies_to": ["ladder", "nope"]},
        )
    )
    assert problems == {"/rules/1/applies_to": "'nope' is not a spend rule's id"}


def test_threshold_steps_must_ascend_and_exist() -> None:
    problems = problems_of(
        programme(
            {
                "id": "ladder",
                "kind": "threshold",
                "steps": [{"min_minor": 200, "points": 1}, {"min_minor": 100, "points": 2}],
            },
            {"id": "empty", "kind": "threshold", "steps": []},
        )
    )
    assert problems == {
        "/rules/0/steps/1/min_minor": "steps must be in increasing min_minor order",
        "/rules/1/steps": "needs at least one step",
    }


def test_a_punch_card_must_give_something() -> None:
    problems = problems_of(programme({"id": "card", "kind": "punch_card", "every": 10}))
    assert problems == {"/rules/0/points": "a punch card gives points, a reward, or both"}


def test_time_windows_are_parsed_and_checked() -> None:
    rule_set = load_rule_set(
        programme(
            {
                "id": "happy",
                "kind": "multiplier",
                "factor": "2",
                "dates": [{"first": "2026-11-27", "last": "2026-11-30"}],
                "hours": [{"days": ["fri", "sat"], "start": "22:00", "end": "02:00"}],
                "valid_from": "2026-01-01T00:00:00+01:00",
            }
        )
    )
    scope = rule_set.rules[0].scope
    assert scope.dates[0].first == date(2026, 11, 27)
    assert scope.hours[0].days == frozenset({4, 5})
    assert (scope.hours[0].start, scope.hours[0].end) == (22 * 60, 2 * 60)
    assert scope.valid_from == datetime(2025, 12, 31, 23, tzinfo=UTC)
    problems = problems_of(
        programme(
            {
                "id": "bad",
                "kind": "multiplier",
                "factor": "2",
                "dates": [{"first": "2026-12-02", "last": "2026-12-01"}],
                "hours": [
                    {"days": ["friday"], "start": "25:00", "end": "10:00"},
                    {"start": "10:00", "end": "10:00"},
                ],
                "valid_from": "2026-01-01T00:00:00",
            }
        )
    )
    assert problems == {
        "/rules/0/dates/0/last": "must not be before first",
        "/rules/0/hours/0/days/0": "must be one of mon, tue, wed, thu, fri, sat, sun",
        "/rules/0/hours/0/days": "must name at least one day",
        "/rules/0/hours/0/start": "must be a time HH:MM between 00:00 and 24:00",
        "/rules/0/hours/1/end": "the window is empty: start and end must differ",
        "/rules/0/valid_from": "must carry a timezone offset",
    }


def test_caps_limits_and_budgets_are_validated() -> None:
    problems = problems_of(
        programme(
            {
                "id": "review",
                "kind": "event",
                "event": "review.posted",
                "points": 10,
                "caps": [{"period": "fortnight", "max_points": 5}, {"period": "day"}],
                "limit": {"times": 0, "per": "month"},
                "budget": -1,
            },
            member_caps=[{"period": "day", "max_points": 1}, {"period": "day", "max_points": 2}],
        )
    )
    assert problems == {
        "/rules/0/caps/0/period": "must be one of day, week, month, year, ever",
        "/rules/0/caps/1/max_points": "is required",
        "/rules/0/limit/times": "must be >= 1",
        "/rules/0/budget": "must be >= 0",
        "/member_caps/1/period": "a cap per day is already at /member_caps/0",
    }


def test_a_multiplier_takes_no_caps() -> None:
    problems = problems_of(
        programme({"id": "x2", "kind": "multiplier", "factor": "2", "budget": 100})
    )
    assert problems == {"/rules/0/budget": "unknown field"}


def test_json_floats_become_their_shortest_decimal_and_floats_never_count_as_integers() -> None:
    rule_set = load_rule_set(programme({"id": "base", "kind": "spend", "rate": 0.1}))
    rule = rule_set.rules[0]
    assert isinstance(rule, SpendRule)
    assert rule.rate == Decimal("0.1")
    problems = problems_of(
        programme({"id": "e", "kind": "event", "event": "login", "points": 10.0})
    )
    assert problems == {"/rules/0/points": "must be an integer"}


def test_event_types_accept_exact_names_and_prefix_wildcards() -> None:
    rule_set = load_rule_set(
        programme(
            {"id": "custom", "kind": "event", "event": "custom.*", "points": 5},
            {"id": "bday", "kind": "event", "event": "birthday", "points": 5},
        )
    )
    custom = next(rule for rule in rule_set.rules if rule.id == "custom")
    assert isinstance(custom, EventRule)
    assert custom.matches_type("custom.quiz.won")
    assert not custom.matches_type("customer.signed_up")


def test_attribute_conditions_accept_scalars_or_lists_only() -> None:
    problems = problems_of(
        programme(
            {
                "id": "share",
                "kind": "event",
                "event": "social.shared",
                "points": 5,
                "where": {"network": {"in": ["x"]}, "rating": []},
            }
        )
    )
    assert set(problems) == {"/rules/0/where/network", "/rules/0/where/rating"}


def test_unknown_top_level_fields_and_bad_choices_are_refused() -> None:
    problems = problems_of(
        programme(rounding="up", combine_multipliers="add", cost_per_point_minor="-1", mode=1)
    )
    assert problems == {
        "/rounding": "must be one of down, half_up, half_even",
        "/combine_multipliers": "must be one of max, multiply",
        "/cost_per_point_minor": "must be >= 0",
        "/mode": "unknown field",
    }
