"""The programme `make demo` creates is valid and earns what its rules say."""

from __future__ import annotations

from fidela.demo.programme import DEMO_PROGRAMME
from fidela.loyalty import programmes
from fidela.platform.db import Database
from tests.conftest import Clock
from tests.event.builders import order
from tests.loyalty.setup import balance, customer_of, ingest


def test_the_demo_programme_loads_and_a_basket_over_100_euros_earns_the_bonus(
    database: Database, clock: Clock
) -> None:
    with database.write() as session:
        created = programmes.create_programme(session, **DEMO_PROGRAMME, now=clock(), actor="t")
    assert created.code == "club"
    ingest(
        database,
        clock(),
        order("D-1", clock(), customer={"email": "demo@example.com"}, lines=[("P1", 1, 12000)]),
    )
    member = customer_of(database, "demo@example.com")
    # 120 EUR at 1 point per euro, plus the 50-point step of the basket bonus above 100 EUR.
    assert balance(database, member, clock()).available == 170
