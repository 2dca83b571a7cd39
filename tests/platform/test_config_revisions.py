"""Configuration cached per process is never stale: triggers move a family's revision with
every write, and a cache answers from memory only at the revision it was loaded at."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import count
from pathlib import Path

from sqlalchemy import Engine, delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from fidela.engagement.journeys.models import Journey
from fidela.platform import migrate
from fidela.platform.db import Database, create_db_engine
from fidela.platform.revisions.service import Cached, revisions
from tests.databases import fresh_database_url

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
_codes = count()


def add_journey(session: Session, *, active: bool = True) -> str:
    code = f"probe-{next(_codes)}"
    session.execute(
        insert(Journey).values(
            code=code,
            name=code,
            version=1,
            definition={"probe": True},
            active=active,
            created_at=NOW,
            updated_at=NOW,
        )
    )
    return code


class Loads:
    """A cache of the active journeys' codes that counts its loads."""

    def __init__(self) -> None:
        self.count = 0
        self.cache = Cached("journey", self.load)

    def load(self, session: Session) -> frozenset[str]:
        self.count += 1
        session.flush()
        statement = select(Journey.code).where(Journey.active.is_(True))
        return frozenset(session.connection().execute(statement).scalars())


def fresh_revision(database: Database) -> int:
    with database.read() as session:
        return int(
            session.execute(
                text("SELECT revision FROM config_revision WHERE family = 'journey'")
            ).scalar_one()
        )


def test_every_write_of_a_familys_table_moves_its_revision_to_a_new_value(
    database: Database,
) -> None:
    with database.read() as session:
        others = {k: v for k, v in revisions(session).items() if k != "journey"}
    seen = [fresh_revision(database)]
    with database.write() as session:
        code = add_journey(session)
    seen.append(fresh_revision(database))
    with database.write() as session:
        session.execute(update(Journey).where(Journey.code == code).values(active=False))
    seen.append(fresh_revision(database))
    with database.write() as session:
        session.execute(delete(Journey).where(Journey.code == code))
    seen.append(fresh_revision(database))
    assert len(set(seen)) == len(seen)
    with database.read() as session:
        # The other families did not move.
        assert {k: v for k, v in revisions(session).items() if k != "journey"} == others


def test_a_cached_value_is_reused_until_its_family_changes(database: Database) -> None:
    loads = Loads()
    with database.read() as session:
        before = loads.cache.get(session)
    with database.read() as session:
        assert loads.cache.get(session) == before
        assert loads.cache.get(session) == before
    assert loads.count == 1
    with database.write() as session:
        code = add_journey(session)
    with database.read() as session:
        assert loads.cache.get(session) == before | {code}
    assert loads.count == 2


def test_a_transaction_sees_its_own_configuration_changes(database: Database) -> None:
    loads = Loads()
    with database.write() as session:
        before = loads.cache.get(session)
        code = add_journey(session)  # a DML statement on the family's table
        assert loads.cache.get(session) == before | {code}
        session.add(  # an ORM object, flushed by the next read
            Journey(
                code="probe-orm",
                name="probe-orm",
                version=1,
                definition={},
                active=True,
                created_at=NOW,
                updated_at=NOW,
            )
        )
        assert loads.cache.get(session) == before | {code, "probe-orm"}


def test_a_rolled_back_change_leaves_nothing_a_later_state_would_match(
    database: Database,
) -> None:
    loads = Loads()
    with database.write() as session:
        before = loads.cache.get(session)
        savepoint = session.begin_nested()
        rolled_back = add_journey(session)
        assert loads.cache.get(session) == before | {rolled_back}
        savepoint.rollback()
        assert loads.cache.get(session) == before
        kept = add_journey(session)
        # Another change at the same depth gets a revision never used before.
        assert loads.cache.get(session) == before | {kept}
    with database.read() as session:
        assert loads.cache.get(session) == before | {kept}
        count_now = session.execute(select(func.count()).select_from(Journey)).scalar_one()
    assert count_now == len(before) + 1


def test_the_revisions_are_read_once_per_transaction(database: Database) -> None:
    with database.read() as session:
        first = revisions(session)
        assert revisions(session) is first
    with database.read() as session:
        assert revisions(session) is not first


def test_two_databases_never_share_a_revision_so_one_process_can_serve_both(
    database: Database, tmp_path: Path
) -> None:
    # The test suite (and a database made again under a running server) shows one process
    # two databases: a configuration cached from one must not answer for the other.
    with fresh_database_url(tmp_path) as url:
        other = Database(create_db_engine(url, pool_size=1))
        try:
            assert isinstance(other.bind, Engine)
            migrate.upgrade(other.bind)
            with database.read() as session, other.read() as elsewhere:
                mine, theirs = revisions(session), revisions(elsewhere)
            assert mine.keys() == theirs.keys()
            assert not set(mine.values()) & set(theirs.values())
            assert 0 not in mine.values()
        finally:
            assert isinstance(other.bind, Engine)
            other.bind.dispose()
