"""Event rules.

Concepts:
- An **event** is identified by its business key ``(source, external_id, type)``: the system
  that sent it, its id there, and what happened. The key is claimed once; a replay (a retry,
  a re-import, a re-sent webhook, whatever the request id) changes nothing and gets the first
  result back.
- Its ``data`` must match the catalogue entry of its type, or the JSON schema registered for
  a ``custom.*`` type.
- **Subscribers** (loyalty earning, order recording, journeys...) run in the transaction that
  claims the event, so an event and its effects commit together or not at all.
- **Retention**: raw events older than the retention period are deleted by a daily job;
  business records derived from them (orders, ledger entries) are kept.

Invariants: one stored event per business key; a batch never loses an accepted event because
another one in it was invalid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fidela.kernel.errors import (
    Conflict,
    DomainError,
    ErrorKind,
    FieldProblem,
    NotFound,
    PayloadInvalid,
)

MAX_BATCH = 1_000
_TYPE_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
_SOURCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")


class UnknownEventType(PayloadInvalid):
    code = "event_type_unknown"
    title = "Unknown event type"


class InvalidEvent(PayloadInvalid):
    code = "event_invalid"
    title = "Invalid event"


class BatchTooLarge(PayloadInvalid):
    code = "batch_too_large"
    title = "Too many events in one batch"


class CustomerRequired(PayloadInvalid):
    code = "event_customer_required"
    title = "This event type needs a customer"


class EventSchemaNotFound(NotFound):
    code = "event_schema_not_found"
    title = "No schema registered for this custom event type"


class EventSchemaInvalid(DomainError):
    code = "event_schema_invalid"
    kind = ErrorKind.INVALID
    title = "Not a valid JSON schema"


class EventSchemaConflict(Conflict):
    code = "event_schema_conflict"
    title = "The schema changed since you read it"


def validate_type_name(name: str, pointer: str = "/type") -> str:
    if not _TYPE_NAME.match(name) or len(name) > 100:
        raise UnknownEventType(
            f"'{name}' is not an event type name",
            [FieldProblem(pointer, "lower-case dotted name such as order.completed")],
        )
    return name


def validate_source(source: str, pointer: str = "/source") -> str:
    if not _SOURCE.match(source):
        raise InvalidEvent(
            f"'{source}' is not a valid source",
            [FieldProblem(pointer, "1-100 letters, digits, '_', '.', ':' or '-'")],
        )
    return source


def check_batch_size(count: int) -> None:
    if count > MAX_BATCH:
        raise BatchTooLarge(
            f"a batch holds at most {MAX_BATCH} events; this one has {count}",
            [FieldProblem("/events", f"at most {MAX_BATCH} items")],
        )


def repoint(problems: list[FieldProblem], prefix: str) -> list[FieldProblem]:
    """Prefix field pointers (``/data/...`` inside event 3 of a batch is ``/events/3/data/...``)."""
    return [FieldProblem(prefix + p.pointer, p.message) for p in problems]


def retention_cutoff(now: datetime, days: int) -> datetime:
    if days < 1:
        raise ValueError("retention is at least one day")
    return now - timedelta(days=days)


@dataclass(frozen=True)
class DispatchedEvent:
    """What a subscriber receives: the stored event, its validated data and the clock."""

    id: int
    type: str
    source: str
    external_id: str
    occurred_at: datetime
    customer_id: int | None
    data: dict[str, Any]
    now: datetime
    effects: dict[str, Any] = field(default_factory=dict)
    payload: Any = None  # the validated catalogue model of ``data``, when there is one
    # What each subscriber's check made of the event, by check (see ``fidela.event.dispatch``).
    checked: dict[Any, Any] = field(default_factory=dict)


def matches(pattern: str, event_type: str) -> bool:
    """``order.completed`` matches itself, ``order.*`` and ``*``."""
    if pattern in ("*", event_type):
        return True
    return pattern.endswith(".*") and event_type.startswith(pattern[:-1])
