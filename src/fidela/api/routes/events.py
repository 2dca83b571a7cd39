"""Event ingestion: one event, a batch, the catalogue, custom type schemas."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from fidela.access.rules import Principal
from fidela.api.balance import BatchLoads
from fidela.api.deps import DatabaseDep, NowDep, WiringDep, request_id_of, scoped
from fidela.api.errors import PROBLEM_RESPONSES
from fidela.api.grouping import EventGrouper
from fidela.event import service
from fidela.event.catalogue import describe_catalogue
from fidela.event.schemas import (
    BatchIn,
    BatchResult,
    EventIn,
    EventResult,
    EventSchema,
    EventSchemaIn,
)
from fidela.event.service import IngestContext
from fidela.platform.heap import collection_paused

router = APIRouter(prefix="/v1/events", tags=["Events"], responses=PROBLEM_RESPONSES)
Read = Annotated[Principal, Depends(scoped("events:read"))]
Write = Annotated[Principal, Depends(scoped("events:write"))]


@router.post(
    "",
    status_code=201,
    response_model=EventResult,
    summary="Send one event",
    responses={200: {"description": "A replay: the first result, unchanged", "model": EventResult}},
)
async def ingest_event(event: EventIn, request: Request, _: Write) -> JSONResponse:
    """Idempotent on (source, external_id, type): a replay changes nothing and answers with
    the first result (status 200, ``replayed: true``). The answer comes once the event is
    committed; concurrent requests share a transaction (see ``fidela.api.grouping``)."""
    grouper: EventGrouper = request.app.state.event_groups
    result = await grouper.ingest(event, request_id_of(request))
    return JSONResponse(result.model_dump(mode="json"), status_code=200 if result.replayed else 201)


@router.post("/batch", response_model=BatchResult, summary="Send up to 1,000 events")
def ingest_batch(
    batch: BatchIn,
    request: Request,
    _: Write,
    database: DatabaseDep,
    wiring: WiringDep,
    now: NowDep,
) -> Response:
    """Each event is accepted, recognised as a duplicate, or rejected with a problem whose
    pointers start at ``/events/<index>``. Rejections never undo the accepted ones."""
    context = IngestContext(wiring.subscribers, wiring.policy, now, request_id_of(request))
    # Idempotent ingestion may run again whole when PostgreSQL breaks a deadlock with
    # another batch (overlapping members locked in another order) by rolling this one back.
    # The collector waits meanwhile: see fidela.platform.heap.
    loads: BatchLoads = request.app.state.batch_loads
    with loads.running() as placement, collection_paused():
        items = database.write_retrying(
            lambda session: service.ingest_batch(session, events=batch.events, context=context)
        )
    result = BatchResult(
        accepted=sum(item.status == "accepted" for item in items),
        duplicates=sum(item.status == "duplicate" for item in items),
        rejected=sum(item.status == "rejected" for item in items),
        items=items,
    )
    # Serialised once, straight to JSON: re-validating a thousand items against the
    # response model cost more than storing them.
    response = Response(result.model_dump_json(), media_type="application/json")
    if not placement.keep:
        response.headers["connection"] = "close"  # placed again: see fidela.api.balance
    return response


@router.get("/types", summary="The event catalogue")
def event_types(_: Read, database: DatabaseDep) -> dict[str, Any]:
    with database.read() as session:
        custom = [
            EventSchema.model_validate(s).model_dump(mode="json")
            for s in service.list_schemas(session)
        ]
    return {"catalogue": describe_catalogue(), "custom": custom}


@router.put(
    "/types/{event_type}/schema",
    response_model=EventSchema,
    summary="Register a custom type's schema",
)
def register_schema(
    event_type: str, payload: EventSchemaIn, _: Write, database: DatabaseDep, now: NowDep
) -> EventSchema:
    with database.write() as session:
        return EventSchema.model_validate(
            service.register_schema(
                session,
                event_type=event_type,
                json_schema=payload.json_schema,
                description=payload.description,
                expected_version=payload.version,
                now=now,
            )
        )


@router.get(
    "/types/{event_type}/schema", response_model=EventSchema, summary="A custom type's schema"
)
def get_schema(event_type: str, _: Read, database: DatabaseDep) -> EventSchema:
    with database.read() as session:
        return EventSchema.model_validate(service.get_schema(session, event_type=event_type))
