"""API shapes of programmes, dry runs, member views and liability."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

CODE_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProgrammeCreate(Model):
    code: str = Field(pattern=CODE_PATTERN, examples=["club"])
    name: str = Field(min_length=1, max_length=200)
    currency: str = Field(min_length=3, max_length=3, examples=["EUR"])
    cost_per_point_minor: str = Field(
        examples=["0.5"], description="What one point costs, in minor units, as a decimal string"
    )
    return_policy: Literal["only_pending", "within_balance", "unlimited"] = "within_balance"
    hold: dict[str, Any] = Field(
        default_factory=lambda: {"kind": "none"},
        examples=[{"kind": "days", "days": 30}],
        description="Pending window: none, N days, or until an activation event",
    )
    expiry: dict[str, Any] = Field(
        default_factory=lambda: {"policies": []},
        examples=[{"policies": [{"kind": "fixed", "months": 12, "round_to": "month"}]}],
    )
    warning_days: int = Field(default=30, ge=0, le=365)
    rules: dict[str, Any] | None = Field(
        default=None, examples=[{"rules": [{"id": "base", "kind": "spend", "rate": "1"}]}]
    )
    ladder: dict[str, Any] | None = None


class RulesUpdate(Model):
    version: int = Field(ge=0, description="The current rule set version (0: none yet)")
    rules: dict[str, Any]


class LadderUpdate(Model):
    version: int = Field(ge=0, description="The current ladder version (0: none yet)")
    ladder: dict[str, Any]


class ProgrammeOut(BaseModel):
    code: str
    name: str
    currency: str
    cost_per_point_minor: str
    return_policy: str
    hold: dict[str, Any]
    expiry: dict[str, Any]
    warning_days: int
    active: bool
    rule_set_version: int
    rules: dict[str, Any] | None
    ladder_version: int
    ladder: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime


class RuleSetVersion(BaseModel):
    version: int
    rules: dict[str, Any]
    actor: str | None
    created_at: datetime


class DryRunEvent(Model):
    type: str = Field(min_length=1, max_length=100, examples=["order.completed"])
    occurred_at: AwareDatetime
    customer_id: int | None = Field(
        default=None, description="Evaluate as this member stands now (tier, caps used)"
    )
    data: dict[str, Any] = Field(default_factory=dict)
    rules: dict[str, Any] | None = Field(
        default=None, description="A draft rule set to try instead of the programme's"
    )


class ReplayRequest(Model):
    from_: AwareDatetime = Field(alias="from")
    to: AwareDatetime
    rules: dict[str, Any] | None = None


class AwardOut(BaseModel):
    rule_id: str
    kind: str
    points: int
    uncapped_points: int
    reason: str
    capped: bool
    reward: str | None = None
    reward_count: int = 0


class DryRunResult(BaseModel):
    currency: str
    total_points: int
    cost_minor: int
    awards: list[AwardOut]


class RuleTotalsOut(BaseModel):
    rule_id: str
    kind: str
    awards: int
    points: int
    uncapped_points: int
    capped: int
    rewards: int
    cost_minor: int


class ReplayResult(BaseModel):
    currency: str
    events: int
    members: int
    total_points: int
    cost_minor: int
    rules: list[RuleTotalsOut]
    rejected: list[dict[str, str]]


class BalanceOut(BaseModel):
    programme: str
    available: int
    pending: int
    expiring: int
    expiring_before: datetime
    debt: int


class HistoryItem(BaseModel):
    id: int
    kind: str
    bucket: str
    points: int
    at: datetime
    lot_id: int | None
    rule: str | None
    event_id: int | None
    reference: str | None
    actor: str | None


class HistoryPageOut(BaseModel):
    programme: str
    items: list[HistoryItem]
    next_cursor: str | None


class GoalOut(BaseModel):
    level_code: str
    level_name: str
    needed: int
    counted: int
    remaining: int
    by: datetime | None
    text: str


class TierOut(BaseModel):
    programme: str
    enrolled: bool
    tier_code: str
    tier_name: str
    since: datetime
    review_at: datetime | None
    grace_until: datetime | None
    unit: str
    amount: int
    next: GoalOut | None
    keep: GoalOut | None
    history: list[dict[str, Any]]


class PeriodOut(BaseModel):
    period: str
    issued: int
    clawed_back: int
    redeemed: int
    restored: int
    expired: int


class BreakageOut(BaseModel):
    issued: int
    expired: int
    rate: str | None


class LiabilityOut(BaseModel):
    programme: str
    currency: str
    as_of: datetime
    outstanding_active: int
    outstanding_pending: int
    debt: int
    cost_per_point_minor: str
    value_minor: int
    expected_breakage: BreakageOut
    expected_value_minor: int
    realised_breakage: BreakageOut
    periods: list[PeriodOut]
