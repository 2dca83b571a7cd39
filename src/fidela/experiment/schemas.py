"""Experiment payloads of the API: a results calculator over counts."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ArmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=50)
    weight: float = Field(gt=0, description="The share of recipients the split meant to give")
    recipients: int = Field(ge=0)
    conversions: int = Field(ge=0)
    revenue_sum: float = Field(default=0, ge=0, description="Revenue of the arm, minor units")
    revenue_sum_squares: float = Field(
        default=0, ge=0, description="Sum over recipients of revenue squared"
    )


class ResultsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    control: str
    arms: list[ArmIn] = Field(min_length=2, max_length=20)
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    declare_winner: bool = False
