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

from fidela.analytics import snapshots as analytics_snapshots
from fidela.commerce import service as commerce
from fidela.customer.merge import MergeHandler
from fidela.customer.rules import CustomerPolicy, parse_priority
from fidela.engagement.journeys import service as journeys
from fidela.event.dispatch import SubscriberRegistry
from fidela.ledger import service as ledger
from fidela.loyalty import earning as loyalty_earning
from fidela.loyalty import members as loyalty_members
from fidela.loyalty import returns as loyalty_returns
from fidela.loyalty.referral import service as referrals
from fidela.migrations import metadata as _all_models  # noqa: F401 - loads every table
from fidela.platform.settings import Settings
from fidela.reward import charity as reward_charity
from fidela.segment import service as segments
from fidela.tier import service as tiers

CustomerView = Callable[[Session, int, datetime], dict[str, Any]]
SegmentLookup = Callable[[Session, int, datetime], frozenset[str]]


def member_segments(session: Session, customer_id: int, now: datetime) -> frozenset[str]:
    """The keys of the segments the customer is in now: what reward visibility by segment
    checks (the reward context sits below segments, so the shells hand this lookup over)."""
    del now  # memberships are materialised: the current rows are the answer
    return segments.current_keys(session, [customer_id])[customer_id]


@dataclass(frozen=True)
class Wiring:
    policy: CustomerPolicy
    subscribers: SubscriberRegistry
    customer_views: Mapping[str, CustomerView] = field(default_factory=dict)
    merge_handlers: Mapping[str, MergeHandler] = field(default_factory=dict)
    # Never the caller's word: a request claiming a segment must not widen what it sees.
    member_segments: SegmentLookup = member_segments


def customer_policy(settings: Settings) -> CustomerPolicy:
    return CustomerPolicy(
        default_region=settings.default_phone_region,
        match_priority=parse_priority(settings.identity_match_priority),
        erasure_salt=settings.erasure_salt,
    )


def build_wiring(settings: Settings) -> Wiring:
    subscribers = SubscriberRegistry()
    # The check refuses an order with bad figures before anything is written (not in
    # dispatch, where it would send the whole batch round again).
    subscribers.subscribe(
        "order.completed", "order", batch=commerce.record_orders, check=commerce.check_order
    )
    subscribers.subscribe("order.returned", "return", batch=commerce.record_returns)
    # After "order" and "return": earning reads the recorded order, clawback the return.
    subscribers.subscribe("*", "loyalty", batch=loyalty_earning.earn_on_events)
    subscribers.subscribe(
        "order.returned", "loyalty_return", batch=loyalty_returns.claw_back_on_returns
    )
    # After "order": both read the order the commerce subscriber recorded.
    subscribers.subscribe("order.completed", "charity_pledges", batch=reward_charity.record_pledges)
    subscribers.subscribe("order.completed", "referral_purchase", batch=referrals.on_orders)
    subscribers.subscribe("customer.signed_up", "referral_signup", referrals.on_signup)
    # Last: goals and triggers read what the others recorded (the order and its customer).
    subscribers.subscribe("*", "journeys", batch=journeys.on_events)
    return Wiring(
        policy=customer_policy(settings),
        subscribers=subscribers,
        customer_views={
            "loyalty": loyalty_members.summary_for,
            "orders": commerce.summary_for,
            "segments": segments.segments_for,
            "scores": analytics_snapshots.scores_for,
        },
        # Two accounts in one programme must be combined, not re-pointed (unique key).
        merge_handlers={
            "tier_membership": tiers.merge_memberships,
            "ledger_account": ledger.merge_accounts,
            # One referral per referee and one code per member: not a plain re-point.
            "referral": referrals.merge_referrals,
            "referral_code": referrals.merge_codes,
        },
    )
