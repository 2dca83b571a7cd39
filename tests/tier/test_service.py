"""Tier persistence: qualification from the ledger (not the balance), ladder versions that
never lower anyone on save, progress, and merges."""

from __future__ import annotations

import copy

from sqlalchemy import select

from fidela.ledger import service as ledger
from fidela.loyalty import programmes
from fidela.platform.db import Database
from fidela.tier import service as tiers
from fidela.tier.models import TierMembership
from tests.conftest import Clock
from tests.event.builders import order
from tests.loyalty.setup import LADDER, create, customer_of, ingest

ANA = {"email": "ana@example.com"}


def tier_of(database: Database) -> str:
    with database.read() as session:
        return str(session.execute(select(TierMembership.tier_code)).scalar_one())


def test_redeeming_points_does_not_lower_the_tier(database: Database, clock: Clock) -> None:
    create(database, clock(), ladder=LADDER)
    ingest(database, clock(), order("T-1", clock(), customer=ANA, lines=[("P1", 1, 60000)]))
    ana = customer_of(database, "ana@example.com")
    with database.write() as session:
        ledger.spend_points(
            session, customer_id=ana, programme="club", points=600, now=clock(), ref="trip"
        )
    ingest(database, clock(), order("T-2", clock(), customer=ANA, lines=[("P1", 1, 100)]))
    assert tier_of(database) == "gold"


def test_raising_a_threshold_on_save_keeps_members_until_their_review(
    database: Database, clock: Clock
) -> None:
    create(database, clock(), ladder=LADDER)
    ingest(database, clock(), order("T-1", clock(), customer=ANA, lines=[("P1", 1, 60000)]))
    ana = customer_of(database, "ana@example.com")
    harder = copy.deepcopy(LADDER)
    harder["levels"][1]["threshold"] = 5000
    with database.write() as session:
        programme = programmes.set_ladder(
            session, code="club", ladder=harder, expected_version=1, now=clock()
        )
        assert programme.ladder is not None
        ref = tiers.LadderRef(programme.id, "club", programme.ladder, programme.ladder_version)
        decision = tiers.qualify(session, ladder=ref, customer_id=ana, now=clock())
        standing = tiers.standing(session, ladder=ref, customer_id=ana, now=clock())
    assert decision.membership.tier_code == "gold"
    assert tier_of(database) == "gold"
    assert standing.progress.keep is not None
    # Reached in November, the tier is judged on next year's points: all 5000 still to earn.
    assert standing.progress.keep.text == "5000 points to keep Gold by 2028-01-01"


def test_removing_a_level_from_a_live_ladder_is_refused(database: Database, clock: Clock) -> None:
    create(database, clock(), ladder=LADDER)
    fewer = copy.deepcopy(LADDER)
    fewer["levels"] = fewer["levels"][:1]
    with database.write() as session:
        try:
            programmes.set_ladder(
                session, code="club", ladder=fewer, expected_version=1, now=clock()
            )
        except Exception as error:
            code = getattr(error, "code", "")
        else:
            code = ""
    assert code == "tier_level_removed"


def test_merging_two_members_keeps_one_membership(database: Database, clock: Clock) -> None:
    create(database, clock(), ladder=LADDER)
    ingest(
        database,
        clock(),
        order("T-1", clock(), customer=ANA, lines=[("P1", 1, 1000)]),
        order("T-2", clock(), customer={"email": "bob@example.com"}, lines=[("P1", 1, 1000)]),
    )
    ana, bob = customer_of(database, "ana@example.com"), customer_of(database, "bob@example.com")
    with database.write() as session:
        moved = tiers.merge_memberships(session, ana, bob, clock())
        rows = session.execute(select(TierMembership.customer_id)).scalars().all()
    assert moved == 1
    assert rows == [ana]
