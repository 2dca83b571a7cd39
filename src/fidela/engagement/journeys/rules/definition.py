"""The journey definition format (JSON) and its validation.

A definition is data, stored versioned, and validated whole before it is published: every
problem is reported with a JSON pointer into the definition. Shape::

    {"code": "abandoned-cart", "name": "Abandoned cart",
     "trigger": {"event": "cart.abandoned", "entry_key": "cart_id"},   # or {"segment": "..."}
     "reentry": "after_exit",            # once | once_per_key | after_exit | always
     "goal": {"event": "order.completed"},
     "marketing": true,                  # false for service alerts: no global control group
     "steps": [{"id": "wait", "type": "wait", "duration": {"hours": 1}},
               {"id": "email", "type": "send", "channel": "email", "template": "cart"}, ...]}

Steps run in list order unless they name their ``next``; a run that walks off the end has
completed. Step types: ``send``, ``wait`` (a ``duration``, or ``at`` a local time ``days``
later), ``wait_event`` (an ``event`` with a ``timeout``; ``on_event`` / ``on_timeout``),
``branch`` (a ``condition``; ``then`` / ``else``), ``split`` (weighted ``paths``),
``update_profile`` (``attributes``), ``award_points``, ``task`` and ``exit``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from typing import Any

from fidela.engagement.journeys.rules.conditions import check_condition
from fidela.engagement.journeys.rules.errors import InvalidJourney
from fidela.kernel.errors import FieldProblem

CHANNELS = ("email", "sms", "push", "in_app", "postal", "preferred")
REENTRY = ("once", "once_per_key", "after_exit", "always")
STEP_TYPES = (
    "send",
    "wait",
    "wait_event",
    "branch",
    "split",
    "update_profile",
    "award_points",
    "task",
    "exit",
)
_CODE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")
_EVENT = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")
_UNITS = ("days", "hours", "minutes")


@dataclass(frozen=True)
class Step:
    id: str
    type: str
    next: str | None  # resolved: the explicit next or the following step (None: the end)
    spec: Mapping[str, Any] = field(default_factory=dict)

    def duration(self, name: str) -> timedelta:
        value = self.spec.get(name) or {}
        return timedelta(**{unit: value.get(unit, 0) for unit in _UNITS})

    def local_time(self) -> time | None:
        at = self.spec.get("at")
        return time.fromisoformat(at) if isinstance(at, str) else None


@dataclass(frozen=True)
class Definition:
    code: str
    name: str
    trigger_event: str | None
    trigger_segment: str | None
    entry_key: str | None
    reentry: str
    goal_event: str | None
    marketing: bool
    steps: Mapping[str, Step]
    first: str

    def step(self, step_id: str) -> Step:
        return self.steps[step_id]


def _duration_problems(value: Any, pointer: str) -> list[FieldProblem]:
    if not isinstance(value, dict) or not value or set(value) - set(_UNITS):
        return [FieldProblem(pointer, "an object of days, hours and minutes")]
    bad = [u for u, v in value.items() if not isinstance(v, int) or isinstance(v, bool) or v < 0]
    if bad:
        return [FieldProblem(f"{pointer}/{u}", "a whole number, 0 or more") for u in bad]
    return []


def _text(spec: Mapping[str, Any], name: str, pointer: str) -> list[FieldProblem]:
    value = spec.get(name)
    if not isinstance(value, str) or not value:
        return [FieldProblem(f"{pointer}/{name}", "required text")]
    return []


def _step_problems(spec: Mapping[str, Any], pointer: str) -> list[FieldProblem]:
    kind = spec.get("type")
    problems: list[FieldProblem] = []
    if kind == "send":
        if spec.get("channel") not in CHANNELS:
            problems.append(FieldProblem(f"{pointer}/channel", f"one of {', '.join(CHANNELS)}"))
        problems += _text(spec, "template", pointer)
        if "context" in spec and not isinstance(spec["context"], dict):
            problems.append(FieldProblem(f"{pointer}/context", "an object"))
        if "expires_after" in spec:
            problems += _duration_problems(spec["expires_after"], f"{pointer}/expires_after")
    elif kind == "wait":
        if "duration" in spec:
            problems += _duration_problems(spec["duration"], f"{pointer}/duration")
        elif "at" in spec:
            try:
                time.fromisoformat(spec["at"])
            except (TypeError, ValueError):
                problems.append(FieldProblem(f"{pointer}/at", "a local time like 10:00"))
            days = spec.get("days", 0)
            if not isinstance(days, int) or isinstance(days, bool) or days < 0:
                problems.append(FieldProblem(f"{pointer}/days", "a whole number, 0 or more"))
        else:
            problems.append(FieldProblem(pointer, "a wait needs a duration or a local time at"))
    elif kind == "wait_event":
        if not isinstance(spec.get("event"), str) or not _EVENT.match(spec["event"]):
            problems.append(FieldProblem(f"{pointer}/event", "an event type"))
        problems += _duration_problems(spec.get("timeout"), f"{pointer}/timeout")
    elif kind == "branch":
        problems += check_condition(spec.get("condition"), f"{pointer}/condition")
    elif kind == "split":
        paths = spec.get("paths")
        if not isinstance(paths, list) or len(paths) < 2:
            problems.append(FieldProblem(f"{pointer}/paths", "at least two paths"))
        else:
            for n, path in enumerate(paths):
                weight = path.get("weight") if isinstance(path, dict) else None
                if not isinstance(weight, int) or isinstance(weight, bool) or weight <= 0:
                    problems.append(FieldProblem(f"{pointer}/paths/{n}/weight", "above 0"))
    elif kind == "update_profile":
        if not isinstance(spec.get("attributes"), dict) or not spec["attributes"]:
            problems.append(FieldProblem(f"{pointer}/attributes", "a non-empty object"))
    elif kind == "award_points":
        points = spec.get("points")
        if not isinstance(points, int) or isinstance(points, bool) or points <= 0:
            problems.append(FieldProblem(f"{pointer}/points", "a whole number above 0"))
    elif kind == "task":
        problems += _text(spec, "kind", pointer)
        if "due_in" in spec:
            problems += _duration_problems(spec["due_in"], f"{pointer}/due_in")
    elif kind != "exit":
        problems.append(FieldProblem(f"{pointer}/type", f"one of {', '.join(STEP_TYPES)}"))
    return problems


def _targets(spec: Mapping[str, Any], pointer: str) -> list[tuple[str, Any]]:
    """The step references a step makes, with their pointers."""
    found = [
        (f"{pointer}/{name}", spec[name])
        for name in ("next", "then", "else", "on_event", "on_timeout")
        if name in spec
    ]
    for n, path in enumerate(spec.get("paths") or []):
        if isinstance(path, dict) and "next" in path:
            found.append((f"{pointer}/paths/{n}/next", path["next"]))
    return found


def parse_definition(raw: Any) -> Definition:
    """The validated definition, or ``InvalidJourney`` listing every problem."""
    if not isinstance(raw, dict):
        raise InvalidJourney("a journey definition is a JSON object", [FieldProblem("", "")])
    problems: list[FieldProblem] = []
    code = raw.get("code")
    if not isinstance(code, str) or not _CODE.match(code):
        problems.append(FieldProblem("/code", "lower-case letters, digits, - _ . (≤ 100)"))
    name = raw.get("name", code)
    if not isinstance(name, str) or not name or len(name) > 200:
        problems.append(FieldProblem("/name", "1 to 200 characters"))
    trigger = raw.get("trigger")
    event = segment = entry_key = None
    if not isinstance(trigger, dict) or ("event" in trigger) == ("segment" in trigger):
        problems.append(FieldProblem("/trigger", "an object with an event or a segment"))
    else:
        event, segment, entry_key = (
            trigger.get("event"),
            trigger.get("segment"),
            trigger.get("entry_key"),
        )
        if event is not None and (not isinstance(event, str) or not _EVENT.match(event)):
            problems.append(FieldProblem("/trigger/event", "an event type"))
        if segment is not None and not isinstance(segment, str):
            problems.append(FieldProblem("/trigger/segment", "a segment code"))
        if entry_key is not None and not isinstance(entry_key, str):
            problems.append(FieldProblem("/trigger/entry_key", "a field of the event's data"))
    reentry = raw.get("reentry", "after_exit")
    if reentry not in REENTRY:
        problems.append(FieldProblem("/reentry", f"one of {', '.join(REENTRY)}"))
    goal = raw.get("goal")
    goal_event = None
    if goal is not None:
        goal_event = goal.get("event") if isinstance(goal, dict) else None
        if not isinstance(goal_event, str) or not _EVENT.match(goal_event):
            problems.append(FieldProblem("/goal/event", "an event type"))
    marketing = raw.get("marketing", True)
    if not isinstance(marketing, bool):
        problems.append(FieldProblem("/marketing", "true or false"))
    raw_steps = raw.get("steps")
    steps: dict[str, Step] = {}
    if not isinstance(raw_steps, list) or not raw_steps:
        problems.append(FieldProblem("/steps", "at least one step"))
        raw_steps = []
    ids: list[str] = []
    for n, spec in enumerate(raw_steps):
        pointer = f"/steps/{n}"
        if not isinstance(spec, dict):
            problems.append(FieldProblem(pointer, "a step is an object"))
            ids.append(f"#{n}")
            continue
        step_id = spec.get("id", f"step-{n + 1}")
        if not isinstance(step_id, str) or not _CODE.match(step_id):
            problems.append(FieldProblem(f"{pointer}/id", "lower-case letters, digits, - _ ."))
        elif step_id in ids:
            problems.append(FieldProblem(f"{pointer}/id", f"{step_id!r} is used twice"))
        ids.append(str(step_id))
        problems += _step_problems(spec, pointer)
    for n, spec in enumerate(raw_steps):
        if not isinstance(spec, dict):
            continue
        for pointer, target in _targets(spec, f"/steps/{n}"):
            if target not in ids:
                problems.append(FieldProblem(pointer, f"no step {target!r}"))
    if problems:
        raise InvalidJourney(f"the journey definition has {len(problems)} problem(s)", problems)
    for n, spec in enumerate(raw_steps):
        following = ids[n + 1] if n + 1 < len(ids) else None
        steps[ids[n]] = Step(ids[n], spec["type"], spec.get("next", following), spec)
    return Definition(
        code=str(code),
        name=str(name),
        trigger_event=event,
        trigger_segment=segment,
        entry_key=entry_key,
        reentry=reentry,
        goal_event=goal_event,
        marketing=marketing,
        steps=steps,
        first=ids[0],
    )
