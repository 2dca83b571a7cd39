"""The registry of event subscribers. Contexts register handlers in ``fidela.wiring``; the
ingestion service calls them in the events' own transaction, in registration order.

A subscriber returns its effect (a JSON-ready dict) or None; a domain error rejects the
event (ingestion then rolls back everything that event caused). An effect may carry
``customer_id`` when the subscriber learnt who the event is about (a return names an order,
the order names its customer): an event sent without a customer is then attached to them, so
it shows on their timeline and is part of their export and erasure.

Ingestion is set-based: a subscriber may register a *batch* form that receives every
matching event of a batch at once, in order, and answers one outcome per event; it must
write nothing for an event it rejects. Subscribers without a batch form are called once per
event. Later subscribers see earlier ones' effects in ``DispatchedEvent.effects``.

A subscriber may also register a *check*: a pure function of the event's validated data
(the catalogue model) that raises the domain error its subscriber would reject the event
with, where that needs nothing from the database (an order's figures). Ingestion runs the
checks with its own validation, before anything is written, so such an event is refused
alone: refused in dispatch, it would make its whole batch run again without it (everything
the batch wrote is rolled back with the event's). What a check returns (not None) reaches
the subscribers in ``DispatchedEvent.checked``, keyed by the check itself, so the work is
not done twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from fidela.event.rules import DispatchedEvent, matches
from fidela.kernel.errors import DomainError

Effect = dict[str, Any] | None
Subscriber = Callable[[Session, DispatchedEvent], Effect]
BatchSubscriber = Callable[[Session, Sequence[DispatchedEvent]], list[Effect | DomainError]]
Check = Callable[[Any], Any]


@dataclass(frozen=True)
class _Registration:
    pattern: str
    name: str
    one: Subscriber | None
    many: BatchSubscriber | None
    check: Check | None = None


@dataclass
class SubscriberRegistry:
    _subscribers: list[_Registration] = field(default_factory=list)

    def subscribe(
        self,
        pattern: str,
        name: str,
        subscriber: Subscriber | None = None,
        *,
        batch: BatchSubscriber | None = None,
        check: Check | None = None,
    ) -> None:
        """Call ``subscriber`` (or ``batch`` with all matching events of a batch) for events
        matching ``pattern`` (``order.completed``, ``order.*`` or ``*``); what it returns is
        the event's effect under ``name``. ``check``: see the module's last paragraph."""
        if subscriber is None and batch is None:
            raise ValueError("give a subscriber, a batch subscriber or both")
        if any(existing.name == name for existing in self._subscribers):
            raise ValueError(f"a subscriber named {name!r} is already registered")
        self._subscribers.append(_Registration(pattern, name, subscriber, batch, check))

    def check(self, event_type: str, data: Any) -> dict[Check, Any]:
        """Run the checks registered for ``event_type`` on its validated data (raises the
        first one's domain error); what they returned, by check."""
        checked: dict[Check, Any] = {}
        for registration in self._subscribers:
            if registration.check is not None and matches(registration.pattern, event_type):
                found = registration.check(data)
                if found is not None:
                    checked[registration.check] = found
        return checked

    def dispatch_many(
        self, session: Session, events: Sequence[DispatchedEvent]
    ) -> list[dict[str, Any] | DomainError]:
        """Each event's effects (its ``effects`` dict, filled in), or the first error a
        subscriber raised for it; a rejected event goes to no further subscriber."""
        failed: dict[int, DomainError] = {}
        for registration in self._subscribers:
            chosen = [
                n
                for n, event in enumerate(events)
                if n not in failed and matches(registration.pattern, event.type)
            ]
            if not chosen:
                continue
            outcomes = self._call(session, registration, [events[n] for n in chosen])
            for n, outcome in zip(chosen, outcomes, strict=True):
                if isinstance(outcome, DomainError):
                    failed[n] = outcome
                elif outcome:
                    events[n].effects[registration.name] = outcome
        return [failed.get(n, event.effects) for n, event in enumerate(events)]

    @staticmethod
    def _call(
        session: Session, registration: _Registration, events: list[DispatchedEvent]
    ) -> list[Effect | DomainError]:
        if registration.many is not None:
            return registration.many(session, events)
        one = registration.one
        if one is None:  # subscribe() refuses a registration with neither form
            raise TypeError(f"subscriber {registration.name!r} has no form to call")
        outcomes: list[Effect | DomainError] = []
        for event in events:
            try:
                outcomes.append(one(session, event))
            except DomainError as error:
                outcomes.append(error)
        return outcomes

    @property
    def names(self) -> list[str]:
        return [registration.name for registration in self._subscribers]


def customer_learnt(effects: dict[str, Any]) -> int | None:
    """The first customer id a subscriber learnt, if any."""
    for outcome in effects.values():
        if isinstance(outcome, dict) and isinstance(outcome.get("customer_id"), int):
            return int(outcome["customer_id"])
    return None
