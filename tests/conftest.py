"""Shared fixtures. Services and routes are tested against a real database built by the
migrations; each test runs in a transaction that is rolled back."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, delete

from fidela.api.app import create_app
from fidela.migrations.metadata import metadata
from fidela.platform import migrate
from fidela.platform.db import Database, create_db_engine
from fidela.platform.settings import Settings
from tests.databases import fresh_database_url

T0 = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)

# The suite runs many commands and apps in one process: freezing its heap would keep every
# test's garbage cycles for the rest of the run (see fidela.platform.heap).
os.environ["FIDELA_SETTLE_HEAP"] = "false"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database_url(tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_db_engine(database_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            yield connection
        finally:
            transaction.rollback()


@pytest.fixture
def database(connection: Connection) -> Database:
    """Units of work become savepoints inside the test's rolled-back transaction."""
    return Database(connection)


SEEDED_BY_MIGRATIONS = frozenset({"config_revision"})


@pytest.fixture
def committed_database(engine: Engine) -> Iterator[Database]:
    """Real commits across connections (worker and race tests); every table emptied after
    but those whose rows the migrations seed (one revision row per configuration family)."""
    yield Database(engine)
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            if table.name not in SEEDED_BY_MIGRATIONS:
                connection.execute(delete(table))


class Clock:
    """A clock the test drives."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_client(database: Database, clock: Clock) -> Callable[..., TestClient]:
    def build(**settings: object) -> TestClient:
        app = create_app(Settings(**settings), database=database, clock=clock)  # type: ignore[arg-type]
        return TestClient(app, raise_server_exceptions=False)

    return build


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()
