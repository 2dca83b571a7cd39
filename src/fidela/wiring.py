"""How the contexts plug into each other, in one explicit place.

Event subscribers, customer-360 sections and merge handlers are registered here rather than
as import side effects, so what runs for an event is readable in one file and nothing
depends on import order. Importing ``fidela.migrations.metadata`` loads every model: merge,
export and erasure walk the complete schema.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from fidela.commerce import service as commerce
from fidela.customer.merge import MergeHandler
from fidela.customer.rules import CustomerPolicy, parse_priority
from fidela.event.dispatch import SubscriberRegistry
from fidela.ledger import service as ledger
from fidela.migrations import metadata as _all_models  # noqa: F401 - loads every table
from fidela.platform.settings import Settings

CustomerView = Callable[[Session, int, datetime], dict[str, Any]]


@dataclass(frozen=True)
class Wiring:
    policy: CustomerPolicy
    subscribers: SubscriberRegistry
    customer_views: Mapping[str, CustomerView] = field(default_factory=dict)
    merge_handlers: Mapping[str, MergeHandler] = field(default_factory=dict)


def customer_policy(settings: Settings) -> CustomerPolicy:
    return CustomerPolicy(
        default_region=settings.default_phone_region,
        match_priority=parse_priority(settings.identity_match_priority),
        erasure_salt=settings.erasure_salt,
    )


def build_wiring(settings: Settings) -> Wiring:
    subscribers = SubscriberRegistry()
    subscribers.subscribe("order.completed", "order", batch=commerce.record_orders)
    subscribers.subscribe("order.returned", "return", commerce.record_return)
    return Wiring(
        policy=customer_policy(settings),
        subscribers=subscribers,
        customer_views={"orders": commerce.summary_for},
        # Two accounts in one programme must be combined, not re-pointed (unique key).
        merge_handlers={"ledger_account": ledger.merge_accounts},
    )
