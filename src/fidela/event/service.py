"""Event ingestion use cases."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import ValidationError
from sqlalchemy.orm import Session

from fidela.customer import service as customers
from fidela.customer.rules import CustomerNotActive, CustomerPolicy
from fidela.customer.schemas import ExternalIdIn
from fidela.event import repository
from fidela.event.catalogue import CATALOGUE, CUSTOM_PREFIX
from fidela.event.dispatch import SubscriberRegistry, customer_learnt
from fidela.event.models import Event, EventTypeSchema
from fidela.event.rules import (
    CustomerRequired,
    DispatchedEvent,
    EventSchemaConflict,
    EventSchemaInvalid,
    EventSchemaNotFound,
    InvalidEvent,
    UnknownEventType,
    check_batch_size,
    repoint,
    retention_cutoff,
    validate_source,
    validate_type_name,
)
from fidela.event.schemas import BatchItem, EventIn, EventResult, Problem
from fidela.kernel.errors import DomainError, FieldProblem
from fidela.platform.validation import problems_from, summary


@dataclass(frozen=True)
class IngestContext:
    """What ingestion needs besides the session: subscribers, identity policy, the clock."""

    subscribers: SubscriberRegistry
    policy: CustomerPolicy
    now: datetime
    request_id: str | None = None


# Compiled validators keyed by the schema's own text: compiling costs more than validating one
# event. Keyed on content, not version, so a registration that was rolled back can never
# leave a stale validator behind; a process sees at most a few dozen schemas.
_validators: dict[str, Draft202012Validator] = {}


def _validator(schema: EventTypeSchema) -> Draft202012Validator:
    key = json.dumps(schema.json_schema, sort_keys=True)
    if key not in _validators:
        _validators[key] = Draft202012Validator(schema.json_schema)
    return _validators[key]


def _validate_data(
    session: Session, event_type: str, data: dict[str, Any]
) -> tuple[Any, dict[str, Any]]:
    """The validated model (catalogue types) and the JSON form stored with the event."""
    entry = CATALOGUE.get(event_type)
    if entry is not None:
        try:
            model = entry.data.model_validate(data)
            return model, model.model_dump(mode="json", exclude_none=True)
        except ValidationError as exc:
            problems = problems_from(exc, "/data")
            raise InvalidEvent(summary(problems), problems) from None
    if not event_type.startswith(CUSTOM_PREFIX):
        raise UnknownEventType(
            f"'{event_type}' is not in the event catalogue (custom types start with 'custom.')",
            [FieldProblem("/type", "unknown event type")],
        )
    schema = repository.find_schema(session, event_type)
    if schema is None:
        raise UnknownEventType(
            f"no schema is registered for '{event_type}'",
            [FieldProblem("/type", "register a JSON schema for this custom type first")],
        )
    errors = sorted(
        _validator(schema).iter_errors(data),
        key=lambda e: list(e.absolute_path),
    )
    if errors:
        problems = [
            FieldProblem("/data" + "".join(f"/{part}" for part in e.absolute_path), e.message)
            for e in errors
        ]
        raise InvalidEvent(summary(problems), problems)
    return None, data


def _resolve(
    session: Session, event: EventIn, context: IngestContext
) -> tuple[int | None, bool, list[dict[str, Any]]]:
    ref = event.customer
    if ref is None:
        return None, False, []
    if ref.id is not None:
        customer = customers.get_customer(session, customer_id=ref.id)
        if customer.status != "active":
            raise CustomerNotActive(f"customer {ref.id} is {customer.status}")
        return customer.id, False, []
    identities_in = ref.model_copy(
        update={
            "external_ids": [
                *ref.external_ids,
                *(
                    [ExternalIdIn(source=event.source, id=ref.external_id)]
                    if ref.external_id
                    else []
                ),
            ]
        }
    )
    identities = customers.collect_identities(identities_in, context.policy, pointer="/customer")
    resolution = customers.resolve_customer(
        session,
        identities=identities,
        policy=context.policy,
        now=context.now,
        create=True,
        fields=ref.profile,
    )
    if resolution is None:
        return None, False, []
    conflicts = [
        {"kind": identity.kind.value, "owner_customer_id": owner}
        for identity, owner in resolution.conflicts
    ]
    return resolution.customer_id, resolution.created, conflicts


def ingest_event(session: Session, *, event: EventIn, context: IngestContext) -> EventResult:
    """Store, resolve and dispatch one event; a replay returns the first result unchanged."""
    event_type = validate_type_name(event.type)
    source = validate_source(event.source)
    payload, data = _validate_data(session, event_type, event.data)
    entry = CATALOGUE.get(event_type)
    if entry is not None and entry.requires_customer and event.customer is None:
        raise CustomerRequired(
            f"'{event_type}' events must say which customer they are about",
            [FieldProblem("/customer", "required for this event type")],
        )
    event_id = repository.claim_event(
        session,
        source=source,
        external_id=event.external_id,
        type=event_type,
        occurred_at=event.occurred_at,
        received_at=context.now,
        request_id=context.request_id,
        data=data,
    )
    if event_id is None:
        first = repository.find_result(
            session, source=source, external_id=event.external_id, type=event_type
        )
        return EventResult.model_validate({**(first or {}), "replayed": True})
    customer_id, created, conflicts = _resolve(session, event, context)
    effects = context.subscribers.dispatch(
        session,
        DispatchedEvent(
            id=event_id,
            type=event_type,
            source=source,
            external_id=event.external_id,
            occurred_at=event.occurred_at,
            customer_id=customer_id,
            data=data,
            now=context.now,
            payload=payload,
        ),
    )
    if customer_id is None:
        customer_id = customer_learnt(effects)
    result = EventResult(
        event_id=event_id,
        type=event_type,
        source=source,
        external_id=event.external_id,
        customer_id=customer_id,
        customer_created=created,
        effects=effects,
        identity_conflicts=conflicts,
    )
    repository.set_outcome(
        session, event_id, customer_id=customer_id, result=result.model_dump(mode="json")
    )
    return result


def _problem(error: DomainError, prefix: str) -> Problem:
    return Problem(
        code=error.code,
        title=error.title,
        detail=error.detail,
        errors=[
            {"pointer": p.pointer, "detail": p.message} for p in repoint(error.problems, prefix)
        ],
    )


def ingest_batch(
    session: Session, *, events: list[dict[str, Any]], context: IngestContext
) -> list[BatchItem]:
    """Ingest up to 1,000 events. Each runs in its own savepoint: an invalid one is reported
    by index and rolled back alone; the valid ones commit with the batch."""
    check_batch_size(len(events))
    items: list[BatchItem] = []
    for index, raw in enumerate(events):
        prefix = f"/events/{index}"
        try:
            event = EventIn.model_validate(raw)
        except ValidationError as exc:
            problems = problems_from(exc)
            error = InvalidEvent(summary(problems), problems)
            items.append(BatchItem(index=index, status="rejected", problem=_problem(error, prefix)))
            continue
        savepoint = session.begin_nested()
        try:
            result = ingest_event(session, event=event, context=context)
        except DomainError as error:
            savepoint.rollback()
            items.append(BatchItem(index=index, status="rejected", problem=_problem(error, prefix)))
            continue
        savepoint.commit()
        status = "duplicate" if result.replayed else "accepted"
        items.append(BatchItem(index=index, status=status, result=result))
    return items


def customer_timeline(
    session: Session,
    *,
    customer_id: int,
    types: list[str] | None,
    before: tuple[datetime, int] | None,
    limit: int,
) -> list[Event]:
    customer = customers.get_customer(session, customer_id=customer_id)
    return list(
        repository.timeline(
            session, customer_id=customer.id, types=types, before=before, limit=limit
        )
    )


def register_schema(
    session: Session,
    *,
    event_type: str,
    json_schema: dict[str, Any],
    description: str,
    expected_version: int | None,
    now: datetime,
) -> EventTypeSchema:
    """Register or replace the JSON schema of a ``custom.*`` type (compare-and-set on version)."""
    validate_type_name(event_type, "/type")
    if not event_type.startswith(CUSTOM_PREFIX):
        raise EventSchemaInvalid(
            "only custom.* types take a registered schema; catalogue types are built in",
            [FieldProblem("/type", "must start with custom.")],
        )
    try:
        Draft202012Validator.check_schema(json_schema)
    except SchemaError as exc:
        raise EventSchemaInvalid(
            f"not a valid JSON schema: {exc.message}", [FieldProblem("/json_schema", exc.message)]
        ) from None
    existing = repository.find_schema(session, event_type)
    if existing is None:
        schema = EventTypeSchema(
            type=event_type,
            json_schema=json_schema,
            description=description,
            version=1,
            created_at=now,
            updated_at=now,
        )
        session.add(schema)
        session.flush()
        return schema
    if expected_version is not None and expected_version != existing.version:
        raise EventSchemaConflict(
            f"{event_type} is at version {existing.version}, not {expected_version}",
            [FieldProblem("/version", f"current version is {existing.version}")],
        )
    existing.json_schema, existing.description = json_schema, description
    existing.version += 1
    existing.updated_at = now
    session.flush()
    return existing


def get_schema(session: Session, *, event_type: str) -> EventTypeSchema:
    schema = repository.find_schema(session, event_type)
    if schema is None:
        raise EventSchemaNotFound(f"no schema is registered for '{event_type}'")
    return schema


def list_schemas(session: Session) -> list[EventTypeSchema]:
    return list(repository.list_schemas(session))


def purge_expired_events(
    session: Session, *, now: datetime, retention_days: int, batch: int = 5_000
) -> int:
    """Delete raw events received before the retention cutoff (one batch per call)."""
    return repository.delete_received_before(session, retention_cutoff(now, retention_days), batch)
