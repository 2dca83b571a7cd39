"""Set-based ingestion gives, for each event, the answer one-by-one ingestion would give."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from fidela.commerce import service as commerce
from fidela.commerce.models import SalesOrder, SalesOrderLine
from fidela.commerce.rules import OrderTotalMismatch
from fidela.customer.models import Customer, CustomerIdentity
from fidela.event import repository
from fidela.event import service as events
from fidela.event.dispatch import SubscriberRegistry
from fidela.event.models import Event
from fidela.event.schemas import EventResult
from fidela.platform.db import Database
from tests.conftest import Clock
from tests.customer.fixtures import context
from tests.event.builders import order, returned, simple


def batch(database: Database, clock: Clock, bodies: list[dict[str, Any]]) -> list[Any]:
    with database.write() as session:
        return events.ingest_batch(session, events=bodies, context=context(clock()))


def count(database: Database, model: type[Any]) -> int:
    with database.read() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def test_two_events_naming_one_new_email_create_one_profile(
    database: Database, clock: Clock
) -> None:
    items = batch(
        database,
        clock,
        [
            order("T-1", clock(), customer={"email": "ana@example.com"}),
            order("T-2", clock(), customer={"email": "ANA@example.com", "card": "2900001234567"}),
        ],
    )
    first, second = (item.result for item in items)
    assert first.customer_created is True
    assert second.customer_created is False
    assert second.customer_id == first.customer_id
    assert count(database, Customer) == 1
    # The card named by the second event is attached to the profile the first one created.
    assert count(database, CustomerIdentity) == 2


def test_event_rejected_after_its_claim_leaves_nothing_and_costs_the_others_nothing(
    database: Database, clock: Clock
) -> None:
    items = batch(
        database,
        clock,
        [
            order("T-1", clock(), customer={"email": "ana@example.com"}),
            returned("R-1", "NO-SUCH-ORDER", clock(), amount_minor=100),
            order("T-2", clock(), customer={"email": "bob@example.com"}),
        ],
    )
    assert [item.status for item in items] == ["accepted", "rejected", "accepted"]
    assert items[1].problem is not None
    assert items[1].problem.code == "order_unknown"
    assert items[1].problem.errors[0]["pointer"] == "/events/1/data/order_id"
    with database.read() as session:
        keys = set(session.execute(select(Event.external_id)).scalars())
    assert keys == {"T-1", "T-2"}
    assert count(database, SalesOrder) == 2
    assert count(database, SalesOrderLine) == 2
    assert count(database, Customer) == 2


def test_profile_created_by_a_rejected_event_does_not_survive_it(
    database: Database, clock: Clock
) -> None:
    bad_return = returned("R-1", "NO-SUCH-ORDER", clock(), amount_minor=100)
    bad_return["customer"] = {"email": "ghost@example.com"}
    items = batch(
        database, clock, [bad_return, simple("login", "L-1", clock(), {"email": "x@example.com"})]
    )
    assert [item.status for item in items] == ["rejected", "accepted"]
    assert count(database, Customer) == 1
    with database.read() as session:
        values = set(session.execute(select(CustomerIdentity.value)).scalars())
    assert values == {"x@example.com"}


def test_same_key_twice_in_one_batch_is_stored_once_and_answered_as_a_replay(
    database: Database, clock: Clock
) -> None:
    body = order("T-1", clock(), customer={"email": "ana@example.com"})
    items = batch(database, clock, [body, body])
    assert [item.status for item in items] == ["accepted", "duplicate"]
    assert items[1].result.model_dump() == {**items[0].result.model_dump(), "replayed": True}
    assert count(database, Event) == 1
    assert count(database, SalesOrder) == 1


def test_return_of_an_order_in_the_same_batch_finds_it(database: Database, clock: Clock) -> None:
    items = batch(
        database,
        clock,
        [
            order("T-1", clock(), customer={"card": "2900001234567"}, lines=[("P1", 2, 1000)]),
            returned("R-1", "T-1", clock(), lines=[(1, 1)]),
        ],
    )
    assert [item.status for item in items] == ["accepted", "accepted"]
    assert items[1].result.effects["return"]["amount_minor"] == 1000
    # The return named no customer: the order's customer is learnt and recorded.
    assert items[1].result.customer_id == items[0].result.customer_id


def test_unknown_customer_id_rejects_only_its_event(database: Database, clock: Clock) -> None:
    items = batch(
        database,
        clock,
        [
            order("T-1", clock(), customer={"id": 987654}),
            order("T-2", clock(), customer={"email": "ana@example.com"}),
        ],
    )
    assert [item.status for item in items] == ["rejected", "accepted"]
    assert items[0].problem is not None
    assert items[0].problem.code == "customer_not_found"


def test_unisolated_ingestion_hands_a_failing_batch_back_instead_of_half_storing_it(
    database: Database, clock: Clock
) -> None:
    bodies = [
        order("T-1", clock(), customer={"email": "ana@example.com"}),
        returned("R-1", "NO-SUCH-ORDER", clock(), amount_minor=100),
    ]
    parsed = [events.parse_event(body) for body in bodies]
    with pytest.raises(events.NeedsIsolation), database.write() as session:
        events.ingest_many(session, parsed, context=context(clock()), isolated=False)
    # The caller's transaction rolled back: nothing of the first event is left.
    assert count(database, Event) == 0
    assert count(database, Customer) == 0
    with database.write() as session:
        outcomes = events.ingest_many(session, parsed, context=context(clock()))
    # The isolated form, which the caller runs next, leaves the failing event out.
    assert [type(outcome).__name__ for outcome in outcomes] == ["EventResult", "UnknownOrder"]
    assert count(database, Event) == 1


def test_unisolated_ingestion_of_clean_events_answers_as_the_isolated_one_does(
    database: Database, clock: Clock
) -> None:
    first = order("T-1", clock(), customer={"email": "ana@example.com"})
    with database.write() as session:
        (result,) = events.ingest_many(
            session, [events.parse_event(first)], context=context(clock()), isolated=False
        )
    with database.write() as session:
        (replay,) = events.ingest_many(
            session, [events.parse_event(first)], context=context(clock())
        )
    assert isinstance(result, EventResult)
    assert isinstance(replay, EventResult)
    assert replay.model_dump() == {**result.model_dump(), "replayed": True}
    assert count(database, SalesOrder) == 1


def test_an_order_with_bad_figures_is_refused_before_anything_is_written(
    database: Database, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commerce's check runs with the validation: the order is refused alone, and the batch
    claims the others once instead of rolling back and running again without it."""
    claimed: list[int] = []
    claim = repository.claim_events

    def counted(session: Any, rows: list[dict[str, Any]]) -> Any:
        claimed.append(len(rows))
        return claim(session, rows)

    monkeypatch.setattr(repository, "claim_events", counted)
    items = batch(
        database,
        clock,
        [
            order("T-1", clock(), customer={"email": "ana@example.com"}),
            order("T-bad", clock(), customer={"email": "bob@example.com"}, total_minor=1),
            order("T-2", clock(), customer={"email": "cyd@example.com"}),
        ],
    )
    assert [item.status for item in items] == ["accepted", "rejected", "accepted"]
    assert items[1].problem is not None
    assert items[1].problem.code == "order_total_mismatch"
    assert [e["pointer"] for e in items[1].problem.errors] == ["/events/1/data/total_minor"]
    assert claimed == [2]
    assert count(database, SalesOrder) == 2
    assert count(database, Customer) == 2


def test_unisolated_ingestion_refuses_bad_figures_without_handing_the_group_back(
    database: Database, clock: Clock
) -> None:
    parsed = [
        events.parse_event(order("T-1", clock(), customer={"email": "ana@example.com"})),
        events.parse_event(order("T-bad", clock(), total_minor=1)),
    ]
    with database.write() as session:
        outcomes = events.ingest_many(session, parsed, context=context(clock()), isolated=False)
    assert isinstance(outcomes[0], EventResult)
    assert isinstance(outcomes[1], OrderTotalMismatch)
    assert count(database, Event) == 1


def test_a_check_runs_for_the_types_its_pattern_matches_only() -> None:
    def nothing(_session: Any, events: Any) -> list[Any]:
        return [None] * len(events)

    seen: list[Any] = []
    registry = SubscriberRegistry()
    registry.subscribe("order.*", "orders", batch=nothing, check=seen.append)
    registry.subscribe("login", "logins", batch=nothing)
    assert registry.check("order.completed", "data") == {}  # the check returned None
    assert registry.check("login", "other") == {}
    assert seen == ["data"]
    registry.subscribe("order.completed", "sizes", batch=nothing, check=len)
    assert registry.check("order.completed", "four") == {len: 4}


def test_an_orders_figures_are_worked_out_once(
    database: Database, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check's figures reach ``record_orders``, which does not work them out again."""
    worked: list[str] = []
    figures = commerce._figures

    def counted(data: Any) -> Any:
        worked.append(data.currency)
        return figures(data)

    monkeypatch.setattr(commerce, "_figures", counted)
    items = batch(
        database,
        clock,
        [order(f"T-{n}", clock(), customer={"email": f"c{n}@example.com"}) for n in range(3)],
    )
    assert [item.status for item in items] == ["accepted"] * 3
    assert worked == ["EUR"] * 3
    with database.read() as session:
        totals = set(session.execute(select(SalesOrder.total_minor)).scalars())
    assert len(totals) == 1
    assert None not in totals


def test_an_order_invalid_in_its_customer_and_its_figures_is_refused_for_its_customer(
    database: Database, clock: Clock
) -> None:
    """The checks come after the event's own validation, as dispatch did: the same error
    is reported whichever refuses it."""
    items = batch(
        database, clock, [order("T-1", clock(), customer={"email": "not-an-email"}, total_minor=1)]
    )
    assert items[0].problem is not None
    assert items[0].problem.errors[0]["pointer"].startswith("/events/0/customer")
