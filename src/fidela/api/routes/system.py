"""Operations: liveness, readiness, metrics, and the outbox's dead letters."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse

from fidela.access.rules import Principal
from fidela.api.deps import DatabaseDep, NowDep, scoped
from fidela.api.errors import PROBLEM_RESPONSES
from fidela.api.pagination import decode_cursor, encode_cursor
from fidela.platform import migrate
from fidela.platform.metrics import CONTENT_TYPE, render_metrics
from fidela.platform.outbox import service as outbox
from fidela.platform.outbox.rules import MessageStatus
from fidela.platform.schemas import OutboxMessage, OutboxPage, Readiness

router = APIRouter(tags=["System"])
SystemRead = Annotated[Principal, Depends(scoped("system:read"))]
SystemWrite = Annotated[Principal, Depends(scoped("system:write"))]


@router.get("/health", summary="Liveness: the process answers")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready",
    response_model=Readiness,
    summary="Readiness: the database answers and its schema is current",
    responses={503: {"description": "Not ready", "model": Readiness}},
)
def ready(database: DatabaseDep) -> JSONResponse:
    expected = migrate.head_revision()
    try:
        database.ping()
        current = migrate.current_revision(database.bind)
    except Exception as exc:  # any database failure means not ready
        body = Readiness(
            status="unavailable",
            database=type(exc).__name__,
            schema_revision=None,
            expected_revision=expected,
        )
        return JSONResponse(body.model_dump(), status_code=503)
    ok = current == expected
    body = Readiness(
        status="ok" if ok else "migrations_pending",
        database="ok",
        schema_revision=current,
        expected_revision=expected,
    )
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics() -> Response:
    return Response(render_metrics(), media_type=CONTENT_TYPE)


@router.get(
    "/v1/system/outbox",
    response_model=OutboxPage,
    summary="List outbox messages (dead letters with status=dead)",
    responses=PROBLEM_RESPONSES,
    tags=["System"],
)
def list_outbox(
    _: SystemRead,
    database: DatabaseDep,
    status: MessageStatus | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> OutboxPage:
    after = int(decode_cursor(cursor).get("after", 0)) if cursor else 0
    with database.read() as session:
        rows = outbox.list_outbox(session, status=status, after_id=after, limit=limit)
        items = [OutboxMessage.model_validate(row) for row in rows]
    next_cursor = encode_cursor({"after": items[-1].id}) if len(items) == limit else None
    return OutboxPage(items=items, next_cursor=next_cursor)


@router.get("/v1/system/outbox/counts", summary="Outbox messages per status")
def outbox_counts(_: SystemRead, database: DatabaseDep) -> dict[str, int]:
    with database.read() as session:
        return outbox.outbox_counts(session)


@router.post(
    "/v1/system/outbox/{message_id}/retry",
    status_code=202,
    summary="Send a dead-lettered message again",
    responses=PROBLEM_RESPONSES,
)
def retry_outbox_message(
    message_id: int, _: SystemWrite, database: DatabaseDep, now: NowDep
) -> dict[str, str]:
    with database.write() as session:
        outbox.retry_dead_message(session, message_id=message_id, now=now)
    return {"status": "pending"}
