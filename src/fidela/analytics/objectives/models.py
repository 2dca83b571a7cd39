"""SMART objectives and their evaluation history.

KPI values, targets and progress are floats: they are rates, counts and averages the KPI
report already serialises as JSON numbers, never amounts held in the ledger (DESIGN.md's
"never float" is about money and points that are summed).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fidela.platform.db import Base
from fidela.platform.outbox.models import BigId
from fidela.platform.types import JSONDocument, UTCDateTime


class AnalyticsObjective(Base):
    __tablename__ = "analytics_objective"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(2000))
    kpi: Mapped[str] = mapped_column(String(48))
    segment_by: Mapped[str] = mapped_column(String(16))
    segment: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(8))
    baseline: Mapped[float] = mapped_column(Float)
    baseline_date: Mapped[date] = mapped_column(Date)
    target: Mapped[float] = mapped_column(Float)
    direction: Mapped[str] = mapped_column(String(8))
    start_date: Mapped[date] = mapped_column(Date)
    deadline: Mapped[date] = mapped_column(Date)
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    # Achievability flags raised at definition (a stretch target is allowed, not hidden).
    warnings: Mapped[list[str]] = mapped_column(JSONDocument)
    version: Mapped[int] = mapped_column(Integer)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AnalyticsObjectiveEvaluation(Base):
    """One evaluation of an objective as of an instant; re-evaluating the same as_of replaces
    it (the nightly job is delivered at least once)."""

    __tablename__ = "analytics_objective_evaluation"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    objective_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("analytics_objective.id", ondelete="CASCADE")
    )
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    value_period: Mapped[date | None] = mapped_column(Date, nullable=True)
    progress: Mapped[float | None] = mapped_column(Float, nullable=True)
    progress_clamped: Mapped[float | None] = mapped_column(Float, nullable=True)
    forecast: Mapped[float | None] = mapped_column(Float, nullable=True)
    forecast_reason: Mapped[str | None] = mapped_column(String(300), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str] = mapped_column(String(300))
    # The series judged: [{"period_start": "2026-01-01", "value": 0.4}, ...].
    series: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    engine: Mapped[str] = mapped_column(String(16))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("objective_id", "as_of"),)
