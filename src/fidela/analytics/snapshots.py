"""Snapshots of analytics: their kinds and parameters, and the read side the API serves.

Nothing here computes (or imports an engine): a snapshot key is (kind, as_of, canonical
parameters); reads return the stored payload as it was computed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from fidela.analytics import repository, rules
from fidela.analytics.models import AnalyticsCustomerRfm, AnalyticsSnapshot
from fidela.kernel.errors import FieldProblem, InvalidInput


class SnapshotKind(StrEnum):
    RFM = "rfm"
    COHORTS = "cohorts"
    KPIS = "kpis"
    FUNNEL = "funnel"
    JOURNEY = "journey"


def parse_kind(value: str) -> SnapshotKind:
    try:
        return SnapshotKind(value)
    except ValueError:
        raise InvalidInput(
            f"unknown analytic {value!r}; expected one of "
            f"{', '.join(k.value for k in SnapshotKind)}",
            [FieldProblem("/kind", "rfm, cohorts, kpis, funnel or journey")],
        ) from None


DEFAULT_PARAMS: dict[SnapshotKind, dict[str, Any]] = {
    SnapshotKind.RFM: {"currency": None},
    SnapshotKind.COHORTS: {"currency": None, "since": None},
    SnapshotKind.KPIS: {
        "currency": None,
        "period": rules.Period.MONTH.value,
        "periods": 12,
        "segment_by": rules.SegmentBy.ALL.value,
        "kpis": [kpi.value for kpi in rules.Kpi],
    },
    SnapshotKind.FUNNEL: {"steps": list(rules.DEFAULT_FUNNEL_STEPS), "days": 30},
    SnapshotKind.JOURNEY: {"days": 30, "lookback_days": 7},
}


def canonical_params(kind: SnapshotKind, given: dict[str, Any] | None = None) -> dict[str, Any]:
    """The defaults overlaid with ``given`` (unknown names rejected, values validated), in the
    one spelling that keys a snapshot."""
    given = {k: v for k, v in (given or {}).items() if v is not None}
    defaults = DEFAULT_PARAMS[kind]
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise InvalidInput(
            f"unknown parameter(s) for {kind.value}: {', '.join(unknown)}",
            [FieldProblem(f"/{name}", "not a parameter of this analytic") for name in unknown],
        )
    params = {**defaults, **given}
    if kind is SnapshotKind.KPIS:
        params["period"] = rules.parse_period(str(params["period"])).value
        params["segment_by"] = rules.parse_segment_by(str(params["segment_by"])).value
        kpis = params["kpis"]
        names = kpis.split(",") if isinstance(kpis, str) else list(kpis)
        params["kpis"] = [k.value for k in rules.parse_kpis([n.strip() for n in names if n])]
        params["periods"] = _positive_int(params["periods"], "/periods")
    if kind is SnapshotKind.FUNNEL:
        steps = params["steps"]
        params["steps"] = rules.check_funnel_steps(
            steps.split(",") if isinstance(steps, str) else list(steps)
        )
    if kind in (SnapshotKind.FUNNEL, SnapshotKind.JOURNEY):
        params["days"] = _positive_int(params["days"], "/days")
    if kind is SnapshotKind.JOURNEY:
        params["lookback_days"] = _positive_int(params["lookback_days"], "/lookback_days")
    if kind is SnapshotKind.COHORTS and params["since"] is not None:
        params["since"] = rules.parse_as_of(str(params["since"]), pointer="/since").date()
        params["since"] = params["since"].replace(day=1).isoformat()
    return params


def _positive_int(value: Any, pointer: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1 or str(number) != str(value).strip():
        raise InvalidInput(
            f"{pointer.strip('/')} must be a positive whole number, not {value!r}",
            [FieldProblem(pointer, "a positive whole number")],
        )
    return number


def params_key(params: dict[str, Any]) -> str:
    text = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class SnapshotView:
    kind: str
    as_of: datetime
    params: dict[str, Any]
    engine: str
    computed_at: datetime
    duration_ms: int
    row_count: int
    payload: dict[str, Any]


def view_of(snapshot: AnalyticsSnapshot) -> SnapshotView:
    return SnapshotView(
        kind=snapshot.kind,
        as_of=snapshot.as_of,
        params=snapshot.params,
        engine=snapshot.engine,
        computed_at=snapshot.computed_at,
        duration_ms=snapshot.duration_ms,
        row_count=snapshot.row_count,
        payload=snapshot.payload,
    )


def get_snapshot(
    session: Session,
    *,
    kind: SnapshotKind,
    as_of: datetime | None = None,
    params: dict[str, Any] | None = None,
) -> SnapshotView:
    """The stored snapshot for ``as_of`` (naive UTC; the latest when None) and ``params``."""
    canonical = canonical_params(kind, params)
    found = repository.find_snapshot(
        session,
        kind=kind.value,
        params_key=params_key(canonical),
        as_of=None if as_of is None else as_of.replace(tzinfo=UTC),
    )
    if found is None:
        when = "yet" if as_of is None else f"for as_of {rules.as_of_text(as_of)}"
        raise rules.SnapshotNotFound(
            f"no {kind.value} snapshot {when} with these parameters; the nightly job computes "
            f"the defaults, 'fidela analytics {kind.value} --as-of DATE' computes any other"
        )
    return view_of(found)


def list_snapshots(
    session: Session, *, kind: SnapshotKind | None, limit: int = 50
) -> list[SnapshotView]:
    return [
        view_of(s)
        for s in repository.list_snapshots(
            session, kind=None if kind is None else kind.value, limit=limit
        )
    ]


def get_customer_rfm(
    session: Session, *, customer_id: int, as_of: datetime | None = None
) -> tuple[SnapshotView, AnalyticsCustomerRfm]:
    """One customer's row in the RFM snapshot (default parameters) for ``as_of``."""
    canonical = canonical_params(SnapshotKind.RFM)
    found = repository.find_snapshot(
        session,
        kind=SnapshotKind.RFM.value,
        params_key=params_key(canonical),
        as_of=None if as_of is None else as_of.replace(tzinfo=UTC),
    )
    if found is None:
        raise rules.SnapshotNotFound("no RFM snapshot for that as_of")
    row = repository.find_customer_rfm(session, snapshot_id=found.id, customer_id=customer_id)
    if row is None:
        cut = rules.as_of_text(found.as_of.replace(tzinfo=None))
        raise rules.SnapshotNotFound(f"customer {customer_id} has no purchase before {cut}")
    return view_of(found), row


def series_of(payload: dict[str, Any], kpi: rules.Kpi, segment: str) -> dict[date, float | None]:
    """One KPI's values per period start for one segment, from a KPI payload."""
    return {
        date.fromisoformat(row["period_start"]): row.get(kpi.value)
        for row in payload["series"]
        if row["segment"] == segment
    }


def scores_for(session: Session, customer_id: int, _now: datetime) -> dict[str, Any]:
    """The customer-360 section: the person's row in the latest RFM, churn and CLV snapshots.

    ``None`` for a score that was never computed for them (no purchase before its as_of, or
    no snapshot yet): the 360 view shows what is known rather than failing.
    """
    rfm: dict[str, Any] | None = None
    try:
        snapshot, row = get_customer_rfm(session, customer_id=customer_id)
    except rules.SnapshotNotFound:
        pass
    else:
        rfm = {
            "as_of": snapshot.as_of.isoformat(),
            "r": row.r,
            "f": row.f,
            "m": row.m,
            "segment": row.segment,
            "value_segment": row.value_segment,
            "preferred_channel": row.preferred_channel,
        }
    churn_row = repository.find_latest_customer_churn(session, customer_id=customer_id)
    churn = (
        None
        if churn_row is None
        else {
            "as_of": churn_row[0].isoformat(),
            "risk": churn_row[1].risk,
            "reasons": churn_row[1].reasons[:3],
            "warnings": churn_row[1].warnings,
        }
    )
    clv_found = repository.find_latest_customer_clv(session, customer_id=customer_id)
    clv = (
        None
        if clv_found is None
        else {
            "as_of": clv_found[0].as_of.isoformat(),
            "currency": clv_found[0].params.get("currency"),
            "clv_minor": clv_found[1].clv_minor,
            "p_alive": clv_found[1].p_alive,
        }
    )
    return {"rfm": rfm, "churn": churn, "clv": clv}
