"""Loyalty: programmes, rule sets and ladders (compare-and-set), dry runs, liability, and
what a member sees (balance, history, tier and progress)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from fidela.access.rules import Principal
from fidela.api.deps import DatabaseDep, NowDep, scoped
from fidela.api.errors import PROBLEM_RESPONSES
from fidela.api.pagination import InvalidCursor, decode_cursor, encode_cursor
from fidela.kernel.errors import FieldProblem, InvalidInput
from fidela.ledger.liability import LiabilityReport
from fidela.ledger.rules.liability import Breakage
from fidela.loyalty import dry_run, members, programmes
from fidela.loyalty.liability import programme_liability
from fidela.loyalty.programmes import Programme
from fidela.loyalty.rules import Evaluation, ReplayReport
from fidela.loyalty.schemas import (
    AwardOut,
    BalanceOut,
    BreakageOut,
    DryRunEvent,
    DryRunResult,
    GoalOut,
    HistoryItem,
    HistoryPageOut,
    LadderUpdate,
    LiabilityOut,
    PeriodOut,
    ProgrammeCreate,
    ProgrammeOut,
    ReplayRequest,
    ReplayResult,
    RuleSetVersion,
    RulesUpdate,
    RuleTotalsOut,
    TierOut,
)

router = APIRouter(prefix="/v1/loyalty", tags=["Loyalty"], responses=PROBLEM_RESPONSES)
members_router = APIRouter(prefix="/v1/members", tags=["Members"], responses=PROBLEM_RESPONSES)
Read = Annotated[Principal, Depends(scoped("loyalty:read"))]
Write = Annotated[Principal, Depends(scoped("loyalty:write"))]
ProgrammeQuery = Annotated[
    str | None, Query(max_length=64, description="Programme code; optional when only one")
]


def programme_out(programme: Programme) -> ProgrammeOut:
    return ProgrammeOut(
        code=programme.code,
        name=programme.name,
        currency=programme.currency,
        cost_per_point_minor=str(programme.cost_per_point_minor),
        return_policy=programme.return_policy.value,
        hold=dict(programme.hold_json),
        expiry=dict(programme.expiry_json),
        warning_days=programme.warning_days,
        active=programme.active,
        rule_set_version=programme.rule_set_version,
        rules=None if programme.rule_set_json is None else dict(programme.rule_set_json),
        ladder_version=programme.ladder_version,
        ladder=None if programme.ladder_json is None else dict(programme.ladder_json),
        created_at=programme.created_at,
        updated_at=programme.updated_at,
    )


def evaluation_out(evaluation: Evaluation) -> DryRunResult:
    return DryRunResult(
        currency=evaluation.currency,
        total_points=evaluation.total_points,
        cost_minor=evaluation.cost_minor,
        awards=[
            AwardOut(
                rule_id=a.rule_id,
                kind=a.kind.value,
                points=a.points,
                uncapped_points=a.uncapped_points,
                reason=a.reason,
                capped=a.capped,
                reward=a.reward,
                reward_count=a.reward_count,
            )
            for a in evaluation.awards
        ],
    )


def replay_out(report: ReplayReport) -> ReplayResult:
    return ReplayResult(
        currency=report.currency,
        events=report.events,
        members=report.members,
        total_points=report.total_points,
        cost_minor=report.cost_minor,
        rules=[
            RuleTotalsOut(
                rule_id=t.rule_id,
                kind=t.kind.value,
                awards=t.awards,
                points=t.points,
                uncapped_points=t.uncapped_points,
                capped=t.capped,
                rewards=t.rewards,
                cost_minor=t.cost_minor,
            )
            for t in report.rules
        ],
        rejected=[
            {"event_id": r.event_id, "code": r.code, "detail": r.detail} for r in report.rejected
        ],
    )


def _breakage(breakage: Breakage) -> BreakageOut:
    rate = breakage.rate
    return BreakageOut(
        issued=breakage.issued,
        expired=breakage.expired,
        rate=None if rate is None else str(round(rate, 6)),
    )


def liability_out(report: LiabilityReport, currency: str) -> LiabilityOut:
    return LiabilityOut(
        programme=report.programme,
        currency=currency,
        as_of=report.as_of,
        outstanding_active=report.outstanding.active,
        outstanding_pending=report.outstanding.pending,
        debt=report.outstanding.debt,
        cost_per_point_minor=str(report.cost_per_point_minor),
        value_minor=report.value_minor,
        expected_breakage=_breakage(report.expected_breakage),
        expected_value_minor=report.expected_value_minor,
        realised_breakage=_breakage(report.realised_breakage),
        periods=[
            PeriodOut(
                period=p.period,
                issued=p.issued,
                clawed_back=p.clawed_back,
                redeemed=p.redeemed,
                restored=p.restored,
                expired=p.expired,
            )
            for p in report.periods
        ],
    )


# ------------------------------------------------------------------------------ programmes


@router.post(
    "/programmes", status_code=201, response_model=ProgrammeOut, summary="Create a programme"
)
def create_programme(
    payload: ProgrammeCreate, principal: Write, database: DatabaseDep, now: NowDep
) -> ProgrammeOut:
    """A programme with its settings and, optionally, its first rule set and tier ladder
    (each at version 1). Everything is validated before anything is stored."""
    with database.write() as session:
        programme = programmes.create_programme(
            session,
            code=payload.code,
            name=payload.name,
            currency=payload.currency,
            cost_per_point_minor=payload.cost_per_point_minor,
            return_policy=payload.return_policy,
            hold=payload.hold,
            expiry=payload.expiry,
            warning_days=payload.warning_days,
            rules=payload.rules,
            ladder=payload.ladder,
            now=now,
            actor=principal.name,
        )
        return programme_out(programme)


@router.get("/programmes", response_model=list[ProgrammeOut], summary="List programmes")
def list_programmes(_: Read, database: DatabaseDep) -> list[ProgrammeOut]:
    with database.read() as session:
        return [programme_out(p) for p in programmes.list_programmes(session)]


@router.get("/programmes/{code}", response_model=ProgrammeOut, summary="A programme")
def get_programme(code: str, _: Read, database: DatabaseDep) -> ProgrammeOut:
    with database.read() as session:
        return programme_out(programmes.get_programme(session, code=code))


@router.put(
    "/programmes/{code}/rules", response_model=ProgrammeOut, summary="Save a new rule set version"
)
def update_rules(
    code: str, payload: RulesUpdate, principal: Write, database: DatabaseDep, now: NowDep
) -> ProgrammeOut:
    """Compare-and-set: ``version`` must be the current version (409 otherwise). Points
    already issued keep the version that awarded them (see the ledger entries' ``rule``)."""
    with database.write() as session:
        programme = programmes.set_rule_set(
            session,
            code=code,
            rules=payload.rules,
            expected_version=payload.version,
            now=now,
            actor=principal.name,
        )
        return programme_out(programme)


@router.get(
    "/programmes/{code}/rules/versions",
    response_model=list[RuleSetVersion],
    summary="Every saved rule set version, newest first",
)
def rule_versions(code: str, _: Read, database: DatabaseDep) -> list[RuleSetVersion]:
    with database.read() as session:
        return [
            RuleSetVersion(
                version=row.version, rules=row.rules, actor=row.actor, created_at=row.created_at
            )
            for row in programmes.rule_set_versions(session, code=code)
        ]


@router.put(
    "/programmes/{code}/ladder", response_model=ProgrammeOut, summary="Save a new ladder version"
)
def update_ladder(
    code: str, payload: LadderUpdate, _: Write, database: DatabaseDep, now: NowDep
) -> ProgrammeOut:
    """Compare-and-set on ``version``. Nobody is lowered on save; levels cannot be removed,
    only retired."""
    with database.write() as session:
        programme = programmes.set_ladder(
            session, code=code, ladder=payload.ladder, expected_version=payload.version, now=now
        )
        return programme_out(programme)


@router.post(
    "/programmes/{code}/dry-run", response_model=DryRunResult, summary="Evaluate one event"
)
def dry_run_event(code: str, payload: DryRunEvent, _: Read, database: DatabaseDep) -> DryRunResult:
    """The points (and cost) one event would earn, under the programme's rules or a draft
    in ``rules``, for a member as they stand now or a new one. Nothing is written."""
    with database.read() as session:
        programme = programmes.get_programme(session, code=code)
        evaluation = dry_run.dry_run_event(
            session,
            programme=programme,
            event_type=payload.type,
            data=payload.data,
            occurred_at=payload.occurred_at,
            customer_id=payload.customer_id,
            rules=payload.rules,
        )
        return evaluation_out(evaluation)


@router.post(
    "/programmes/{code}/replay", response_model=ReplayResult, summary="Replay recorded orders"
)
def replay_orders(
    code: str, payload: ReplayRequest, _: Read, database: DatabaseDep
) -> ReplayResult:
    """What the rules (or a draft) would have issued on the orders recorded in
    ``[from, to)``, per rule, and at what cost. Nothing is written."""
    with database.read() as session:
        programme = programmes.get_programme(session, code=code)
        report = dry_run.replay_orders(
            session,
            programme=programme,
            start=payload.from_,
            end=payload.to,
            rules=payload.rules,
        )
        return replay_out(report)


@router.get("/programmes/{code}/liability", response_model=LiabilityOut, summary="Points liability")
def liability(
    code: str,
    _: Read,
    database: DatabaseDep,
    now: NowDep,
    from_: Annotated[datetime | None, Query(alias="from")] = None,
    to: datetime | None = None,
) -> LiabilityOut:
    """Outstanding points and their value at the programme's cost per point, breakage
    expected from matured cohorts, realised breakage and issued / redeemed / expired per
    month over ``[from, to)`` (default: the last 12 months)."""
    end = to or now + timedelta(microseconds=1)  # up to and including now
    start = from_ or end - timedelta(days=365)
    for pointer, value in (("/from", start), ("/to", end)):
        if value.tzinfo is None:
            raise InvalidInput(
                f"{pointer}: needs a UTC offset", [FieldProblem(pointer, "needs a UTC offset")]
            )
    with database.read() as session:
        programme = programmes.get_programme(session, code=code)
        report = programme_liability(session, programme=programme, now=now, start=start, end=end)
        return liability_out(report, programme.currency)


# -------------------------------------------------------------------------------- members


@members_router.get(
    "/{customer_id}/balance", response_model=BalanceOut, summary="A member's balance"
)
def balance(
    customer_id: int,
    _: Read,
    database: DatabaseDep,
    now: NowDep,
    programme: ProgrammeQuery = None,
    expiring_within_days: Annotated[int, Query(ge=0, le=366)] = 30,
) -> BalanceOut:
    """Available (spendable), pending (in a return window) and expiring within the next
    ``expiring_within_days`` days, as of now (right before the expiry job has run)."""
    with database.read() as session:
        found = members.member_balance(
            session,
            customer_id=customer_id,
            programme=programme,
            now=now,
            days=expiring_within_days,
        )
    figures = found.balance
    return BalanceOut(
        programme=found.programme,
        available=figures.available,
        pending=figures.pending,
        expiring=figures.expiring,
        expiring_before=figures.expiring_before,
        debt=figures.debt,
    )


@members_router.get(
    "/{customer_id}/history", response_model=HistoryPageOut, summary="A member's points history"
)
def history(
    customer_id: int,
    _: Read,
    database: DatabaseDep,
    programme: ProgrammeQuery = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> HistoryPageOut:
    """Ledger entries, newest first, each with why: the rule set version and rules
    (``v3:base,weekend``), the event, the reference and who acted."""
    before = None
    if cursor is not None:
        position = decode_cursor(cursor)
        if not isinstance(position.get("before"), int):
            raise InvalidCursor(
                "the cursor is not one this API returned",
                [FieldProblem("/cursor", "use next_cursor of the previous page")],
            )
        before = int(position["before"])
    with database.read() as session:
        code, page = members.member_history(
            session, customer_id=customer_id, programme=programme, limit=limit, before=before
        )
    return HistoryPageOut(
        programme=code,
        items=[
            HistoryItem(
                id=e.id,
                kind=e.kind,
                bucket=e.bucket,
                points=e.points,
                at=e.at,
                lot_id=e.lot_id,
                rule=e.rule,
                event_id=e.event_id,
                reference=e.reference,
                actor=e.actor,
            )
            for e in page.entries
        ],
        next_cursor=None
        if page.next_before is None
        else encode_cursor({"before": page.next_before}),
    )


@members_router.get("/{customer_id}/tier", response_model=TierOut, summary="Tier and progress")
def tier(
    customer_id: int,
    _: Read,
    database: DatabaseDep,
    now: NowDep,
    programme: ProgrammeQuery = None,
) -> TierOut:
    """The member's tier, since when, the next review, "X points to Gold", what keeps the
    current tier, and the history of changes."""
    with database.read() as session:
        found = members.member_tier(session, customer_id=customer_id, programme=programme, now=now)

    def goal(value: object) -> GoalOut | None:
        if value is None:
            return None
        return GoalOut.model_validate(value, from_attributes=True)

    return TierOut(
        programme=found.programme,
        enrolled=found.enrolled,
        tier_code=found.tier_code,
        tier_name=found.tier_name,
        since=found.since,
        review_at=found.review_at,
        grace_until=found.grace_until,
        unit=found.progress.unit,
        amount=found.progress.amount,
        next=goal(found.progress.next),
        keep=goal(found.progress.keep),
        history=found.history,
    )
