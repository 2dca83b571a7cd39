"""Earning through the real event path: orders and member events become ledger lots."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from fidela.event.models import Event
from fidela.ledger import service as ledger
from fidela.ledger.models import LedgerEntry
from fidela.loyalty.models import LoyaltyCounter, LoyaltyEarning
from fidela.platform.db import Database
from tests.conftest import Clock
from tests.event.builders import order, simple
from tests.loyalty.setup import BASE_RULES, balance, create, customer_of, ingest

ANA = {"email": "ana@example.com"}


def test_orders_ingested_as_events_earn_points_with_their_reasons(
    database: Database, clock: Clock
) -> None:
    create(database, clock())
    items = ingest(
        database,
        clock(),
        order("T-1", clock(), customer=ANA, lines=[("P1", 2, 1250), ("P2", 1, 999)]),
    )
    assert items[0].status == "accepted"
    ana = customer_of(database, "ana@example.com")
    # 34.99 EUR at 1 point per euro, rounded down once.
    assert balance(database, ana, clock()).available == 34
    with database.read() as session:
        page = ledger.history(session, customer_id=ana, programme="club")
    (entry,) = page.entries
    assert entry.kind == "earn"
    assert entry.rule == "v1:base"
    assert entry.event_id is not None
    assert entry.actor == "fidela:loyalty"


def test_replaying_an_order_under_a_new_request_id_posts_nothing_twice(
    database: Database, clock: Clock
) -> None:
    create(database, clock())
    body = order("T-1", clock(), customer=ANA, lines=[("P1", 1, 5000)])
    ingest(database, clock(), body)
    clock.now += timedelta(minutes=5)
    again = ingest(database, clock(), body)
    assert again[0].status == "duplicate"
    ana = customer_of(database, "ana@example.com")
    assert balance(database, ana, clock()).available == 50
    with database.read() as session:
        earns = session.execute(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "earn")
        ).scalar_one()
        assert ledger.verify(session) == []
    assert earns == 1


def test_without_a_programme_earning_is_a_no_op(database: Database, clock: Clock) -> None:
    items = ingest(database, clock(), order("T-1", clock(), customer=ANA))
    assert items[0].status == "accepted"
    assert items[0].result.effects.get("loyalty") is None
    with database.read() as session:
        assert session.execute(select(func.count()).select_from(LedgerEntry)).scalar_one() == 0


def test_signup_event_earns_its_fixed_points(database: Database, clock: Clock) -> None:
    create(database, clock())
    ingest(database, clock(), simple("customer.signed_up", "S-1", clock(), ANA))
    ana = customer_of(database, "ana@example.com")
    assert balance(database, ana, clock()).available == 100


def test_order_in_another_currency_is_recorded_but_earns_nothing(
    database: Database, clock: Clock
) -> None:
    create(database, clock())
    body = order("T-1", clock(), customer=ANA)
    body["data"]["currency"] = "USD"
    items = ingest(database, clock(), body)
    assert items[0].status == "accepted"
    ana = customer_of(database, "ana@example.com")
    assert balance(database, ana, clock()).available == 0


def test_monthly_cap_is_kept_in_counters_across_orders(database: Database, clock: Clock) -> None:
    rules: dict[str, Any] = {
        **BASE_RULES,
        "rules": [
            {
                "id": "base",
                "kind": "spend",
                "rate": "1",
                "caps": [{"period": "month", "max_points": 80}],
            }
        ],
    }
    create(database, clock(), rules=rules)
    ingest(database, clock(), order("T-1", clock(), customer=ANA, lines=[("P1", 1, 5000)]))
    ingest(database, clock(), order("T-2", clock(), customer=ANA, lines=[("P1", 1, 5000)]))
    ana = customer_of(database, "ana@example.com")
    assert balance(database, ana, clock()).available == 80
    with database.read() as session:
        used = session.execute(
            select(LoyaltyCounter.value).where(
                LoyaltyCounter.customer_id == ana, LoyaltyCounter.kind == "points"
            )
        ).scalar_one()
    assert used == 80


def test_held_points_are_pending_during_the_return_window(database: Database, clock: Clock) -> None:
    create(database, clock(), hold={"kind": "days", "days": 14})
    ingest(database, clock(), order("T-1", clock(), customer=ANA, lines=[("P1", 1, 5000)]))
    ana = customer_of(database, "ana@example.com")
    now = balance(database, ana, clock())
    assert (now.available, now.pending) == (0, 50)
    later = balance(database, ana, clock() + timedelta(days=15))
    assert (later.available, later.pending) == (50, 0)


def test_points_are_activated_by_the_programmes_activation_event(
    database: Database, clock: Clock
) -> None:
    create(database, clock(), hold={"kind": "event", "event": "custom.delivered"})
    with database.write() as session:
        from fidela.event import service as events

        events.register_schema(
            session,
            event_type="custom.delivered",
            json_schema={"type": "object"},
            description="parcel delivered",
            expected_version=None,
            now=clock(),
        )
    ingest(database, clock(), order("T-1", clock(), customer=ANA, lines=[("P1", 1, 5000)]))
    ana = customer_of(database, "ana@example.com")
    assert balance(database, ana, clock()).pending == 50
    ingest(
        database,
        clock(),
        simple("custom.delivered", "D-1", clock(), ANA, source="pos", order_id="T-1"),
    )
    figures = balance(database, ana, clock())
    assert (figures.available, figures.pending) == (50, 0)
    with database.read() as session:
        assert ledger.verify(session) == []


def test_each_order_keeps_what_its_lines_earned(database: Database, clock: Clock) -> None:
    create(database, clock())
    ingest(
        database,
        clock(),
        order("T-1", clock(), customer=ANA, lines=[("P1", 1, 3000), ("P2", 1, 1000)]),
    )
    with database.read() as session:
        earning = session.execute(select(LoyaltyEarning)).scalar_one()
    assert earning.points == 40
    assert earning.lines == [
        {"line_no": 1, "amount_minor": 3000, "points": 30},
        {"line_no": 2, "amount_minor": 1000, "points": 10},
    ]


def test_one_batch_gives_each_event_what_one_by_one_ingestion_would(
    database: Database, clock: Clock
) -> None:
    rules: dict[str, Any] = {
        **BASE_RULES,
        "rules": [
            {"id": "base", "kind": "spend", "rate": "1"},
            {"id": "login", "kind": "event", "event": "login", "points": 10, "budget": 15},
        ],
    }
    from tests.loyalty.setup import LADDER

    create(database, clock(), rules=rules, ladder=LADDER)
    bob = {"email": "bob@example.com"}
    items = ingest(
        database,
        clock(),
        order("T-1", clock(), customer=ANA, lines=[("P1", 1, 60000)]),  # 600: Gold at once
        simple("login", "L-1", clock(), bob),
        order("T-2", clock(), customer=ANA, lines=[("P1", 1, 1000)]),  # x2 as Gold: 20
        simple("login", "L-2", clock(), ANA),  # the budget has 5 left
    )
    assert [item.status for item in items] == ["accepted"] * 4
    ana = customer_of(database, "ana@example.com")
    assert balance(database, ana, clock()).available == 600 + 20 + 5
    assert balance(database, customer_of(database, "bob@example.com"), clock()).available == 10
    with database.read() as session:
        assert ledger.verify(session) == []


def test_members_known_before_the_batch_are_booked_right_in_every_wave(
    database: Database, clock: Clock
) -> None:
    """The first wave of a batch books from the balances and tiers read when the batch
    locked them; later waves, and events booked on their own, must see what it wrote."""
    from tests.loyalty.setup import LADDER

    create(database, clock(), ladder=LADDER)
    bob = {"email": "bob@example.com"}
    ingest(
        database,
        clock(),
        order("T-0", clock(), customer=ANA, lines=[("P1", 1, 30000)]),  # 300, still Member
        order("T-00", clock(), customer=bob, lines=[("P1", 1, 10000)]),  # 100
    )
    items = ingest(
        database,
        clock(),
        order(
            "T-4",
            clock(),
            customer=bob,
            lines=[("P1", 1, 5000)],
            payments=[{"method": "points", "amount_minor": 500, "points": 50}],
        ),  # booked on its own, first: pays 50 points, earns 45 on the 45 EUR paid otherwise
        order("T-1", clock(), customer=ANA, lines=[("P1", 1, 30000)]),  # 300: Gold (600)
        order("T-2", clock(), customer=bob, lines=[("P1", 1, 2000)]),  # 20
        order("T-3", clock(), customer=ANA, lines=[("P1", 1, 1000)]),  # second wave, x2: 20
        order("T-5", clock(), customer=bob, lines=[("P1", 1, 1000)]),  # 10
    )
    assert [item.status for item in items] == ["accepted"] * 5
    ana, bob_id = customer_of(database, "ana@example.com"), customer_of(database, "bob@example.com")
    assert balance(database, ana, clock()).available == 300 + 300 + 20
    assert balance(database, bob_id, clock()).available == 100 + 20 - 50 + 45 + 10
    with database.read() as session:
        assert ledger.verify(session) == []


def test_a_batch_with_members_ordering_several_times_books_what_one_by_one_would(
    database: Database, clock: Clock
) -> None:
    """Without a rule budget, a batch books each member's first orders together, then their
    second ones, and so on (not a new wave at every repeated member): every member must end
    with what the same orders sent one by one give, tier multipliers included."""
    import random

    from tests.loyalty.setup import LADDER

    create(database, clock(), ladder=LADDER)
    pick = random.Random(11)
    sequence = [(pick.randrange(6), pick.choice([1000, 9000, 30000])) for _ in range(40)]
    one_by_one: list[dict[str, Any]] = []
    batched: list[dict[str, Any]] = []
    for number, (member, price) in enumerate(sequence):
        for prefix, bodies in (("a", one_by_one), ("b", batched)):
            bodies.append(
                order(
                    f"{prefix}-{number}",
                    clock(),
                    customer={"email": f"{prefix}{member}@example.com"},
                    lines=[("P1", 1, price)],
                )
            )
    for body in one_by_one:
        assert [item.status for item in ingest(database, clock(), body)] == ["accepted"]
    items = ingest(database, clock(), *batched)
    assert [item.status for item in items] == ["accepted"] * len(batched)
    alone = [item.status for item in ingest(database, clock(), *one_by_one)]
    assert alone == ["duplicate"] * len(one_by_one)
    for member in sorted({member for member, _ in sequence}):
        a = customer_of(database, f"a{member}@example.com")
        b = customer_of(database, f"b{member}@example.com")
        assert balance(database, b, clock()).available == balance(database, a, clock()).available
    with database.read() as session:
        earned = dict(
            session.execute(
                select(Event.external_id, LoyaltyEarning.points).join(
                    Event, Event.id == LoyaltyEarning.event_id
                )
            ).all()
        )
        assert ledger.verify(session) == []
    # order by order, the same points (a Gold member's orders count double in both)
    assert [earned[f"b-{n}"] for n in range(len(sequence))] == [
        earned[f"a-{n}"] for n in range(len(sequence))
    ]
    assert len(set(earned.values())) > len({price for _, price in sequence})  # tiers mattered
