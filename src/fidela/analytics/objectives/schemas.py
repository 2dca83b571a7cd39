"""API shapes of SMART objectives and their evaluations."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class ObjectiveCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Win back lapsing champions",
                    "description": "Churn among champions down after the spring campaign",
                    "kpi": "churn_rate",
                    "segment_by": "rfm",
                    "segment": "champions",
                    "period": "month",
                    "target": 0.1,
                    "start": "2026-01-01",
                    "deadline": "2026-06-30",
                }
            ]
        },
    )
    name: str = Field(max_length=200)
    description: str = Field(default="", max_length=2000, description="Why it matters")
    kpi: str = Field(description="A KPI of the KPI report", examples=["churn_rate"])
    segment_by: str = Field(default="all", description="all, rfm, value or channel")
    segment: str = Field(default="all", description="The segment's name, or 'all'")
    period: str = Field(default="month", description="day, week or month")
    target: float = Field(allow_inf_nan=False, description="The KPI value to reach")
    baseline: float | None = Field(
        default=None,
        allow_inf_nan=False,
        description="Where the KPI starts; default: its last complete period before the "
        "start in the newest KPI snapshot with this period and segmentation",
    )
    baseline_date: date | None = Field(default=None, description="Default: the start")
    start: date | None = Field(default=None, description="Default: today (UTC)")
    deadline: date = Field(description="The last day counted (inclusive)")
    currency: str | None = Field(
        default=None, description="ISO 4217; default: the only currency orders use"
    )


class ObjectiveUpdate(BaseModel):
    """The KPI, segment, period and start are fixed (the history would no longer be about
    the same thing): change them with a new objective."""

    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, description="the version you read (compare-and-set)")
    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    target: float | None = Field(default=None, allow_inf_nan=False)
    baseline: float | None = Field(default=None, allow_inf_nan=False)
    baseline_date: date | None = None
    deadline: date | None = None


class Objective(BaseModel):
    model_config = ConfigDict(from_attributes=True, populate_by_name=True)
    id: int
    name: str
    description: str
    kpi: str
    segment_by: str
    segment: str
    period: str
    baseline: float
    baseline_date: date
    target: float
    direction: str = Field(description="increase or decrease, from baseline and target")
    start: date = Field(validation_alias="start_date")
    deadline: date
    currency: str | None
    warnings: list[str] = Field(description="Achievability flags (a stretch target)")
    version: int
    archived: bool
    created_at: datetime
    updated_at: datetime


class SeriesPoint(BaseModel):
    period_start: date
    value: float | None


class ObjectiveEvaluation(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    as_of: datetime
    value: float | None = Field(description="The KPI of the latest complete period")
    value_period: date | None
    progress: float | None = Field(
        description="(value - baseline) / (target - baseline), unclamped"
    )
    progress_clamped: float | None = Field(description="progress clamped to 0..1")
    forecast: float | None = Field(description="The least-squares trend read at the deadline")
    forecast_reason: str | None = Field(description="Why there is no forecast")
    status: str = Field(
        examples=["on_track"], description="on_track, at_risk, off_track, achieved or missed"
    )
    status_reason: str
    series: list[SeriesPoint]
    engine: str
    computed_at: datetime


class ObjectiveDetail(Objective):
    latest: ObjectiveEvaluation | None
    history: list[ObjectiveEvaluation] = Field(description="Evaluations, newest first")


class ObjectivePage(BaseModel):
    items: list[Objective]
    next_cursor: str | None
