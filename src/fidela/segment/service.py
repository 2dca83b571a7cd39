"""Segment use cases: define, change (compare-and-set), preview, refresh membership, read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fidela.segment import repository
from fidela.segment.compiler import check_available, members_query
from fidela.segment.models import Segment, SegmentMembership
from fidela.segment.rules import (
    Node,
    SegmentDefinitionInvalid,
    SegmentKeyTaken,
    SegmentVersionConflict,
    membership_changes,
    parse_definition,
    prefix_problems,
)


def validate_definition(definition: Any, *, pointer: str = "/definition") -> Node:
    """The parsed tree; problems point into the request (``/definition/all/0/op``)."""
    try:
        node = parse_definition(definition)
    except SegmentDefinitionInvalid as error:
        raise prefix_problems(error, pointer) from None
    check_available(node)
    return node


def create_segment(
    session: Session, *, key: str, name: str, description: str, definition: Any, now: datetime
) -> Segment:
    validate_definition(definition)
    if repository.find_segment_by_key(session, key) is not None:
        raise SegmentKeyTaken(f"segment key {key!r} is taken")
    segment = Segment(
        key=key,
        name=name,
        description=description,
        definition=definition,
        version=1,
        member_count=0,
        refreshed_at=None,
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            return repository.add_segment(session, segment)
    except IntegrityError:  # a concurrent create with the same key
        raise SegmentKeyTaken(f"segment key {key!r} is taken") from None


def update_segment(
    session: Session,
    *,
    segment_id: int,
    expected_version: int,
    name: str | None = None,
    description: str | None = None,
    definition: Any = None,
    now: datetime,
) -> Segment:
    """Change a segment if it is still at ``expected_version``; members are recomputed by
    the next refresh (the history then shows who the new definition let in or out)."""
    current = repository.get_segment(session, segment_id)
    values: dict[str, Any] = {"updated_at": now}
    if name is not None:
        values["name"] = name
    if description is not None:
        values["description"] = description
    if definition is not None:
        validate_definition(definition)
        values["definition"] = definition
    if not repository.update_segment_if_version(
        session, segment_id=segment_id, expected_version=expected_version, values=values
    ):
        raise SegmentVersionConflict(
            f"segment {segment_id} is at version {current.version}, not {expected_version}"
        )
    session.refresh(current)
    return current


def get_segment(session: Session, *, segment_id: int) -> Segment:
    return repository.get_segment(session, segment_id)


def list_segments(session: Session, *, after_id: int = 0, limit: int = 50) -> Sequence[Segment]:
    return repository.list_segments(session, after_id=after_id, limit=limit)


def preview_count(session: Session, *, definition: Any, now: datetime) -> int:
    """How many active customers the definition selects as of ``now`` (nothing stored)."""
    node = validate_definition(definition)
    return repository.count_rows(session, members_query(node, now=now))


@dataclass(frozen=True)
class RefreshResult:
    segment_id: int
    members: int
    entered: int
    exited: int


def refresh_segment(session: Session, *, segment_id: int, now: datetime) -> RefreshResult:
    """Recompute the members as of ``now``: open a stay for each newcomer, close the stay of
    each leaver (``exited_at = now``). A refresh that changes nothing writes no rows."""
    segment = repository.get_segment(session, segment_id)
    node = validate_definition(segment.definition)
    current = list(session.scalars(members_query(node, now=now)))
    changes = membership_changes(current, repository.open_member_ids(session, segment_id))
    repository.close_entries(session, segment_id=segment_id, customer_ids=changes.exited, now=now)
    repository.add_entries(session, segment_id=segment_id, customer_ids=changes.entered, now=now)
    segment.member_count = len(current)
    segment.refreshed_at = now
    session.flush()
    return RefreshResult(segment_id, len(current), len(changes.entered), len(changes.exited))


def refresh_all_segments(session: Session, *, now: datetime) -> list[RefreshResult]:
    results: list[RefreshResult] = []
    after = 0
    while True:
        page = repository.list_segments(session, after_id=after, limit=100)
        if not page:
            return results
        for segment in page:
            results.append(refresh_segment(session, segment_id=segment.id, now=now))
        after = page[-1].id


def list_members(
    session: Session, *, segment_id: int, after_customer_id: int = 0, limit: int = 100
) -> Sequence[SegmentMembership]:
    repository.get_segment(session, segment_id)
    return repository.list_members(
        session, segment_id=segment_id, after_customer_id=after_customer_id, limit=limit
    )


def membership_history(
    session: Session,
    *,
    segment_id: int,
    customer_id: int | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> Sequence[SegmentMembership]:
    repository.get_segment(session, segment_id)
    return repository.list_history(
        session, segment_id=segment_id, customer_id=customer_id, after_id=after_id, limit=limit
    )


def current_keys(session: Session, customer_ids: Sequence[int]) -> dict[int, frozenset[str]]:
    """Each customer's current segment keys (what reward visibility checks), in one query;
    a customer in no segment maps to an empty set."""
    found = repository.current_keys_of(session, customer_ids)
    return {customer_id: frozenset(found.get(customer_id, ())) for customer_id in customer_ids}


def segments_for(session: Session, customer_id: int, _now: datetime) -> dict[str, Any]:
    """The customer-360 section: the segments the person belongs to now, since when."""
    rows = repository.list_current_for_customer(session, customer_id=customer_id)
    return {
        "current": [
            {"key": key, "name": name, "since": entered_at.isoformat()}
            for key, name, entered_at in rows
        ]
    }
