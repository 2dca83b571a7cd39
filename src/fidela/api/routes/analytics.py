"""Analytics snapshots: RFM, cohorts, KPIs, funnels, journeys (objectives: routes/objectives).

Requests read stored snapshots and never recompute: the nightly worker job stores the
defaults; ``fidela analytics <kind> --as-of DATE`` stores any other parameters.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from fidela.access.rules import Principal
from fidela.analytics import rules, snapshots
from fidela.analytics.schemas import (
    CustomerRfm,
    Snapshot,
    SnapshotList,
    SnapshotMeta,
)
from fidela.api.deps import DatabaseDep, scoped
from fidela.api.errors import PROBLEM_RESPONSES

router = APIRouter(prefix="/v1/analytics", tags=["Analytics"], responses=PROBLEM_RESPONSES)
Read = Annotated[Principal, Depends(scoped("analytics:read"))]
AsOf = Annotated[
    str | None,
    Query(
        description="YYYY-MM-DD (midnight UTC) or an ISO datetime with offset; "
        "omitted: the latest snapshot",
        examples=["2026-11-22"],
    ),
]


def _meta(view: snapshots.SnapshotView) -> dict[str, Any]:
    return {
        "kind": view.kind,
        "as_of": rules.as_of_text(view.as_of.replace(tzinfo=None)),
        "params": view.params,
        "engine": view.engine,
        "computed_at": view.computed_at,
        "duration_ms": view.duration_ms,
        "row_count": view.row_count,
    }


def _read(
    database: DatabaseDep,
    kind: snapshots.SnapshotKind,
    as_of: str | None,
    params: dict[str, Any] | None = None,
) -> Snapshot:
    when = None if as_of is None else rules.parse_as_of(as_of, pointer="/as_of")
    with database.read() as session:
        view = snapshots.get_snapshot(session, kind=kind, as_of=when, params=params)
    return Snapshot(**_meta(view), payload=view.payload)


@router.get("/snapshots", response_model=SnapshotList, summary="List stored snapshots")
def list_snapshots(
    _: Read,
    database: DatabaseDep,
    kind: Annotated[str | None, Query(description="rfm, cohorts, kpis, funnel, journey")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> SnapshotList:
    parsed = None if kind is None else snapshots.parse_kind(kind)
    with database.read() as session:
        views = snapshots.list_snapshots(session, kind=parsed, limit=limit)
    return SnapshotList(items=[SnapshotMeta(**_meta(v)) for v in views])


@router.get("/rfm", response_model=Snapshot, summary="RFM segments (sizes and means)")
def rfm(
    _: Read, database: DatabaseDep, as_of: AsOf = None, currency: str | None = None
) -> Snapshot:
    return _read(database, snapshots.SnapshotKind.RFM, as_of, {"currency": currency})


@router.get(
    "/rfm/customers/{customer_id}",
    response_model=CustomerRfm,
    summary="One customer's RFM scores and segments",
)
def customer_rfm(
    customer_id: int, _: Read, database: DatabaseDep, as_of: AsOf = None
) -> CustomerRfm:
    when = None if as_of is None else rules.parse_as_of(as_of, pointer="/as_of")
    with database.read() as session:
        view, row = snapshots.get_customer_rfm(session, customer_id=customer_id, as_of=when)
        return CustomerRfm.model_validate(
            {
                **{c: getattr(row, c) for c in CustomerRfm.model_fields if hasattr(row, c)},
                "as_of": rules.as_of_text(view.as_of.replace(tzinfo=None)),
            }
        )


@router.get("/cohorts", response_model=Snapshot, summary="Cohort retention matrix")
def cohorts(
    _: Read,
    database: DatabaseDep,
    as_of: AsOf = None,
    since: Annotated[str | None, Query(description="First cohort month, YYYY-MM-DD")] = None,
    currency: str | None = None,
) -> Snapshot:
    return _read(
        database, snapshots.SnapshotKind.COHORTS, as_of, {"since": since, "currency": currency}
    )


KpiParams = dict[str, Any]


async def _kpi_params(
    period: Annotated[str | None, Query(description="day, week or month")] = None,
    periods: Annotated[str | None, Query(description="How many periods up to as_of")] = None,
    segment_by: Annotated[str | None, Query(description="all, rfm, value or channel")] = None,
    kpis: Annotated[str | None, Query(description="Comma-separated KPI names")] = None,
    currency: str | None = None,
) -> KpiParams:
    return {
        "period": period,
        "periods": periods,
        "segment_by": segment_by,
        "kpis": kpis,
        "currency": currency,
    }


@router.get("/kpis", response_model=Snapshot, summary="KPIs per segment and period")
def kpis(
    _: Read,
    database: DatabaseDep,
    params: Annotated[KpiParams, Depends(_kpi_params)],
    as_of: AsOf = None,
) -> Snapshot:
    return _read(database, snapshots.SnapshotKind.KPIS, as_of, params)


@router.get("/funnel", response_model=Snapshot, summary="Funnel conversion and drop-off")
def funnel(
    _: Read,
    database: DatabaseDep,
    as_of: AsOf = None,
    steps: Annotated[str | None, Query(description="Comma-separated event types")] = None,
    days: Annotated[str | None, Query(description="Window in days before as_of")] = None,
) -> Snapshot:
    return _read(database, snapshots.SnapshotKind.FUNNEL, as_of, {"steps": steps, "days": days})


@router.get("/journey", response_model=Snapshot, summary="Touchpoints and cross-channel paths")
def journey(
    _: Read,
    database: DatabaseDep,
    as_of: AsOf = None,
    days: Annotated[str | None, Query()] = None,
    lookback_days: Annotated[str | None, Query()] = None,
) -> Snapshot:
    return _read(
        database,
        snapshots.SnapshotKind.JOURNEY,
        as_of,
        {"days": days, "lookback_days": lookback_days},
    )
