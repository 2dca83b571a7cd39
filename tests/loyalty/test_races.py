"""Concurrent batches with earning active on PostgreSQL: no deadlock, exact points."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select, update

from fidela.commerce.models import SalesOrder
from fidela.customer.models import Customer
from fidela.ledger import service as ledger
from fidela.ledger.models import LedgerAccount
from fidela.platform.db import Database
from fidela.tier.models import TierMembership
from tests.conftest import T0
from tests.event.builders import order, returned, simple
from tests.loyalty.setup import LADDER, create, ingest

MEMBERS = 40


@pytest.fixture(autouse=True)
def _postgresql_only(committed_database: Database) -> None:
    if committed_database.dialect != "postgresql":
        pytest.skip("row-lock races need PostgreSQL (SQLite serialises writers at BEGIN)")


def _all_at_once(database: Database, batches: list[list[dict[str, Any]]]) -> list[list[str]]:
    """Each batch ingested by its own thread, all released at once; their items' statuses."""
    start = threading.Barrier(len(batches))

    def run(events: list[dict[str, Any]]) -> list[str]:
        start.wait(timeout=30)
        return [item.status for item in ingest(database, T0, *events)]

    with ThreadPoolExecutor(max_workers=len(batches)) as pool:
        return list(pool.map(run, batches))


def test_concurrent_batches_naming_the_same_members_in_different_orders_all_commit(
    committed_database: Database,
) -> None:
    database = committed_database
    # A ladder too, so memberships are locked as well; nobody reaches its upper level.
    ladder = {
        **LADDER,
        "levels": [LADDER["levels"][0], {**LADDER["levels"][1], "threshold": 10**6}],
    }
    create(database, T0, ladder=ladder)
    emails = [f"m{n}@example.com" for n in range(MEMBERS)]
    # Every member exists and has an account: the batches below only lock, never create.
    ingest(
        database,
        T0,
        *(order(f"FIRST-{n}", T0, customer={"email": e}) for n, e in enumerate(emails)),
    )
    with database.read() as session:
        first = session.execute(select(func.sum(LedgerAccount.available))).scalar_one()
    batches: list[list[dict[str, Any]]] = []
    for b in range(6):
        shuffled = random.Random(b).sample(emails * 2, k=2 * MEMBERS)  # each member twice
        batches.append(
            [
                order(f"B{b}-{n}", T0, customer={"email": e}, lines=[("P", 1, 1000)])
                for n, e in enumerate(shuffled)
            ]
        )
    assert _all_at_once(database, batches) == [["accepted"] * len(b) for b in batches]
    with database.read() as session:
        assert ledger.verify(session) == []
        total = session.execute(select(func.sum(LedgerAccount.available))).scalar_one()
    # Each of the 6 x 80 orders of 10 EUR earns 10 points, on top of the first orders'.
    assert total == first + 6 * 2 * MEMBERS * 10


def test_concurrent_batches_enrolling_the_same_new_members_all_commit_and_count_once(
    committed_database: Database,
) -> None:
    """The members are known customers with no account nor tier yet: each batch would
    enrol them. The first to commit must enrol them; the others must wait for it and then
    book on what it wrote (one account, one membership each, the Gold multiplier of a member
    the first batch upgraded), not fail on the membership it inserted, nor miss its points."""
    database = committed_database
    emails = [f"n{n}@example.com" for n in range(MEMBERS)]
    # Known before the programme exists: customers, but no account or membership.
    ingest(
        database,
        T0,
        *(order(f"BEFORE-{n}", T0, customer={"email": e}) for n, e in enumerate(emails)),
    )
    create(database, T0, ladder=LADDER)  # Gold from 500 points, earning double
    batches = [
        [
            order(f"N{b}-{n}", T0, customer={"email": e}, lines=[("P", 1, 30000)])
            for n, e in enumerate(random.Random(b).sample(emails, k=MEMBERS))
        ]
        for b in range(4)
    ]
    assert _all_at_once(database, batches) == [["accepted"] * len(b) for b in batches]
    with database.read() as session:
        assert ledger.verify(session) == []
        accounts = session.execute(select(LedgerAccount.customer_id, LedgerAccount.available)).all()
        memberships = session.execute(
            select(TierMembership.customer_id, TierMembership.tier_code)
        ).all()
    assert len(accounts) == len(memberships) == MEMBERS
    assert {tier for _, tier in memberships} == {"gold"}
    # In whatever order the batches commit: 300 points as a Member, 300 more (Gold from 500,
    # reached with this one), then 600 and 600 at Gold's double rate.
    assert {available for _, available in accounts} == {300 + 300 + 600 + 600}


def test_events_a_programme_has_nothing_to_do_with_wait_on_no_member(
    committed_database: Database,
) -> None:
    """Members with no account are held on their profile row before earning; a visitor
    whose page views no rule rewards is no member to enrol, and must not wait for a
    transaction holding their profile (an edit, a merge)."""
    database = committed_database
    # A customer from before the programme existed: no account.
    ingest(database, T0, order("BEFORE", T0, customer={"email": "visitor@example.com"}))
    create(database, T0, ladder=LADDER)
    with database.read() as session:
        (visitor,) = session.execute(select(Customer.id)).scalars()
    done = threading.Event()

    statuses: list[str] = []

    def view() -> None:
        page = simple("page.viewed", "V-1", T0, {"email": "visitor@example.com"}, url="/shoes")
        statuses.extend(item.status for item in ingest(database, T0, page))
        done.set()

    with database.write() as session:  # someone edits the visitor's profile meanwhile
        session.execute(update(Customer).where(Customer.id == visitor).values(city="Lyon"))
        viewer = threading.Thread(target=view, daemon=True)
        viewer.start()
        assert done.wait(timeout=20), "the page view waited for the profile's lock"
    viewer.join(timeout=20)
    assert statuses == ["accepted"]
    with database.read() as session:
        assert session.execute(select(func.count()).select_from(LedgerAccount)).scalar_one() == 0


def test_concurrent_return_batches_of_the_same_orders_never_refund_or_claw_back_twice(
    committed_database: Database,
) -> None:
    database = committed_database
    create(database, T0)
    emails = [f"r{n}@example.com" for n in range(MEMBERS)]
    # Every member's order: 4 units of 25 EUR, 100 points.
    ingest(
        database,
        T0,
        *(
            order(f"ORDER-{n}", T0, customer={"email": e}, lines=[("P", 4, 2500)])
            for n, e in enumerate(emails)
        ),
    )
    # Six batches return 3 units of every order each, the orders in a different sequence in
    # each batch: only one return of an order can take 3 of its 4 units.
    batches = [
        [
            returned(f"RET-{b}-{n}", f"ORDER-{n}", T0, lines=[(1, 3)])
            for n in random.Random(b).sample(range(MEMBERS), k=MEMBERS)
        ]
        for b in range(6)
    ]
    statuses = _all_at_once(database, batches)
    accepted = [
        int(event["data"]["order_id"].removeprefix("ORDER-"))
        for batch, answers in zip(batches, statuses, strict=True)
        for event, status in zip(batch, answers, strict=True)
        if status == "accepted"
    ]
    assert sorted(accepted) == list(range(MEMBERS))
    with database.read() as session:
        assert ledger.verify(session) == []
        total = session.execute(select(func.sum(LedgerAccount.available))).scalar_one()
        returned_minor = session.execute(select(func.sum(SalesOrder.returned_minor))).scalar_one()
    assert total == MEMBERS * 25
    assert returned_minor == MEMBERS * 7500
