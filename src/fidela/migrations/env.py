"""Alembic environment: runs on the connection handed in by ``fidela.platform.migrate`` (or
opens one from the configured URL), on SQLite in batch mode so ALTERs work there too."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from sqlalchemy import Connection

from fidela.migrations.metadata import metadata
from fidela.platform.db import create_db_engine
from fidela.platform.references import compared_on
from fidela.platform.types import UTCDateTime


def _render_item(kind: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Render our portable column types as plain SQLAlchemy types, so that a migration never
    imports application code (which will change after the migration is written)."""
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        compare_server_default=True,
        render_item=_render_item,
        include_object=compared_on(connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_db_engine(context.config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as new_connection:
        _run(new_connection)
    engine.dispose()


if context.is_offline_mode():  # pragma: no cover - offline SQL generation is not supported
    raise SystemExit("offline migrations are not supported; run `fidela db upgrade`")
run_migrations_online()
