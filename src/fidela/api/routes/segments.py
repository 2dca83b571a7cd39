"""Segments: rule-builder definitions, preview, materialised members and their history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from fidela.access.rules import Principal
from fidela.api.deps import DatabaseDep, NowDep, scoped
from fidela.api.errors import PROBLEM_RESPONSES
from fidela.api.pagination import decode_cursor, encode_cursor
from fidela.segment import service
from fidela.segment.schemas import (
    MemberPage,
    Membership,
    Segment,
    SegmentCreate,
    SegmentPage,
    SegmentPreview,
    SegmentPreviewIn,
    SegmentRefresh,
    SegmentUpdate,
)

router = APIRouter(prefix="/v1/segments", tags=["Segments"], responses=PROBLEM_RESPONSES)
Read = Annotated[Principal, Depends(scoped("analytics:read"))]
Write = Annotated[Principal, Depends(scoped("analytics:write"))]
Limit = Annotated[int, Query(ge=1, le=500)]


def _after(cursor: str | None) -> int:
    if not cursor:
        return 0
    value = decode_cursor(cursor).get("after", 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


@router.post("", status_code=201, response_model=Segment, summary="Define a segment")
def create_segment(payload: SegmentCreate, _: Write, database: DatabaseDep, now: NowDep) -> Segment:
    """The definition is validated (problems point at ``/definition/...``); members are
    materialised by the next refresh (worker job or ``POST /{id}/refresh``)."""
    with database.write() as session:
        segment = service.create_segment(
            session,
            key=payload.key,
            name=payload.name,
            description=payload.description,
            definition=payload.definition,
            now=now,
        )
        return Segment.model_validate(segment)


@router.get("", response_model=SegmentPage, summary="List segments")
def list_segments(
    _: Read, database: DatabaseDep, cursor: str | None = None, limit: Limit = 50
) -> SegmentPage:
    with database.read() as session:
        rows = service.list_segments(session, after_id=_after(cursor), limit=limit)
        items = [Segment.model_validate(row) for row in rows]
    next_cursor = encode_cursor({"after": items[-1].id}) if len(items) == limit else None
    return SegmentPage(items=items, next_cursor=next_cursor)


@router.post("/preview", response_model=SegmentPreview, summary="Count a definition's members")
def preview_segment(
    payload: SegmentPreviewIn, _: Read, database: DatabaseDep, now: NowDep
) -> SegmentPreview:
    as_of = payload.as_of or now
    with database.read() as session:
        count = service.preview_count(session, definition=payload.definition, now=as_of)
    return SegmentPreview(count=count, as_of=as_of)


@router.get("/{segment_id}", response_model=Segment, summary="A segment")
def get_segment(segment_id: int, _: Read, database: DatabaseDep) -> Segment:
    with database.read() as session:
        return Segment.model_validate(service.get_segment(session, segment_id=segment_id))


@router.patch("/{segment_id}", response_model=Segment, summary="Change a segment")
def update_segment(
    segment_id: int, payload: SegmentUpdate, _: Write, database: DatabaseDep, now: NowDep
) -> Segment:
    """Compare-and-set on ``version``: 409 if the segment changed since you read it."""
    with database.write() as session:
        segment = service.update_segment(
            session,
            segment_id=segment_id,
            expected_version=payload.version,
            name=payload.name,
            description=payload.description,
            definition=payload.definition,
            now=now,
        )
        return Segment.model_validate(segment)


@router.post("/{segment_id}/refresh", response_model=SegmentRefresh, summary="Refresh members")
def refresh_segment(
    segment_id: int, _: Write, database: DatabaseDep, now: NowDep
) -> SegmentRefresh:
    with database.write() as session:
        result = service.refresh_segment(session, segment_id=segment_id, now=now)
    return SegmentRefresh(
        segment_id=result.segment_id,
        members=result.members,
        entered=result.entered,
        exited=result.exited,
    )


@router.get("/{segment_id}/members", response_model=MemberPage, summary="Current members")
def list_members(
    segment_id: int,
    _: Read,
    database: DatabaseDep,
    cursor: str | None = None,
    limit: Limit = 100,
) -> MemberPage:
    """Members as of the last refresh, by customer id."""
    with database.read() as session:
        rows = service.list_members(
            session, segment_id=segment_id, after_customer_id=_after(cursor), limit=limit
        )
        items = [Membership.model_validate(row) for row in rows]
    next_cursor = encode_cursor({"after": items[-1].customer_id}) if len(items) == limit else None
    return MemberPage(items=items, next_cursor=next_cursor)


@router.get("/{segment_id}/history", response_model=MemberPage, summary="Entries and exits")
def membership_history(
    segment_id: int,
    _: Read,
    database: DatabaseDep,
    customer_id: int | None = None,
    cursor: str | None = None,
    limit: Limit = 100,
) -> MemberPage:
    """Every stay in the segment (``entered_at``, and ``exited_at`` once they left)."""
    with database.read() as session:
        rows = service.membership_history(
            session,
            segment_id=segment_id,
            customer_id=customer_id,
            after_id=_after(cursor),
            limit=limit,
        )
        items = [Membership.model_validate(row) for row in rows]
    next_cursor = encode_cursor({"after": items[-1].id}) if len(items) == limit else None
    return MemberPage(items=items, next_cursor=next_cursor)
