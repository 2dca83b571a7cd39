"""'A tree per purchase': pledges recorded by the order.completed subscriber."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from fidela.platform.db import Database
from fidela.reward import charity as charity_service
from fidela.reward.models import CharityPledgeRecord
from tests.conftest import T0
from tests.customer.fixtures import ingest
from tests.event.builders import order
from tests.reward.builders import count


def _charity_and_pledge(database: Database, **pledge: object) -> None:
    with database.write() as session:
        charity_service.create_charity(
            session,
            data={"code": "reforest", "name": "Reforest", "currency": "EUR", "value_per_point": 1},
            now=T0,
        )
        charity_service.create_pledge(
            session,
            data={
                "code": "tree-per-50",
                "charity": "reforest",
                "impact": "tree",
                "currency": "EUR",
                "unit_cost_minor": 120,
                "per_amount_minor": 5_000,
                **pledge,
            },
            now=T0,
        )


def _order(database: Database, external_id: str, price: int, currency: str = "EUR") -> object:
    with database.write() as session:
        return ingest(
            session,
            order(
                external_id,
                T0,
                customer={"email": "ana@example.com"},
                lines=[("P1", 1, price)],
                currency=currency,
            ),
            T0 + timedelta(minutes=1),
        )


def test_each_order_plants_its_trees_once_even_when_replayed(database: Database) -> None:
    _charity_and_pledge(database)

    first = _order(database, "T-1", 12_000)
    replay = _order(database, "T-1", 12_000)
    _order(database, "T-2", 4_000)  # under 50 €: no tree
    _order(database, "T-3", 5_000, currency="USD")  # another currency: the pledge is in EUR

    assert first.effects["charity_pledges"]["pledges"][0]["units"] == 2  # type: ignore[attr-defined]
    assert replay.replayed  # type: ignore[attr-defined]
    assert count(database, CharityPledgeRecord) == 1
    with database.read() as session:
        assert charity_service.charity(session, code="reforest").pledged_minor == 240


def test_a_pledge_stops_at_its_budget(database: Database) -> None:
    _charity_and_pledge(database, budget_minor=400)

    for n in range(3):
        _order(database, f"T-{n}", 10_000)

    with database.read() as session:
        units = list(
            session.scalars(select(CharityPledgeRecord.units).order_by(CharityPledgeRecord.id))
        )
        assert charity_service.charity(session, code="reforest").pledged_minor == 360
    # 2 trees (240), then the 160 left pay for 1 of the next 2, then 40 left pay for none.
    assert units == [2, 1]
