"""The programmes the earning subscriber runs follow every change, made by any process, even
though this process keeps the ones it parsed."""

from __future__ import annotations

from sqlalchemy import update

from fidela.loyalty import programmes
from fidela.loyalty.models import LoyaltyProgramme
from fidela.platform.db import Database
from tests.conftest import Clock
from tests.loyalty.setup import BASE_RULES, create


def in_force(database: Database) -> list[tuple[str, int]]:
    with database.read() as session:
        return [(p.code, p.rule_set_version) for p in programmes.programmes_in_force(session)]


def test_a_new_rule_set_and_a_switched_off_programme_are_seen_at_once(
    database: Database, clock: Clock
) -> None:
    create(database, clock(), code="club")
    create(database, clock(), code="pro")
    create(database, clock(), code="draft", rules=None)
    assert in_force(database) == [("club", 1), ("pro", 1)]  # parsed and kept from here on
    with database.write() as session:
        programmes.set_rule_set(
            session, code="club", rules=BASE_RULES, expected_version=1, now=clock()
        )
    assert in_force(database) == [("club", 2), ("pro", 1)]
    # As another process or a SQL session would: the row changes, with a new revision.
    with database.write() as session:
        session.execute(
            update(LoyaltyProgramme)
            .where(LoyaltyProgramme.code == "pro")
            .values(active=False, revision="changed-elsewhere")
        )
    assert in_force(database) == [("club", 2)]
