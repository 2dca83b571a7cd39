"""The step machine: from where a customer's run stands, walk the steps until the run must
wait (a delay, or an event with a timeout) or ends, and say what to do on the way.

Pure: the shell passes ``now``, the recipient's zone and the facts the conditions read, then
carries out the actions (sends through the send-time policy, points, profile, tasks) in the
same transaction as the new state. A wait is never a sleep or a queue delay: it becomes the
run's ``wake_at``, which a worker job polls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from fidela.engagement.journeys.rules.conditions import evaluate
from fidela.engagement.journeys.rules.definition import Definition, Step
from fidela.engagement.journeys.rules.errors import JourneyLoop
from fidela.engagement.policy.rules.quiet_hours import local_instant
from fidela.experiment.rules.assignment import bucket

# Steps one advance may run without waiting; a definition looping through branches without a
# wait would otherwise spin forever inside a transaction.
MAX_STEPS = 100


class RunStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"  # walked off the last step
    EXITED = "exited"  # an exit step
    CONVERTED = "converted"  # the goal happened
    CONTROL = "control"  # in the global control group: entered nothing


FINISHED = frozenset(
    {RunStatus.COMPLETED, RunStatus.EXITED, RunStatus.CONVERTED, RunStatus.CONTROL}
)


@dataclass(frozen=True)
class Send:
    step: str
    channel: str  # a channel, or "preferred" (the customer's choice among consented ones)
    template: str
    context: Mapping[str, Any]
    transactional: bool
    expires_at: datetime | None


@dataclass(frozen=True)
class AwardPoints:
    step: str
    points: int
    programme: str | None


@dataclass(frozen=True)
class UpdateProfile:
    step: str
    attributes: Mapping[str, Any]


@dataclass(frozen=True)
class CreateTask:
    step: str
    kind: str
    note: str
    due_at: datetime | None


Action = Send | AwardPoints | UpdateProfile | CreateTask


@dataclass(frozen=True)
class Advance:
    status: RunStatus
    step: str | None = None  # the step the run waits at
    waiting_for: str | None = None  # the event type a wait_event step waits for
    wake_at: datetime | None = None
    actions: tuple[Action, ...] = ()
    visited: tuple[str, ...] = field(default_factory=tuple)


def wake_time(step: Step, now: datetime, zone: ZoneInfo) -> datetime:
    at = step.local_time()
    if at is None:
        return now + step.duration("duration")
    days = int(step.spec.get("days", 0))
    day = now.astimezone(zone).date() + timedelta(days=days)
    wake = local_instant(day, at, zone)
    if wake <= now:  # "at 10:00" when it is already past 10:00: tomorrow's
        wake = local_instant(day + timedelta(days=1), at, zone)
    return wake


def _split(definition: Definition, step: Step, customer_id: int) -> str | None:
    paths = step.spec["paths"]
    total = sum(int(path["weight"]) for path in paths)
    value = bucket(f"journey:{definition.code}:{step.id}", customer_id) * total // 10_000
    cumulative = 0
    for path in paths:
        cumulative += int(path["weight"])
        if value < cumulative:
            target = path.get("next", step.next)
            return str(target) if target is not None else None
    return step.next  # pragma: no cover - the weights cover every bucket


def _run(
    definition: Definition,
    cursor: str | None,
    *,
    customer_id: int,
    now: datetime,
    zone: ZoneInfo,
    facts: Mapping[str, Any],
) -> Advance:
    actions: list[Action] = []
    visited: list[str] = []
    for _ in range(MAX_STEPS):
        if cursor is None:
            return Advance(RunStatus.COMPLETED, actions=tuple(actions), visited=tuple(visited))
        step = definition.step(cursor)
        visited.append(step.id)
        spec = step.spec
        if step.type == "send":
            expires = spec.get("expires_after")
            actions.append(
                Send(
                    step.id,
                    spec["channel"],
                    spec["template"],
                    {**facts.get("context", {}), **spec.get("context", {})},
                    bool(spec.get("transactional", False)),
                    now + step.duration("expires_after") if expires else None,
                )
            )
        elif step.type == "wait":
            wake = wake_time(step, now, zone)
            if wake > now:
                return Advance(
                    RunStatus.ACTIVE, step.id, None, wake, tuple(actions), tuple(visited)
                )
        elif step.type == "wait_event":
            return Advance(
                RunStatus.ACTIVE,
                step.id,
                spec["event"],
                now + step.duration("timeout"),
                tuple(actions),
                tuple(visited),
            )
        elif step.type == "branch":
            chosen = "then" if evaluate(spec["condition"], facts) else "else"
            cursor = spec.get(chosen, step.next)
            continue
        elif step.type == "split":
            cursor = _split(definition, step, customer_id)
            continue
        elif step.type == "update_profile":
            actions.append(UpdateProfile(step.id, dict(spec["attributes"])))
        elif step.type == "award_points":
            actions.append(AwardPoints(step.id, int(spec["points"]), spec.get("programme")))
        elif step.type == "task":
            due = now + step.duration("due_in") if "due_in" in spec else None
            actions.append(CreateTask(step.id, spec["kind"], spec.get("note", ""), due))
        elif step.type == "exit":
            return Advance(RunStatus.EXITED, actions=tuple(actions), visited=tuple(visited))
        cursor = step.next
    raise JourneyLoop(f"journey {definition.code!r} ran {MAX_STEPS} steps without waiting")


def enter(
    definition: Definition,
    *,
    customer_id: int,
    now: datetime,
    zone: ZoneInfo,
    facts: Mapping[str, Any],
) -> Advance:
    return _run(
        definition, definition.first, customer_id=customer_id, now=now, zone=zone, facts=facts
    )


def resume(
    definition: Definition,
    waiting_at: str,
    *,
    customer_id: int,
    now: datetime,
    zone: ZoneInfo,
    facts: Mapping[str, Any],
    event: str | None = None,
) -> Advance:
    """Continue after the step the run waits at: its delay is over, its awaited ``event``
    happened, or its timeout passed (``event`` None at a wait_event)."""
    step = definition.step(waiting_at)
    cursor = step.next
    if step.type == "wait_event":
        cursor = step.spec.get("on_event" if event else "on_timeout", step.next)
    return _run(definition, cursor, customer_id=customer_id, now=now, zone=zone, facts=facts)
