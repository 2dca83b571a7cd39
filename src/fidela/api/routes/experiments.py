"""Experiments: the results calculator over arm counts and a customer's global-control
membership."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from fidela.access.rules import Principal
from fidela.api.deps import scoped
from fidela.api.errors import PROBLEM_RESPONSES
from fidela.engagement.policy.config import get_send_settings
from fidela.experiment.rules.assignment import GLOBAL_CONTROL_KEY, bucket, in_global_control
from fidela.experiment.rules.results import ArmData, WinnerPolicy, compare
from fidela.experiment.rules.statistics import Moments
from fidela.experiment.schemas import ResultsIn

router = APIRouter(prefix="/v1/experiments", tags=["Experiments"], responses=PROBLEM_RESPONSES)
Read = Annotated[Principal, Depends(scoped("analytics:read"))]


@router.post("/results", summary="Statistics of an experiment from its counts")
def results(payload: ResultsIn, _: Read) -> dict[str, Any]:
    """Conversion and revenue per recipient of each arm against ``control``: absolute and
    relative lift with confidence intervals, two-proportion z-test, Welch's t-test, Bayesian
    chance to beat control, sample-ratio-mismatch check, and optionally the winner."""
    arms = [
        ArmData(
            a.name,
            a.weight,
            a.recipients,
            a.conversions,
            Moments(a.recipients, a.revenue_sum, a.revenue_sum_squares),
        )
        for a in payload.arms
    ]
    found = compare(
        arms,
        control=payload.control,
        confidence=payload.confidence,
        winner_policy=WinnerPolicy() if payload.declare_winner else None,
    )
    return dataclasses.asdict(found)


@router.get("/global-control/{customer_id}", summary="Is this customer in the control group?")
def global_control(customer_id: int, _: Read) -> dict[str, Any]:
    settings = get_send_settings()
    key = (
        GLOBAL_CONTROL_KEY
        if settings.global_control_epoch == 0
        else f"{GLOBAL_CONTROL_KEY}#{settings.global_control_epoch}"
    )
    return {
        "customer_id": customer_id,
        "bucket": bucket(key, customer_id),
        "share_bp": settings.global_control_bp,
        "in_control": in_global_control(
            customer_id, settings.global_control_bp, epoch=settings.global_control_epoch
        ),
    }
