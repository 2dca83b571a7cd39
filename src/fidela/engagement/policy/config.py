"""Send-time policy settings: ``FIDELA_SEND_*`` environment variables, then the same names in
``fidela.toml``, else the defaults below."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from fidela.engagement.policy.rules import CapRule, QuietHours, SendPolicy
from fidela.platform.settings import config_file


class SendSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FIDELA_SEND_", extra="ignore")

    default_timezone: str = Field(
        default="Europe/Paris", description="Recipients' timezone when their profile has none"
    )
    quiet_start: str | None = Field(default="21:00", description="Local start of quiet hours")
    quiet_end: str | None = Field(default="08:00", description="Local end of quiet hours")
    caps: list[dict[str, Any]] = Field(
        default_factory=lambda: [
            {"limit": 2, "period": "day"},
            {"limit": 1, "period": "day", "channel": "sms"},
            {"limit": 7, "period": "week"},
        ],
        description="Frequency caps: limit, period (day/week), channel (none: all channels)",
    )
    fallback_channels: list[str] = Field(default_factory=lambda: ["email", "push", "sms", "in_app"])
    global_control_bp: int = Field(
        default=0,
        ge=0,
        le=5000,
        description="Basis points of customers in the global control group (never marketed)",
    )
    global_control_epoch: int = Field(default=0, ge=0, description="Bump to reshuffle the group")

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

    def policy(self) -> SendPolicy:
        quiet = (
            QuietHours.parse(self.quiet_start, self.quiet_end)
            if self.quiet_start and self.quiet_end
            else None
        )
        caps = tuple(
            CapRule(int(c["limit"]), c.get("period", "day"), c.get("channel")) for c in self.caps
        )
        return SendPolicy(caps, quiet, self.default_timezone, tuple(self.fallback_channels))


@lru_cache(maxsize=1)
def get_send_settings() -> SendSettings:
    return SendSettings()
