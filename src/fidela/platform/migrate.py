"""Schema migrations, driven from code (``fidela db upgrade``, the tests, ``make demo``).

Revision files are date-prefixed (``YYYYMMDD_<rev>_<slug>.py``) so they sort in the order
they were written. ``pending_drift`` is the programmatic ``alembic check``: the difference
between the models and the migrated database, which must stay empty.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData

from fidela.platform.references import compared_on

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(bind: Engine | Connection, revision: str = "head") -> None:
    if isinstance(bind, Engine):
        with bind.begin() as connection:
            command.upgrade(alembic_config(connection=connection), revision)
    else:
        command.upgrade(alembic_config(connection=bind), revision)


def upgrade_or_downgrade(bind: Engine | Connection, revision: str) -> None:
    """Move to ``revision`` in whichever direction it lies (``base`` empties the schema)."""
    current = current_revision(bind)
    scripts = ScriptDirectory.from_config(alembic_config())
    ahead = revision != "base" and current in {
        script.revision for script in scripts.walk_revisions(revision, "base")
    }
    if revision == "head" or ahead or current is None:
        upgrade(bind, revision)
        return
    if isinstance(bind, Engine):
        with bind.begin() as connection:
            command.downgrade(alembic_config(connection=connection), revision)
    else:
        command.downgrade(alembic_config(connection=bind), revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(bind: Engine | Connection) -> str | None:
    if isinstance(bind, Engine):
        with bind.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    return MigrationContext.configure(bind).get_current_revision()


def pending_drift(connection: Connection, metadata: MetaData) -> list[Any]:
    """Differences between ``metadata`` (the models) and the database; empty when they agree."""
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "compare_server_default": True,
            "include_object": compared_on(connection.dialect.name),
        },
    )
    return list(compare_metadata(context, metadata))
