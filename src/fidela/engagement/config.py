"""Engagement settings: ``FIDELA_ENGAGEMENT_*`` environment variables, then the same names
(without the prefix) in ``fidela.toml``, else defaults that work on a developer machine (a
local SMTP catcher on port 1025). Kept apart from the platform settings so the channel
configuration (SMTP, provider webhooks, rate limits) lives with the context that uses it."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from fidela.platform.settings import config_file


class EngagementSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FIDELA_ENGAGEMENT_", extra="ignore")

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    smtp_connections: int = Field(
        default=8,
        ge=1,
        le=64,
        description="SMTP connections one worker keeps open and uses at once",
    )
    message_id_domain: str = Field(default="fidela.local", description="Right side of Message-ID")
    default_sender: str = Field(default="Fidela <no-reply@fidela.local>")
    default_language: str = Field(default="en", pattern=r"^[a-z]{2}$")
    default_programme: str = Field(
        default="default", description="Programme whose points balance templates show"
    )
    signing_secret: str = Field(
        default="change-me-fidela-engagement",
        description="HMAC secret of tracking links, unsubscribe links and provider webhooks",
    )
    tracking_base_url: str | None = Field(
        default=None, description="Base URL of tracking links; the API's public_url when unset"
    )
    batch_size: int = Field(
        default=200, ge=1, le=5000, description="Messages per outbox job in bulk sends"
    )
    rate_limits: dict[str, float] = Field(
        default_factory=dict,
        description="Messages per second per channel provider, e.g. {'email': 200, 'sms': 20}",
    )
    webhooks: dict[str, str] = Field(
        default_factory=dict,
        description="Provider webhook URL per channel (sms, push, postal, social_audience)",
    )
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    conversion_window_days: int = Field(
        default=7, ge=1, le=90, description="An order this many days after a click or send converts"
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
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=config_file()),
        )


@lru_cache(maxsize=1)
def get_engagement_settings() -> EngagementSettings:
    return EngagementSettings()
