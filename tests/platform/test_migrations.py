from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, inspect, text

from fidela.migrations.metadata import metadata
from fidela.platform import migrate
from fidela.platform.db import create_db_engine
from tests.databases import fresh_database_url


def test_migrations_upgrade_an_empty_database_to_head(tmp_path: Path) -> None:
    with fresh_database_url(tmp_path) as url:
        engine = create_db_engine(url)
        try:
            assert migrate.current_revision(engine) is None
            migrate.upgrade(engine)
            assert migrate.current_revision(engine) == migrate.head_revision()
            tables = set(inspect(engine).get_table_names())
            assert {table.name for table in metadata.sorted_tables} <= tables
        finally:
            engine.dispose()


def test_models_and_migrations_agree(connection: Connection) -> None:
    assert migrate.pending_drift(connection, metadata) == []


def test_json_payloads_carry_no_planner_statistics_on_postgresql(connection: Connection) -> None:
    if connection.dialect.name != "postgresql":
        return
    targets: dict[str, int] = dict(
        connection.execute(
            text(
                "SELECT attrelid::regclass::text || '.' || attname, coalesce(attstattarget, -1)"
                " FROM pg_attribute WHERE attname IN ('data', 'name', 'attributes')"
                " AND attrelid IN ('event'::regclass, 'customer'::regclass)"
            )
        ).all()
    )
    # Payloads are read whole by key; the columns queries filter on keep their statistics.
    assert targets["event.data"] == 0
    assert targets["customer.attributes"] == -1


def test_migrations_downgrade_to_empty_and_upgrade_again(tmp_path: Path) -> None:
    with fresh_database_url(tmp_path) as url:
        engine = create_db_engine(url)
        try:
            migrate.upgrade(engine)
            migrate.upgrade_or_downgrade(engine, "base")
            assert not set(inspect(engine).get_table_names()) & {
                table.name for table in metadata.sorted_tables
            }
            migrate.upgrade(engine)
            assert migrate.current_revision(engine) == migrate.head_revision()
        finally:
            engine.dispose()


def test_revision_files_are_date_prefixed() -> None:
    names = [
        path.name
        for path in migrate.MIGRATIONS_DIR.joinpath("versions").glob("*.py")
        if path.name != "__init__.py"
    ]
    assert names
    for name in names:
        assert name[:8].isdigit(), name
        assert name[8] == "_", name
