"""What every command needs: settings, a database, the clock."""

from __future__ import annotations

from functools import lru_cache

from fidela.platform.db import Database
from fidela.platform.logging import configure_logging
from fidela.platform.settings import Settings, get_settings


def settings() -> Settings:
    return get_settings()


@lru_cache(maxsize=1)
def database() -> Database:
    current = settings()
    return Database.from_url(current.database_url, pool_size=current.database_pool_size)


def setup_logging(fmt: str | None = None) -> None:
    current = settings()
    configure_logging(current.log_level, fmt or current.log_format)
