"""Batches that mix plain orders with points payments, activations and activity: each member
must end where the same events sent one by one leave them, and a points payment must not
cut the batch into a wave per event."""

from __future__ import annotations

import random
from typing import Any

import pytest
from sqlalchemy import select

from fidela.event.models import Event
from fidela.ledger import service as ledger
from fidela.loyalty import earning
from fidela.loyalty.models import LoyaltyEarning
from fidela.platform.db import Database
from tests.conftest import Clock
from tests.event.builders import order, simple
from tests.loyalty.setup import LADDER, balance, create, customer_of, ingest
from tests.loyalty.test_service_holds import register

# Base points wait for the parcel; a basket bonus is spendable at once, so members can pay
# with points from their first orders; logins earn and keep points alive.
RULES: dict[str, Any] = {
    "timezone": "Europe/Paris",
    "rules": [
        {"id": "base", "kind": "spend", "rate": "1"},
        {
            "id": "bonus",
            "kind": "threshold",
            "steps": [{"min_minor": 5000, "points": 40}],
            "hold": {"kind": "none"},
        },
        {"id": "login", "kind": "event", "event": "login", "points": 5},
    ],
}
ACTIVITY = {"policies": [{"kind": "activity", "months": 6, "activity_kinds": ["login"]}]}


def _programme(database: Database, clock: Clock) -> None:
    register(database, clock(), "custom.delivered")
    create(
        database,
        clock(),
        rules=RULES,
        ladder=LADDER,
        expiry=ACTIVITY,
        hold={"kind": "event", "event": "custom.delivered"},
    )


def _paid(points: int) -> dict[str, Any]:
    return {"payments": [{"method": "points", "amount_minor": points, "points": points}]}


def _sequence(seed: int, events: int, members: int) -> list[tuple[str, int, int, int]]:
    """(kind, member, value, earlier order) for orders, payments, deliveries and logins."""
    pick = random.Random(seed)
    orders: dict[int, list[int]] = {}
    steps: list[tuple[str, int, int, int]] = []
    for number in range(events):
        member = pick.randrange(members)
        kind = pick.choice(["order", "order", "paid", "delivered", "login"])
        if kind == "delivered" and not orders.get(member):
            kind = "order"
        if kind == "delivered":
            steps.append((kind, member, 0, pick.choice(orders[member])))
            continue
        if kind in ("order", "paid"):
            orders.setdefault(member, []).append(number)
        steps.append((kind, member, pick.choice([1000, 6000, 30000, 45000]), number))
    return steps


def _bodies(prefix: str, steps: list[tuple[str, int, int, int]], clock: Clock) -> list[Any]:
    bodies: list[Any] = []
    for number, (kind, member, value, earlier) in enumerate(steps):
        customer = {"email": f"{prefix}{member}@example.com"}
        if kind == "login":
            bodies.append(simple("login", f"{prefix}-{number}", clock(), customer))
        elif kind == "delivered":
            bodies.append(
                simple(
                    "custom.delivered",
                    f"{prefix}-{number}",
                    clock(),
                    customer,
                    source="pos",
                    order_id=f"{prefix}-{earlier}",
                )
            )
        else:
            # A payment of 30 to 120 points: some members have them by then, some do not.
            extra = _paid(30 + value % 91) if kind == "paid" else {}
            bodies.append(
                order(
                    f"{prefix}-{number}",
                    clock(),
                    customer=customer,
                    lines=[("P1", 1, value)],
                    **extra,
                )
            )
    return bodies


@pytest.mark.parametrize("early", [False, True], ids=["locked", "early"])
@pytest.mark.parametrize("seed", [3, 29])
def test_a_batch_with_points_payments_and_activations_books_what_one_by_one_would(
    database: Database, clock: Clock, seed: int, early: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ``early``: the batch's first wave evaluated before its members are locked, as a batch
    # of many members is (see ``earning._evaluate_early``); its five members are too few.
    monkeypatch.setattr(earning, "EARLY_MEMBERS", 1 if early else 10**9)
    _programme(database, clock)
    steps = _sequence(seed, events=60, members=5)
    alone = [
        item.status
        for body in _bodies("a", steps, clock)
        for item in ingest(database, clock(), body)
    ]
    together = [item.status for item in ingest(database, clock(), *_bodies("b", steps, clock))]
    assert together == alone
    assert "rejected" in alone  # some payments asked for points the member did not have
    assert {kind for kind, *_ in steps} == {"order", "paid", "delivered", "login"}
    for member in sorted({member for _, member, *_ in steps}):
        a = balance(database, customer_of(database, f"a{member}@example.com"), clock())
        b = balance(database, customer_of(database, f"b{member}@example.com"), clock())
        assert (b.available, b.pending) == (a.available, a.pending)
    with database.read() as session:
        earned = {
            external_id: (points, paid)
            for external_id, points, paid in session.execute(
                select(Event.external_id, LoyaltyEarning.points, LoyaltyEarning.points_paid).join(
                    Event, Event.id == LoyaltyEarning.event_id
                )
            )
        }
        assert ledger.verify(session) == []
    numbers = [n for n in range(len(steps)) if f"a-{n}" in earned]
    assert [earned.get(f"b-{n}") for n in numbers] == [earned[f"a-{n}"] for n in numbers]
    assert len(numbers) == sum(1 for n in range(len(steps)) if f"b-{n}" in earned)


def test_points_payments_do_not_cut_a_batch_into_a_wave_per_event(
    database: Database, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ten members order three times each, the first order paid with points: the batch books
    in three waves (the busiest member's three orders), not in one per payment."""
    _programme(database, clock)
    members = [{"email": f"m{n}@example.com"} for n in range(10)]
    ingest(  # 40 spendable points each (the basket bonus)
        database,
        clock(),
        *[
            order(f"seed-{n}", clock(), customer=c, lines=[("P1", 1, 6000)])
            for n, c in enumerate(members)
        ],
    )
    waves: list[int] = []
    book = earning._flush_wave

    def counted(*args: Any, **kwargs: Any) -> bool:
        waves.append(len(args[2]))
        return book(*args, **kwargs)

    monkeypatch.setattr(earning, "_flush_wave", counted)
    bodies = [
        order(
            f"T-{n}-{k}",
            clock(),
            customer=c,
            lines=[("P1", 1, 2000)],
            **(_paid(25) if k == 0 else {}),
        )
        for n, c in enumerate(members)
        for k in range(3)
    ]
    items = ingest(database, clock(), *bodies)
    assert [item.status for item in items] == ["accepted"] * len(bodies)
    # wave 0: the ten payments, booked one by one after a wave without plain orders; waves 1
    # and 2: ten plain orders each
    assert waves == [0, 10, 10]
    for member in members:
        figures = balance(database, customer_of(database, member["email"]), clock())
        assert figures.available == 40 - 25
    with database.read() as session:
        assert ledger.verify(session) == []
