"""Journeys: publish versioned definitions, switch them on and off, see runs and the advisor
tasks they create."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from fidela.access.rules import Principal
from fidela.api.deps import DatabaseDep, NowDep, scoped
from fidela.api.errors import PROBLEM_RESPONSES
from fidela.engagement.journeys import service
from fidela.engagement.journeys.rules.errors import InvalidJourney
from fidela.engagement.journeys.schemas import AdvisorTask, Journey, JourneyPublish, JourneyRun
from fidela.kernel.errors import FieldProblem

router = APIRouter(prefix="/v1/journeys", tags=["Journeys"], responses=PROBLEM_RESPONSES)
tasks_router = APIRouter(prefix="/v1/advisor-tasks", tags=["Journeys"], responses=PROBLEM_RESPONSES)
Read = Annotated[Principal, Depends(scoped("engagement:read"))]
Write = Annotated[Principal, Depends(scoped("engagement:write"))]


def _out(journey: Any) -> dict[str, Any]:
    return Journey.model_validate(journey).model_dump(mode="json")


@router.get("", response_model=list[Journey], summary="Every journey")
def list_journeys(_: Read, database: DatabaseDep) -> list[dict[str, Any]]:
    with database.read() as session:
        return [_out(j) for j in service.list_journeys(session)]


@router.post("/validate", summary="Check a definition without publishing it")
def validate_journey(payload: dict[str, Any], _: Read) -> dict[str, Any]:
    definition = service.validate(payload)
    return {"valid": True, "code": definition.code, "steps": list(definition.steps)}


@router.post("/library", summary="Install the ready-made journeys (inactive)")
def install_library(_: Write, database: DatabaseDep, now: NowDep) -> dict[str, Any]:
    with database.write() as session:
        return {"installed": service.install_library(session, now=now)}


@router.get("/{code}", response_model=Journey, summary="One journey")
def get_journey(code: str, _: Read, database: DatabaseDep) -> dict[str, Any]:
    with database.read() as session:
        return _out(service.get_journey(session, code))


@router.put("/{code}", response_model=Journey, summary="Publish a journey or a new version")
def publish_journey(
    code: str, payload: JourneyPublish, _: Write, database: DatabaseDep, now: NowDep
) -> dict[str, Any]:
    """Compare-and-set: ``expected_version`` is the version being replaced (omit it to
    create). Runs under way finish on the version they entered."""
    if payload.definition.get("code") != code:
        raise InvalidJourney(
            "the definition's code must be the one in the path",
            [FieldProblem("/definition/code", f"expected {code!r}")],
        )
    with database.write() as session:
        return _out(
            service.publish_journey(
                session,
                definition=payload.definition,
                expected_version=payload.expected_version,
                now=now,
                active=payload.active,
            )
        )


@router.post("/{code}/activate", response_model=Journey, summary="Let customers enter")
def activate(code: str, _: Write, database: DatabaseDep, now: NowDep) -> dict[str, Any]:
    with database.write() as session:
        return _out(service.set_active(session, code=code, active=True, now=now))


@router.post("/{code}/deactivate", response_model=Journey, summary="Stop new entries")
def deactivate(code: str, _: Write, database: DatabaseDep, now: NowDep) -> dict[str, Any]:
    with database.write() as session:
        return _out(service.set_active(session, code=code, active=False, now=now))


@router.get("/{code}/runs", response_model=list[JourneyRun], summary="The latest runs")
def list_runs(
    code: str,
    _: Read,
    database: DatabaseDep,
    customer_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    with database.read() as session:
        runs = service.list_runs(session, journey_code=code, customer_id=customer_id, limit=limit)
        return [JourneyRun.model_validate(r).model_dump(mode="json") for r in runs]


@tasks_router.get("", response_model=list[AdvisorTask], summary="Advisor tasks")
def list_tasks(
    _: Read,
    database: DatabaseDep,
    status: str = "open",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    with database.read() as session:
        return [
            AdvisorTask.model_validate(t).model_dump(mode="json")
            for t in service.list_tasks(session, status=status, limit=limit)
        ]
