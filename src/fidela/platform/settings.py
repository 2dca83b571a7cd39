"""Runtime configuration.

Read from ``FIDELA_*`` environment variables, then an optional TOML file (``fidela.toml`` in
the working directory, or the path in ``FIDELA_CONFIG``), then defaults chosen so that
``fidela serve`` works with nothing set: an SQLite file ``./fidela.db`` and port 8000.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_DATABASE_URL = "sqlite:///./fidela.db"


def config_file() -> Path:
    return Path(os.environ.get("FIDELA_CONFIG", "fidela.toml"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FIDELA_", extra="ignore")

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL; sqlite:///path or postgresql://user@host/db",
    )
    database_pool_size: int = Field(default=10, ge=1)
    database_echo: bool = False

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str = "http://127.0.0.1:8000"

    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "console"] = "json"

    worker_poll_seconds: float = Field(default=0.5, gt=0)
    worker_batch_size: int = Field(default=50, ge=1)
    worker_lease_seconds: int = Field(default=300, ge=5)
    outbox_retention_days: int = Field(default=14, ge=1)
    idempotency_retention_hours: int = Field(default=72, ge=1)

    default_phone_region: str = Field(
        default="FR", pattern=r"^[A-Z]{2}$", description="Region of phone numbers without +"
    )
    identity_match_priority: str = Field(
        default="card,email,phone,external,device",
        description="Order in which incoming identities pick the profile",
    )
    event_retention_days: int = Field(default=730, ge=1, description="Raw events kept this long")
    erasure_salt: str = Field(default="fidela", description="Salt of erased-person pseudonyms")
    api_key_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description=(
            "How long a server process trusts a key it verified before checking it again; a key "
            "revoked through another process stops working after at most this long (0: check "
            "every request)"
        ),
    )
    settle_heap: bool = Field(
        default=True,
        description=(
            "Freeze the start-up heap and space out garbage collection in the serve, worker and "
            "import processes (see fidela.platform.heap); off in the test suite, which builds "
            "many apps in one process"
        ),
    )
    ingest_group_max: int = Field(
        default=500,
        ge=1,
        le=1000,
        description="Single-event requests grouped into one transaction at most",
    )
    ingest_group_inline: bool = Field(
        default=True,
        description=(
            "On PostgreSQL, run single-event groups on the server's event loop thread instead "
            "of a worker thread: cheaper, but the process reads no other request meanwhile "
            "(see fidela.api.grouping)"
        ),
    )
    ingest_group_gather_ms: float = Field(
        default=2.0,
        ge=0,
        le=50,
        description=(
            "How long the next group of single events waits at least, under load, for the "
            "clients just answered to send again (see fidela.api.grouping); 0: no floor"
        ),
    )
    ingest_group_gather_max_ms: float = Field(
        default=20.0,
        ge=0,
        le=200,
        description=(
            "How long the next group of single events may wait at most: it waits as long as "
            "the last group ran, so a busy process gathers bigger groups (see "
            "fidela.api.grouping); 0: no longer than FIDELA_INGEST_GROUP_GATHER_MS"
        ),
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Precedence: explicit arguments, environment, then the TOML file.
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=config_file()),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
