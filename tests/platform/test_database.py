from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, func, select, text

from fidela.platform.db import Database, normalise_url
from fidela.platform.outbox import service as outbox
from fidela.platform.outbox.models import OutboxMessage


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


def test_refreshing_statistics_analyses_the_tables_on_postgresql(
    committed_database: Database,
) -> None:
    committed_database.refresh_statistics()  # a no-op on SQLite, which must not fail
    if committed_database.dialect != "postgresql":
        return
    with committed_database.read() as session:
        analysed = session.execute(
            text("SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'event'")
        ).scalar_one()
    assert analysed is True


def test_connections_for_small_groups_reuse_generic_plans_and_the_others_do_not(
    database_url: str,
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("plan caching is PostgreSQL's")
    small = Database.for_small_groups(database_url)
    usual = Database.from_url(database_url, pool_size=1)
    try:
        with small.read() as session:
            settings = session.execute(text("SHOW plan_cache_mode")).scalar_one()
            assert (settings, session.execute(text("SHOW jit")).scalar_one()) == (
                "force_generic_plan",
                "off",
            )
        with usual.read() as session:
            assert session.execute(text("SHOW plan_cache_mode")).scalar_one() == "auto"
    finally:
        for made in (small, usual):
            assert isinstance(made.bind, Engine)
            made.bind.dispose()
