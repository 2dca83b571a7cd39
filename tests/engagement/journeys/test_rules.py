"""Journey definitions (validation with pointers) and the step machine, pure."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from fidela.engagement.journeys.library import LIBRARY
from fidela.engagement.journeys.rules.conditions import evaluate
from fidela.engagement.journeys.rules.definition import parse_definition
from fidela.engagement.journeys.rules.engine import (
    AwardPoints,
    CreateTask,
    RunStatus,
    Send,
    UpdateProfile,
    enter,
    resume,
)
from fidela.engagement.journeys.rules.errors import InvalidJourney, JourneyLoop

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def journey(*steps: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"code": "j", "name": "J", "trigger": {"event": "x.y"}, "steps": list(steps), **extra}


def facts(**profile: Any) -> dict[str, Any]:
    return {"profile": profile, "context": {"cart_id": "C1"}, "event": {}}


@pytest.mark.parametrize("definition", LIBRARY, ids=lambda d: d["code"])
def test_every_ready_made_journey_is_a_valid_definition(definition: dict[str, Any]) -> None:
    assert parse_definition(definition).code == definition["code"]


def test_every_problem_of_a_definition_is_reported_with_its_pointer() -> None:
    raw = {
        "code": "Bad Code",
        "trigger": {"event": "x.y", "segment": "s"},
        "reentry": "sometimes",
        "steps": [
            {"id": "a", "type": "send", "channel": "fax"},
            {"id": "a", "type": "wait"},
            {
                "id": "c",
                "type": "branch",
                "condition": {"field": "weather", "op": "is"},
                "then": "nowhere",
            },
            {"id": "d", "type": "teleport"},
            {"id": "e", "type": "wait_event", "event": "order.completed", "timeout": {"weeks": 1}},
            {"id": "f", "type": "award_points", "points": -5},
        ],
    }
    with pytest.raises(InvalidJourney) as caught:
        parse_definition(raw)
    pointers = {p.pointer for p in caught.value.problems}
    assert pointers >= {
        "/code",
        "/trigger",
        "/reentry",
        "/steps/0/channel",
        "/steps/0/template",
        "/steps/1/id",
        "/steps/1",
        "/steps/2/condition/field",
        "/steps/2/condition/op",
        "/steps/2/then",
        "/steps/3/type",
        "/steps/4/timeout",
        "/steps/5/points",
    }


def test_a_run_waits_then_sends_then_completes() -> None:
    definition = parse_definition(
        journey(
            {"id": "wait", "type": "wait", "duration": {"hours": 1}},
            {
                "id": "mail",
                "type": "send",
                "channel": "email",
                "template": "t",
                "context": {"code": "X"},
                "expires_after": {"days": 1},
            },
        )
    )
    first = enter(definition, customer_id=1, now=NOW, zone=PARIS, facts=facts())
    assert (first.status, first.step, first.wake_at, first.actions) == (
        RunStatus.ACTIVE,
        "wait",
        NOW + timedelta(hours=1),
        (),
    )
    later = NOW + timedelta(hours=1)
    second = resume(definition, "wait", customer_id=1, now=later, zone=PARIS, facts=facts())
    assert second.status is RunStatus.COMPLETED
    assert second.actions == (
        Send(
            "mail", "email", "t", {"cart_id": "C1", "code": "X"}, False, later + timedelta(days=1)
        ),
    )


def test_a_wait_until_a_local_time_uses_the_recipients_zone_across_dst() -> None:
    definition = parse_definition(
        journey(
            {"id": "w", "type": "wait", "days": 1, "at": "10:00"},
            {"id": "m", "type": "send", "channel": "sms", "template": "t"},
        )
    )
    # Saturday 24 October 2026 at 23:00 in Paris; the next day is the fall-back Sunday.
    saturday = datetime(2026, 10, 24, 23, 0, tzinfo=PARIS).astimezone(UTC)
    advance = enter(definition, customer_id=1, now=saturday, zone=PARIS, facts=facts())
    assert advance.wake_at is not None
    assert advance.wake_at.astimezone(PARIS).isoformat() == "2026-10-25T10:00:00+01:00"
    tokyo = enter(
        definition, customer_id=1, now=saturday, zone=ZoneInfo("Asia/Tokyo"), facts=facts()
    )
    assert tokyo.wake_at is not None
    # 07:00 on Sunday in Tokyo; "the next day at 10:00" is Monday.
    assert tokyo.wake_at.astimezone(ZoneInfo("Asia/Tokyo")).isoformat() == (
        "2026-10-26T10:00:00+09:00"
    )


def test_a_wait_at_a_time_already_past_today_means_tomorrow() -> None:
    definition = parse_definition(journey({"id": "w", "type": "wait", "at": "08:00"}))
    advance = enter(definition, customer_id=1, now=NOW, zone=PARIS, facts=facts())
    assert advance.wake_at == datetime(2026, 11, 3, 8, 0, tzinfo=PARIS)


def test_waiting_for_an_event_takes_one_path_on_the_event_and_another_on_timeout() -> None:
    definition = parse_definition(
        journey(
            {
                "id": "w",
                "type": "wait_event",
                "event": "order.completed",
                "timeout": {"days": 3},
                "on_event": "thanks",
                "on_timeout": "nudge",
            },
            {"id": "nudge", "type": "send", "channel": "email", "template": "nudge", "next": "end"},
            {"id": "thanks", "type": "send", "channel": "email", "template": "thanks"},
            {"id": "end", "type": "exit"},
        )
    )
    waiting = enter(definition, customer_id=1, now=NOW, zone=PARIS, facts=facts())
    assert (waiting.waiting_for, waiting.wake_at) == ("order.completed", NOW + timedelta(days=3))
    happened = resume(
        definition, "w", customer_id=1, now=NOW, zone=PARIS, facts=facts(), event="order.completed"
    )
    timed_out = resume(definition, "w", customer_id=1, now=NOW, zone=PARIS, facts=facts())
    assert [a.template for a in happened.actions if isinstance(a, Send)] == ["thanks"]
    assert [a.template for a in timed_out.actions if isinstance(a, Send)] == ["nudge"]
    assert happened.status is timed_out.status is RunStatus.EXITED


def test_a_branch_reads_the_profile_and_the_other_steps_emit_their_actions() -> None:
    definition = parse_definition(
        journey(
            {
                "id": "vip",
                "type": "branch",
                "condition": {
                    "all": [
                        {"field": "profile.value_segment", "op": "in", "value": ["high", "top"]},
                        {"not": {"field": "profile.blocked", "op": "exists"}},
                    ]
                },
                "then": "task",
                "else": "points",
            },
            {
                "id": "task",
                "type": "task",
                "kind": "call",
                "note": "n",
                "due_in": {"days": 2},
                "next": "points",
            },
            {"id": "points", "type": "award_points", "points": 50},
            {"id": "tag", "type": "update_profile", "attributes": {"won_back": True}},
        )
    )
    high = enter(definition, customer_id=1, now=NOW, zone=PARIS, facts=facts(value_segment="high"))
    low = enter(definition, customer_id=1, now=NOW, zone=PARIS, facts=facts(value_segment="low"))
    assert high.actions == (
        CreateTask("task", "call", "n", NOW + timedelta(days=2)),
        AwardPoints("points", 50, None),
        UpdateProfile("tag", {"won_back": True}),
    )
    assert [type(a) for a in low.actions] == [AwardPoints, UpdateProfile]


def test_a_random_split_is_deterministic_and_follows_its_weights() -> None:
    definition = parse_definition(
        journey(
            {
                "id": "s",
                "type": "split",
                "paths": [{"weight": 1, "next": "a"}, {"weight": 3, "next": "b"}],
            },
            {"id": "a", "type": "send", "channel": "email", "template": "a", "next": "end"},
            {"id": "b", "type": "send", "channel": "email", "template": "b"},
            {"id": "end", "type": "exit"},
        )
    )

    def path(customer_id: int) -> str:
        (send,) = enter(
            definition, customer_id=customer_id, now=NOW, zone=PARIS, facts=facts()
        ).actions
        assert isinstance(send, Send)
        return send.template

    counts = Counter(path(c) for c in range(1, 4001))
    assert 900 < counts["a"] < 1100
    assert [path(c) for c in range(1, 50)] == [path(c) for c in range(1, 50)]


def test_a_loop_without_a_wait_is_stopped() -> None:
    definition = parse_definition(
        journey(
            {
                "id": "a",
                "type": "branch",
                "condition": {"field": "profile.x", "op": "exists"},
                "then": "b",
                "else": "b",
            },
            {"id": "b", "type": "update_profile", "attributes": {"x": 1}, "next": "a"},
        )
    )
    with pytest.raises(JourneyLoop):
        enter(definition, customer_id=1, now=NOW, zone=PARIS, facts=facts())


def test_conditions_compare_safely() -> None:
    data = {"profile": {"age": 30, "tags": ["a"]}, "event": {"total": "12"}}
    assert evaluate({"field": "profile.age", "op": "gte", "value": 30}, data)
    assert not evaluate({"field": "event.total", "op": "gt", "value": 10}, data)  # text
    assert evaluate({"field": "profile.missing", "op": "ne", "value": 1}, data)
    assert not evaluate({"field": "profile.missing", "op": "eq", "value": None}, data)
    assert evaluate({"field": "profile.tags", "op": "contains", "value": "a"}, data)
    assert evaluate(
        {"any": [{"field": "profile.age", "value": 1}, {"field": "profile.age", "value": 30}]}, data
    )
