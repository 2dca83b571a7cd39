"""The registry of event subscribers. Contexts register handlers in ``fidela.wiring``; the
ingestion service calls them in the event's own transaction, in registration order.

A subscriber returns its effect (a JSON-ready dict) or None. An effect may carry
``customer_id`` when the subscriber learnt who the event is about (a return names an order,
the order names its customer): an event sent without a customer is then attached to them, so
it shows on their timeline and is part of their export and erasure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from fidela.event.rules import DispatchedEvent, matches

Subscriber = Callable[[Session, DispatchedEvent], dict[str, Any] | None]


@dataclass
class SubscriberRegistry:
    _subscribers: list[tuple[str, str, Subscriber]] = field(default_factory=list)

    def subscribe(self, pattern: str, name: str, subscriber: Subscriber) -> None:
        """Call ``subscriber`` for events matching ``pattern`` (``order.completed``,
        ``order.*`` or ``*``); what it returns is the event's effect under ``name``."""
        if any(existing == name for _, existing, _ in self._subscribers):
            raise ValueError(f"a subscriber named {name!r} is already registered")
        self._subscribers.append((pattern, name, subscriber))

    def dispatch(self, session: Session, event: DispatchedEvent) -> dict[str, Any]:
        effects: dict[str, Any] = {}
        for pattern, name, subscriber in self._subscribers:
            if matches(pattern, event.type):
                outcome = subscriber(session, event)
                if outcome:
                    effects[name] = outcome
        return effects

    @property
    def names(self) -> list[str]:
        return [name for _, name, _ in self._subscribers]


def customer_learnt(effects: dict[str, Any]) -> int | None:
    """The first customer id a subscriber learnt, if any."""
    for outcome in effects.values():
        if isinstance(outcome, dict) and isinstance(outcome.get("customer_id"), int):
            return int(outcome["customer_id"])
    return None
