"""Charity: the registry, donations of points, and pledges of impact per purchase.

A donation is a ledger spend (rule ``donation:<charity>``) drawing from the member's
soonest-expiring lots, with a donation row valued at the charity's rate; the charity's totals
are sums over those rows on read, so donors never contend on a counter row. A pledge ("a tree
per purchase") costs the business, not the member: the ``order.completed`` subscriber records
the units each order buys, once per (pledge, event).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from fidela.customer import service as customers
from fidela.event.rules import DispatchedEvent
from fidela.kernel.errors import DomainError, FieldProblem
from fidela.kernel.money import CurrencyMismatch, Money
from fidela.ledger import service as ledger
from fidela.platform.revisions.service import Cached
from fidela.reward import repository
from fidela.reward.errors import CharityExists
from fidela.reward.models import Charity as CharityRow
from fidela.reward.models import CharityDonation
from fidela.reward.rules import (
    Donation,
    LimitPeriod,
    Pledge,
    load_charity,
    load_pledge,
    plan_donation,
    pledge_for_order,
)
from fidela.reward.rules.redemption import period_start
from fidela.reward.service import lock_member_account


@dataclass(frozen=True)
class CharityTotals:
    charity: CharityRow
    donations: int
    points: int
    value_minor: int
    pledged_minor: int


def create_charity(session: Session, *, data: Mapping[str, Any], now: datetime) -> CharityRow:
    charity = load_charity(data)
    if (
        repository.insert_charity(
            session,
            {
                "code": charity.code,
                "name": charity.name,
                "currency": charity.currency,
                "definition": dict(data),
                "active": True,
                "created_at": now,
                "updated_at": now,
            },
        )
        is None
    ):
        raise CharityExists(f"a charity '{charity.code}' exists", [FieldProblem("/code", "taken")])
    return repository.get_charity(session, charity.code)


def charities(session: Session) -> list[CharityTotals]:
    rows = repository.list_charities(session)
    totals = repository.charity_totals(session, [row.id for row in rows])
    return [CharityTotals(row, *totals[row.id]) for row in rows]


def charity(session: Session, *, code: str) -> CharityTotals:
    row = repository.get_charity(session, code)
    return CharityTotals(row, *repository.charity_totals(session, [row.id])[row.id])


def donate(
    session: Session,
    *,
    customer_id: int,
    charity_code: str,
    programme: str,
    points: int,
    now: datetime,
    actor: str | None = None,
) -> CharityDonation:
    """Give ``points`` to a charity: a ledger spend (rule ``donation:<charity>``) drawing
    from the soonest-expiring lots, and a donation row valued at the charity's rate."""
    row = repository.get_charity(session, charity_code)
    terms = load_charity(row.definition)
    customer = customers.get_customer(session, customer_id=customer_id)
    lock_member_account(session, customer_id=customer.id, programme=programme, now=now)
    available = ledger.balance(
        session, customer_id=customer.id, programme=programme, now=now
    ).available
    # The daily limit needs today's donations only; a day is at most 26 hours in any zone.
    start = period_start(LimitPeriod.DAY, now, ZoneInfo(terms.timezone)) or now - timedelta(days=2)
    history = [
        Donation(at, donated)
        for at, donated in repository.donations_since(session, customer_id=customer.id, since=start)
    ]
    plan = plan_donation(
        terms, points=points, available_points=max(0, available), history=history, now=now
    )
    ledger_ref = f"donation:{secrets.token_hex(12)}"
    donation = repository.add_donation(
        session,
        {
            "charity_id": row.id,
            "customer_id": customer.id,
            "programme": programme,
            "points": plan.points,
            "value_minor": plan.value.minor,
            "currency": plan.value.currency,
            "ledger_ref": ledger_ref,
            "actor": actor,
            "donated_at": now,
        },
    )
    ledger.spend_points(
        session,
        customer_id=customer.id,
        programme=programme,
        points=plan.points,
        now=now,
        ref=ledger_ref,
        reason=ledger.Reason(rule=f"donation:{row.code}", actor=actor),
    )
    return donation


def create_pledge(session: Session, *, data: Mapping[str, Any], now: datetime) -> Pledge:
    pledge = load_pledge(data)
    charity_row = repository.get_charity(session, pledge.charity_code)
    if pledge.unit_cost.currency != charity_row.currency:
        raise CurrencyMismatch(
            f"charity '{charity_row.code}' is paid in {charity_row.currency}",
            [FieldProblem("/currency", charity_row.currency)],
        )
    if (
        repository.insert_pledge(
            session,
            {
                "code": pledge.code,
                "charity_id": charity_row.id,
                "definition": dict(data),
                "active": True,
                "created_at": now,
                "updated_at": now,
            },
        )
        is None
    ):
        raise CharityExists(f"a pledge '{pledge.code}' exists", [FieldProblem("/code", "taken")])
    return pledge


def record_pledges(
    session: Session, events: Sequence[DispatchedEvent]
) -> list[dict[str, Any] | DomainError | None]:
    """Batch subscriber of ``order.completed``: the impact each active pledge buys for each
    order, recorded once per (pledge, event). The pledges are read once per batch (nothing
    more is read when there are none). The order total is the ``order`` effect the commerce
    subscriber left. A budgeted pledge is locked while its committed cost is read, so
    concurrent orders cannot overspend the budget; unbudgeted pledges take no lock."""
    pledges = _active_pledges.get(session)
    return [_pledges_of(session, event, pledges) if pledges else None for event in events]


def _load_active_pledges(
    session: Session,
) -> tuple[tuple[repository.ActivePledge, Pledge], ...]:
    return tuple((row, load_pledge(row.definition)) for row in repository.active_pledges(session))


# Read for every group of orders: kept while no charity or pledge changes.
_active_pledges = Cached("charity", _load_active_pledges)


def _pledges_of(
    session: Session,
    event: DispatchedEvent,
    pledges: Sequence[tuple[repository.ActivePledge, Pledge]],
) -> dict[str, Any] | None:
    order = event.effects.get("order")
    if not isinstance(order, dict) or "total_minor" not in order:
        return None
    total = Money(int(order["total_minor"]), str(order["currency"]))
    recorded: list[dict[str, Any]] = []
    for pledge_row, pledge in pledges:
        if pledge.unit_cost.currency != total.currency:
            continue  # a pledge in another currency does not apply to this order
        committed = 0
        if pledge.budget is not None:
            repository.lock_pledge(session, pledge_row.id)
            committed = repository.pledge_committed(session, pledge_row.id)
        outcome = pledge_for_order(
            pledge,
            order_total=total,
            ordered_at=event.occurred_at,
            committed=Money(committed, total.currency),
        )
        if outcome.units < 1:
            continue
        if repository.add_pledge_record(
            session,
            {
                "pledge_id": pledge_row.id,
                "charity_id": pledge_row.charity_id,
                "event_id": event.id,
                "customer_id": event.customer_id,
                "units": outcome.units,
                "cost_minor": outcome.cost.minor,
                "currency": outcome.cost.currency,
                "recorded_at": event.now,
            },
        ):
            recorded.append(
                {
                    "pledge": pledge.code,
                    "charity": pledge_row.charity_code,
                    "units": outcome.units,
                    "impact": pledge.impact,
                    "cost_minor": outcome.cost.minor,
                }
            )
    return {"pledges": recorded} if recorded else None
