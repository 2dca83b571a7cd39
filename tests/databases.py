"""Test databases: a fresh, migrated database per test session, on SQLite by default or on
PostgreSQL when ``FIDELA_TEST_DATABASE_URL`` is set (CI runs the suite on both)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from fidela.platform.db import normalise_url

TEST_DATABASE_URL_ENV = "FIDELA_TEST_DATABASE_URL"


def postgres_admin_url() -> str | None:
    url = os.environ.get(TEST_DATABASE_URL_ENV)
    return normalise_url(url) if url else None


@contextmanager
def fresh_database_url(directory: Path) -> Iterator[str]:
    """An empty database that is dropped afterwards."""
    admin = postgres_admin_url()
    if admin is None:
        yield f"sqlite:///{directory / f'fidela-{uuid.uuid4().hex[:8]}.db'}"
        return
    name = f"fidela_test_{uuid.uuid4().hex[:12]}"
    admin_engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin_engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()
