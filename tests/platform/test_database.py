from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, func, select, text

from fidela.platform.db import Database, normalise_url
from fidela.platform.outbox import service as outbox
from fidela.platform.outbox.models import OutboxMessage

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def test_postgres_urls_use_psycopg_3() -> None:
    assert normalise_url("postgresql://u@h/db").startswith("postgresql+psycopg://")
    assert normalise_url("postgres://u@h/db").startswith("postgresql+psycopg://")
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"


def test_datetimes_come_back_timezone_aware_utc(database: Database) -> None:
    paris = timezone(timedelta(hours=1))
    local = datetime(2026, 11, 2, 10, 0, tzinfo=paris)
    with database.write() as session:
        created = outbox.enqueue_message(session, topic="t", key="tz", payload={}, now=local)
    with database.read() as session:
        stored = session.get_one(OutboxMessage, created.id)
        assert stored.created_at == local
        assert stored.created_at.tzinfo is not None
        assert stored.created_at.utcoffset() == timedelta(0)
        # Tagged UTC itself, whatever the server's default zone: PostgreSQL sessions are
        # opened in UTC, so neither psycopg nor the column type converts anything.
        assert stored.created_at.tzinfo is UTC
        (raw,) = session.execute(
            select(OutboxMessage.created_at).where(OutboxMessage.id == created.id)
        ).one()
        assert raw.tzinfo is UTC


def test_postgresql_sessions_run_in_utc(database: Database) -> None:
    with database.read() as session:
        if session.get_bind().dialect.name != "postgresql":
            pytest.skip("SQLite has no session time zone")
        assert session.execute(text("SHOW timezone")).scalar_one() == "UTC"


def test_json_documents_read_back_as_written(database: Database) -> None:
    payload = {"big": 2**70, "text": "caf\u00e9 \U0001f600", "nested": [1.5, None, True], "": {}}
    with database.write() as session:
        created = outbox.enqueue_message(session, topic="t", key="json", payload=payload, now=T0)
    with database.read() as session:
        assert session.get_one(OutboxMessage, created.id).payload == payload


def test_naive_datetimes_are_refused(database: Database) -> None:
    with pytest.raises(Exception, match="naive"), database.write() as session:
        outbox.enqueue_message(
            session,
            topic="t",
            key="naive",
            payload={},
            now=datetime(2026, 1, 1),  # noqa: DTZ001
        )


def test_failed_unit_of_work_writes_nothing(database: Database) -> None:
    now = datetime(2026, 11, 2, tzinfo=UTC)

    def enqueue_then_fail() -> None:
        with database.write() as session:
            outbox.enqueue_message(session, topic="t", key="rolled-back", payload={}, now=now)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        enqueue_then_fail()
    with database.read() as session:
        assert outbox.outbox_counts(session)["pending"] == 0


def test_sqlite_serialises_concurrent_writers_without_losing_any(
    engine: Engine, committed_database: Database
) -> None:
    """BEGIN IMMEDIATE: concurrent read-modify-write transactions queue instead of failing."""
    now = datetime(2026, 11, 2, tzinfo=UTC)
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        try:
            for i in range(20):
                with committed_database.write() as session:
                    session.execute(select(func.count()).select_from(OutboxMessage)).scalar_one()
                    outbox.enqueue_message(
                        session, topic="t", key=f"w{worker}-{i}", payload={}, now=now
                    )
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with committed_database.read() as session:
        assert session.execute(select(func.count()).select_from(OutboxMessage)).scalar_one() == 80
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"


def test_refreshing_statistics_analyses_only_the_tables_that_grew(
    committed_database: Database,
) -> None:
    if committed_database.dialect != "postgresql":
        assert committed_database.refresh_statistics() == []  # nothing to refresh on SQLite
        return
    with committed_database.write() as session:
        session.execute(text("CREATE TABLE growth_probe (note text)"))
        session.execute(
            text("INSERT INTO growth_probe SELECT repeat('x', 200) FROM generate_series(1, 2000)")
        )
    try:
        assert "growth_probe" in committed_database.refresh_statistics()
        with committed_database.read() as session:
            analysed = session.execute(
                text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'growth_probe'")
            ).scalar_one()
        assert analysed is not None
        # Its statistics now describe its size: the next refresh leaves it alone.
        assert "growth_probe" not in committed_database.refresh_statistics()
    finally:
        with committed_database.write() as session:
            session.execute(text("DROP TABLE growth_probe"))
