from __future__ import annotations

from typing import Any

import pytest

from fidela.segment.rules import (
    MAX_DEPTH,
    AllOf,
    AnyOf,
    Condition,
    Not,
    SegmentDefinitionInvalid,
    facts_of,
    membership_changes,
    parse_definition,
    prefix_problems,
)


def pointers(document: Any) -> dict[str, str]:
    with pytest.raises(SegmentDefinitionInvalid) as error:
        parse_definition(document)
    return {p.pointer: p.message for p in error.value.problems}


def test_a_nested_definition_parses_to_its_tree() -> None:
    node = parse_definition(
        {
            "all": [
                {"fact": "profile.age", "op": "between", "value": [25, 40]},
                {"any": [{"fact": "profile.country", "op": "in", "value": ["FR", "BE"]}]},
                {
                    "not": {
                        "fact": "consent",
                        "params": {"channel": "email", "purpose": "marketing"},
                        "op": "eq",
                        "value": False,
                    }
                },
            ]
        }
    )
    assert node == AllOf(
        (
            Condition("profile.age", "between", (25, 40)),
            AnyOf((Condition("profile.country", "in", ("FR", "BE")),)),
            Not(Condition("consent", "eq", False, {"channel": "email", "purpose": "marketing"})),
        )
    )
    assert facts_of(node) == {"profile.age", "profile.country", "consent"}


def test_every_problem_is_reported_with_its_pointer() -> None:
    problems = pointers(
        {
            "all": [
                {"fact": "profile.agee", "op": "gte", "value": 30},
                {"fact": "orders.count", "op": "between", "value": [5, 1]},
                {"fact": "profile.country", "op": "gt", "value": "FR"},
                {"fact": "events.count", "op": "gte", "value": 1},
                {"fact": "profile.age", "op": "gte", "value": "thirty", "extra": 1},
            ]
        }
    )
    assert set(problems) == {
        "/all/0/fact",
        "/all/1/value",
        "/all/2/op",
        "/all/3/params/type",
        "/all/4/value",
        "/all/4/extra",
    }
    assert problems["/all/3/params/type"] == "required"
    assert "low must not exceed high" in problems["/all/1/value"]


def test_groups_must_be_alone_and_non_empty() -> None:
    assert set(pointers({"all": [], "any": []})) == {"/"}
    assert set(pointers({"any": []})) == {"/any"}
    assert set(pointers([1, 2])) == {"/"}


def test_consent_parameters_are_checked_against_the_known_channels_and_purposes() -> None:
    problems = pointers(
        {"fact": "consent", "params": {"channel": "fax", "purpose": "x"}, "op": "eq", "value": 1}
    )
    assert set(problems) == {"/params/channel", "/params/purpose", "/value"}


def test_a_tree_deeper_than_the_limit_is_refused() -> None:
    node: dict[str, Any] = {"fact": "profile.age", "op": "gte", "value": 1}
    for _ in range(MAX_DEPTH):
        node = {"not": node}
    assert any("deeper" in message for message in pointers(node).values())


def test_null_checks_take_no_value() -> None:
    assert parse_definition({"fact": "profile.city", "op": "is_null"}) == Condition(
        "profile.city", "is_null", None
    )
    assert set(pointers({"fact": "profile.city", "op": "is_null", "value": "x"})) == {"/value"}


def test_pointers_can_be_made_relative_to_the_request() -> None:
    with pytest.raises(SegmentDefinitionInvalid) as error:
        parse_definition({"all": [{"fact": "nope", "op": "eq", "value": 1}]})
    moved = prefix_problems(error.value, "/definition")
    assert [p.pointer for p in moved.problems] == ["/definition/all/0/fact"]


def test_membership_changes_are_entries_and_exits_in_key_order() -> None:
    changes = membership_changes([5, 1, 3], [3, 9, 7])
    assert changes.entered == (1, 5)
    assert changes.exited == (7, 9)
    assert membership_changes([1, 2], [1, 2]).entered == ()
