"""A programme's settings in their JSON form: the pending window (hold), the expiry
schedule and the return policy, read with a JSON pointer for every problem.

Hold::

    {"kind": "none"} | {"kind": "days", "days": 30} | {"kind": "event", "event": "custom.delivered"}

Expiry (a schedule: each policy governs the lots earned from its ``effective_from``)::

    {"policies": [{"kind": "fixed", "months": 12, "round_to": "month",
                   "effective_from": "2026-01-01T00:00:00Z", "timezone": "Europe/Paris"},
                  {"kind": "activity", "months": 18,
                   "activity_kinds": ["order.completed", "login"]}]}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fidela.kernel.errors import FieldProblem, InvalidInput
from fidela.ledger.rules import (
    ActivityExpiry,
    ExpiryPolicy,
    ExpirySchedule,
    FixedExpiry,
    Hold,
    HoldKind,
    InvalidExpiryPolicy,
    NoExpiry,
    RoundTo,
)
from fidela.ledger.rules.returns import ReturnPolicy


class InvalidProgramme(InvalidInput):
    code = "programme_invalid"
    title = "Invalid programme settings"


@dataclass(frozen=True)
class HoldConfig:
    """The pending window of earned points; ``event`` names the activation event type."""

    hold: Hold
    event: str | None = None


def _fail(pointer: str, message: str) -> InvalidProgramme:
    return InvalidProgramme(f"{pointer}: {message}", [FieldProblem(pointer, message)])


def _int(data: Mapping[str, Any], key: str, pointer: str, default: int = 0) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _fail(f"{pointer}/{key}", "must be a whole number >= 0")
    return value


def _only(data: object, pointer: str, allowed: set[str]) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise _fail(pointer or "/", "must be an object")
    unknown = sorted(str(key) for key in data if key not in allowed)
    if unknown:
        raise _fail(f"{pointer}/{unknown[0]}", "unknown field")
    return data


def read_hold(data: object, pointer: str = "/hold") -> HoldConfig:
    body = _only(data, pointer, {"kind", "days", "event"})
    kind = body.get("kind", "none")
    if kind == "none":
        return HoldConfig(Hold.immediate())
    if kind == "days":
        days = _int(body, "days", pointer)
        if days == 0:
            raise _fail(f"{pointer}/days", "a hold in days needs days > 0")
        return HoldConfig(Hold.for_days(days))
    if kind == "event":
        event = body.get("event")
        if not isinstance(event, str) or not event.strip() or len(event) > 100:
            raise _fail(f"{pointer}/event", "name the event type that activates the points")
        return HoldConfig(Hold.until_event(event), event)
    raise _fail(f"{pointer}/kind", "must be none, days or event")


def _instant(value: object, pointer: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise _fail(pointer, "must be an ISO 8601 instant with a UTC offset") from None
    if parsed.tzinfo is None:
        raise _fail(pointer, "must carry a UTC offset")
    return parsed


def _policy(data: object, pointer: str) -> ExpiryPolicy:
    keys = {"kind", "months", "days", "round_to", "effective_from", "timezone"}
    body = _only(data, pointer, keys | {"activity_kinds", "counts_zero_points"})
    kind = body.get("kind")
    since = _instant(body.get("effective_from"), f"{pointer}/effective_from")
    timezone = str(body.get("timezone", "UTC"))
    try:
        if kind == "none":
            return NoExpiry(effective_from=since)
        if kind == "fixed":
            round_to = body.get("round_to", "day")
            if round_to not in {item.value for item in RoundTo}:
                raise _fail(f"{pointer}/round_to", "must be day, month, quarter, half_year or year")
            return FixedExpiry(
                months=_int(body, "months", pointer),
                days=_int(body, "days", pointer),
                round_to=RoundTo(round_to),
                effective_from=since,
                timezone=timezone,
            )
        if kind == "activity":
            kinds = body.get("activity_kinds")
            if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
                raise _fail(f"{pointer}/activity_kinds", "must be a list of event types")
            return ActivityExpiry(
                months=_int(body, "months", pointer),
                days=_int(body, "days", pointer),
                activity_kinds=frozenset(kinds),
                counts_zero_points=bool(body.get("counts_zero_points", True)),
                effective_from=since,
                timezone=timezone,
            )
    except InvalidExpiryPolicy as error:
        problems = [FieldProblem(f"{pointer}{p.pointer}", p.message) for p in error.problems]
        raise InvalidProgramme(error.detail, problems) from None
    raise _fail(f"{pointer}/kind", "must be none, fixed or activity")


def read_expiry(data: object, pointer: str = "/expiry") -> ExpirySchedule:
    body = _only(data, pointer, {"policies"})
    policies = body.get("policies", [])
    if not isinstance(policies, list):
        raise _fail(f"{pointer}/policies", "must be a list")
    read = tuple(_policy(item, f"{pointer}/policies/{n}") for n, item in enumerate(policies))
    try:
        return ExpirySchedule(read)
    except InvalidExpiryPolicy as error:
        raise _fail(f"{pointer}/policies", error.detail) from None


def read_return_policy(value: object, pointer: str = "/return_policy") -> ReturnPolicy:
    if value not in {item.value for item in ReturnPolicy}:
        raise _fail(pointer, "must be only_pending, within_balance or unlimited")
    return ReturnPolicy(str(value))


def activity_kinds(schedule: ExpirySchedule) -> frozenset[str]:
    """Every event type that counts as activity under some policy of the schedule."""
    kinds: set[str] = set()
    for policy in schedule.policies:
        if isinstance(policy, ActivityExpiry):
            kinds |= policy.activity_kinds
    return frozenset(kinds)


__all__ = [
    "HoldConfig",
    "HoldKind",
    "InvalidProgramme",
    "activity_kinds",
    "read_expiry",
    "read_hold",
    "read_return_policy",
]
