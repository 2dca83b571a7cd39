"""Per-rule pending windows: loading a rule's ``hold`` and splitting awards into one lot per
hold."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from fidela.ledger.rules import Hold
from fidela.loyalty.rules import (
    InvalidRuleSet,
    Order,
    OrderLine,
    activation_events,
    evaluate,
    load_rule_set,
    lot_key,
    split_by_hold,
)

WEDNESDAY = datetime(2026, 11, 4, 9, 0, tzinfo=UTC)
RETURN_WINDOW = Hold.for_days(30)


def rules(*items: dict[str, Any]) -> Any:
    return load_rule_set({"currency": "EUR", "timezone": "Europe/Paris", "rules": list(items)})


def problems_of(*items: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InvalidRuleSet) as caught:
        rules(*items)
    return {problem.pointer: problem.message for problem in caught.value.problems}


def order(amount_minor: int) -> Order:
    return Order(
        id="o1",
        customer_id=7,
        currency="EUR",
        occurred_at=WEDNESDAY,
        lines=[OrderLine(line_no=1, product_id="p1", amount_minor=amount_minor)],
    )


def test_a_rule_hold_loads_in_the_programmes_form_and_is_absent_by_default() -> None:
    rule_set = rules(
        {"id": "base", "kind": "spend", "rate": "1"},
        {"id": "now", "kind": "spend", "rate": "1", "hold": {"kind": "none"}},
        {"id": "window", "kind": "spend", "rate": "1", "hold": {"kind": "days", "days": 14}},
        {
            "id": "delivered",
            "kind": "threshold",
            "steps": [{"min_minor": 100, "points": 5}],
            "hold": {"kind": "event", "event": "custom.delivered"},
        },
        {
            "id": "review",
            "kind": "event",
            "event": "review.posted",
            "points": 5,
            "hold": {"kind": "days", "days": 7},
        },
    )
    holds = {rule.id: getattr(rule, "hold", None) for rule in rule_set.rules}
    assert holds == {
        "base": None,
        "now": Hold.immediate(),
        "window": Hold.for_days(14),
        "delivered": Hold.until_event("custom.delivered"),
        "review": Hold.for_days(7),
    }


@pytest.mark.parametrize(
    ("hold", "pointer", "message"),
    [
        ({"kind": "weeks"}, "/rules/0/hold/kind", "must be none, days or event"),
        ({"kind": "days"}, "/rules/0/hold/days", "is required"),
        ({"kind": "days", "days": 0}, "/rules/0/hold/days", "must be >= 1"),
        ({"kind": "days", "days": "3"}, "/rules/0/hold/days", "must be an integer"),
        ({"kind": "event"}, "/rules/0/hold/event", "name the event type"),
        ({"kind": "event", "event": "Delivered!"}, "/rules/0/hold/event", "name the event type"),
        ({"kind": "event", "event": "custom.*"}, "/rules/0/hold/event", "name the event type"),
        ({"kind": "none", "days": 3}, "/rules/0/hold/days", "only for a hold in days"),
        ({"kind": "days", "days": 3, "event": "x"}, "/rules/0/hold/event", "only for a hold"),
        ({"kind": "days", "days": 3, "weeks": 1}, "/rules/0/hold/weeks", "unknown field"),
        ("30 days", "/rules/0/hold", "must be an object"),
    ],
)
def test_a_bad_rule_hold_is_refused_with_a_pointer_to_the_field(
    hold: Any, pointer: str, message: str
) -> None:
    problems = problems_of({"id": "base", "kind": "spend", "rate": "1", "hold": hold})
    assert pointer in problems
    assert problems[pointer].startswith(message)


def test_an_event_rule_cannot_hold_its_points_until_an_activation_event() -> None:
    problems = problems_of(
        {
            "id": "review",
            "kind": "event",
            "event": "review.posted",
            "points": 5,
            "hold": {"kind": "event", "event": "custom.approved"},
        }
    )
    assert "held for days" in problems["/rules/0/hold/kind"]


def test_a_multiplier_has_no_hold_of_its_own() -> None:
    problems = problems_of(
        {"id": "x2", "kind": "multiplier", "factor": "2", "hold": {"kind": "none"}}
    )
    assert problems == {"/rules/0/hold": "unknown field"}


def test_awards_under_different_holds_become_one_lot_each_naming_their_rules() -> None:
    rule_set = rules(
        {"id": "base", "kind": "spend", "rate": "1"},
        {
            "id": "bonus",
            "kind": "threshold",
            "steps": [{"min_minor": 5000, "points": 50}],
            "hold": {"kind": "none"},
        },
        {"id": "extra", "kind": "spend", "rate": "2", "priority": -1},
        {
            "id": "delivery",
            "kind": "threshold",
            "steps": [{"min_minor": 1000, "points": 5}],
            "hold": {"kind": "event", "event": "custom.delivered"},
        },
    )
    evaluation = evaluate(rule_set, order(6000))
    held = split_by_hold(rule_set, evaluation.awards, RETURN_WINDOW)
    assert {(part.hold, part.points, part.rule_ids) for part in held} == {
        (RETURN_WINDOW, 60 + 120, ("base", "extra")),
        (Hold.immediate(), 50, ("bonus",)),
        (Hold.until_event("custom.delivered"), 5, ("delivery",)),
    }
    assert sum(part.points for part in held) == evaluation.total_points


def test_awards_that_all_share_the_default_hold_make_one_lot() -> None:
    rule_set = rules(
        {"id": "base", "kind": "spend", "rate": "1"},
        {"id": "same", "kind": "spend", "rate": "1", "hold": {"kind": "days", "days": 30}},
    )
    (only,) = split_by_hold(rule_set, evaluate(rule_set, order(1000)).awards, RETURN_WINDOW)
    assert (only.hold, only.points, only.rule_ids) == (RETURN_WINDOW, 20, ("base", "same"))


def test_a_capped_out_award_makes_no_lot() -> None:
    rule_set = rules(
        {"id": "base", "kind": "spend", "rate": "1", "budget": 0, "hold": {"kind": "none"}},
    )
    evaluation = evaluate(rule_set, order(1000))
    assert split_by_hold(rule_set, evaluation.awards, RETURN_WINDOW) == ()


def test_the_default_holds_lot_keeps_the_events_key_and_the_others_are_suffixed() -> None:
    assert lot_key("order:9", RETURN_WINDOW, RETURN_WINDOW) == "order:9"
    assert lot_key("order:9", Hold.immediate(), RETURN_WINDOW) == "order:9~none"
    assert (
        lot_key("order:9", Hold.until_event("custom.delivered"), RETURN_WINDOW)
        == "order:9~event:custom.delivered"
    )


def test_activation_events_are_the_programmes_and_every_rules() -> None:
    rule_set = rules(
        {"id": "base", "kind": "spend", "rate": "1"},
        {
            "id": "delivery",
            "kind": "spend",
            "rate": "1",
            "hold": {"kind": "event", "event": "custom.delivered"},
        },
    )
    assert activation_events(rule_set, Hold.until_event("custom.paid")) == {
        "custom.paid",
        "custom.delivered",
    }
    assert activation_events(rule_set, RETURN_WINDOW) == {"custom.delivered"}
    assert activation_events(None, RETURN_WINDOW) == frozenset()
