"""Import use cases. Customer rows run each in its own savepoint; event rows (orders, events)
go through set-based batch ingestion. Either way a bad row is reported and leaves nothing
behind while the good ones commit with their chunk."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from fidela.customer import consent
from fidela.customer import service as customers
from fidela.customer.rules import (
    ConsentChannel,
    ConsentPurpose,
    ConsentStatus,
    CustomerPolicy,
    InvalidProfile,
)
from fidela.customer.schemas import IdentitiesIn, ProfileFields
from fidela.event import service as events
from fidela.event.service import IngestContext
from fidela.imports.rules import CustomerRow, customer_row, remap
from fidela.kernel.errors import DomainError, FieldProblem
from fidela.platform.validation import problems_from


@dataclass(frozen=True)
class RowProblem:
    row: int  # 1-based data row number in the file
    code: str
    pointer: str
    message: str


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0  # customers created / events accepted
    updated: int = 0
    unchanged: int = 0  # customers already up to date / event replays
    rejected: int = 0
    problems: list[RowProblem] = field(default_factory=list)

    def add(self, other: ImportReport) -> None:
        self.rows += other.rows
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.rejected += other.rejected
        self.problems.extend(other.problems)

    def reject(self, row: int, error: DomainError) -> None:
        self.rejected += 1
        problems = error.problems or [FieldProblem("/", error.detail)]
        self.problems.extend(RowProblem(row, error.code, p.pointer, p.message) for p in problems)


def _apply_customer(
    session: Session,
    row: CustomerRow,
    row_number: int,
    source: str,
    policy: CustomerPolicy,
    now: datetime,
) -> str:
    try:
        fields = ProfileFields.model_validate({**row.profile, "tags": row.tags or None})
        identities_in = IdentitiesIn.model_validate(row.identities)
    except ValidationError as exc:
        problems = problems_from(exc)
        raise InvalidProfile(
            "; ".join(f"{p.pointer}: {p.message}" for p in problems), problems
        ) from None
    identities = customers.collect_identities(identities_in, policy, pointer="")
    resolution = customers.resolve_customer(
        session, identities=identities, policy=policy, now=now, create=False
    )
    outcome = "unchanged"
    if resolution is None:
        customer = customers.create_customer(session, fields=fields, identities=identities, now=now)
        customer_id, outcome = customer.id, "created"
    else:
        customer_id = resolution.customer_id
        existing = customers.get_customer(session, customer_id=customer_id)
        missing = {
            name: value
            for name, value in fields.model_dump(exclude_unset=True).items()
            if name != "tags" and getattr(existing, name, None) in (None, "") and value is not None
        }
        if missing:
            customers.update_customer(
                session,
                customer_id=customer_id,
                fields=ProfileFields.model_validate(missing),
                expected_version=None,
                now=now,
            )
        if missing or resolution.attached:
            outcome = "updated"
    current = {
        (c.channel, c.purpose): c.status
        for c in consent.current_consents(session, customer_id=customer_id)
    }
    for channel, purpose, granted in row.consents:
        wanted = ConsentStatus.GRANTED.value if granted else ConsentStatus.DENIED.value
        if current.get((channel, purpose)) == wanted:
            continue
        consent.record_consent(
            session,
            customer_id=customer_id,
            channel=ConsentChannel(channel),
            purpose=ConsentPurpose(purpose),
            granted=granted,
            source=f"import:{source}",
            now=now,
            occurred_at=row.consent_at,
            proof={"import": source, "row": row_number, "customer_id": row.external_id},
        )
        outcome = "updated" if outcome == "unchanged" else outcome
    return outcome


def import_customers(
    session: Session,
    *,
    rows: Sequence[tuple[int, Mapping[str, Any]]],
    mapping: Mapping[str, str],
    source: str,
    policy: CustomerPolicy,
    now: datetime,
) -> ImportReport:
    """Create or complete profiles; re-importing the same rows changes nothing."""
    report = ImportReport()
    for row_number, raw in rows:
        report.rows += 1
        savepoint = session.begin_nested()
        try:
            parsed = customer_row(remap(raw, mapping), source)
            outcome = _apply_customer(session, parsed, row_number, source, policy, now)
        except DomainError as error:
            savepoint.rollback()
            report.reject(row_number, error)
            continue
        savepoint.commit()
        if outcome == "created":
            report.created += 1
        elif outcome == "updated":
            report.updated += 1
        else:
            report.unchanged += 1
    return report


def import_events(
    session: Session,
    *,
    events_by_row: Sequence[tuple[int, list[dict[str, Any]] | DomainError]],
    context: IngestContext,
) -> ImportReport:
    """Ingest the events each row converted to (or report the row's conversion error)."""
    report = ImportReport()
    flat: list[dict[str, Any]] = []
    owners: list[int] = []
    for row_number, converted in events_by_row:
        report.rows += 1
        if isinstance(converted, DomainError):
            report.reject(row_number, converted)
            continue
        flat.extend(converted)
        owners.extend([row_number] * len(converted))
    failed_rows: set[int] = set()
    for start in range(0, len(flat), 1000):
        items = events.ingest_batch(session, events=flat[start : start + 1000], context=context)
        for item in items:
            row_number = owners[start + item.index]
            if item.status == "accepted":
                report.created += 1
            elif item.status == "duplicate":
                report.unchanged += 1
            elif item.problem is not None and row_number not in failed_rows:
                failed_rows.add(row_number)
                report.rejected += 1
                prefix = f"/events/{item.index}"
                errors = item.problem.errors or [{"pointer": prefix, "detail": item.problem.detail}]
                report.problems.extend(
                    RowProblem(
                        row_number,
                        item.problem.code,
                        e["pointer"].removeprefix(prefix) or "/",
                        e["detail"],
                    )
                    for e in errors
                )
    return report
