"""Import use cases. Customer rows and event rows (orders, events) are both written
set-based, a chunk at a time; either way a bad row is reported and leaves nothing behind
while the good ones commit with their chunk."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from fidela.customer import consent
from fidela.customer import service as customers
from fidela.customer.completion import complete_profiles
from fidela.customer.models import AttributeDefinition
from fidela.customer.resolution import ResolveRequest, resolve_many
from fidela.customer.rules import (
    AttributeType,
    ConsentChannel,
    ConsentPurpose,
    CustomerPolicy,
    Identity,
    InvalidProfile,
)
from fidela.customer.schemas import IdentitiesIn, ProfileFields
from fidela.customer.service import Resolution
from fidela.event import service as events
from fidela.event.service import IngestContext
from fidela.imports.rules import ATTRIBUTE_PREFIX, CustomerRow, customer_row, remap
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


@dataclass(frozen=True)
class _CustomerIn:
    number: int  # the row's number in the file
    row: CustomerRow
    fields: ProfileFields
    values: dict[str, Any]  # the profile columns, cleaned
    identities: tuple[Identity, ...]


def _customer_in(
    session: Session,
    number: int,
    raw: Mapping[str, Any],
    mapping: Mapping[str, str],
    source: str,
    policy: CustomerPolicy,
    now: datetime,
    definitions: Mapping[str, AttributeDefinition],
    declared: Mapping[str, AttributeType],
) -> _CustomerIn:
    """A customer row checked whole before anything is written: a row that fails here is
    reported and leaves nothing behind. ``declared``: each attribute's type (``definitions``
    read as types, once per chunk)."""
    row = customer_row(remap(raw, mapping), source, declared)
    try:
        fields = ProfileFields.model_validate(
            {**row.profile, "tags": row.tags or None, "attributes": row.attributes or None}
        )
        identities_in = IdentitiesIn.model_validate(row.identities)
    except ValidationError as exc:
        problems = problems_from(exc)
        raise InvalidProfile(
            "; ".join(f"{p.pointer}: {p.message}" for p in problems), problems
        ) from None
    identities = customers.collect_identities(identities_in, policy, pointer="")
    # Checked now (the profile lacks none of them yet, or some later row may complete it):
    # what the file gives must be valid whether it creates the profile or completes one.
    values = customers.clean_profile(session, fields, now, definitions=definitions)
    return _CustomerIn(number, row, fields, values, tuple(identities))


def import_customers(
    session: Session,
    *,
    rows: Sequence[tuple[int, Mapping[str, Any]]],
    mapping: Mapping[str, str],
    source: str,
    policy: CustomerPolicy,
    now: datetime,
) -> ImportReport:
    """Create or complete profiles; re-importing the same rows changes nothing.

    Set-based, with a constant number of statements per call whatever the number of rows:
    every identity named is resolved at once (new profiles and identities in one insert
    each, as events resolve theirs), the profiles rows complete are locked and written in
    one statement, consents in one for the records and one each for new and moved states.
    Each row's outcome is the one importing the rows one by one, in order, would give: a
    second row naming the same person (a shared phone) completes the profile the first
    created, and sees the consents the first recorded. A row that is invalid, or names an
    inactive profile, is reported and leaves nothing behind.
    """
    report = ImportReport(rows=len(rows))
    # The declared custom attributes, read once (only for a file that has such columns).
    definitions = (
        customers.attribute_definitions(session)
        if any(
            column.startswith(ATTRIBUTE_PREFIX)
            for _, raw in rows[:1]
            for column in remap(raw, mapping)
        )
        else {}
    )
    declared = {name: AttributeType(d.type) for name, d in definitions.items()}
    parsed: list[_CustomerIn] = []
    for number, raw in rows:
        try:
            parsed.append(
                _customer_in(
                    session, number, raw, mapping, source, policy, now, definitions, declared
                )
            )
        except DomainError as error:
            report.reject(number, error)
    outcomes = resolve_many(
        session,
        [ResolveRequest(identities=p.identities, fields=p.fields) for p in parsed],
        policy=policy,
        now=now,
        definitions=definitions,
    )
    resolved: list[tuple[_CustomerIn, Resolution]] = []
    for customer, outcome in zip(parsed, outcomes, strict=True):
        if isinstance(outcome, DomainError):
            report.reject(customer.number, outcome)
        elif outcome is not None:  # every row names at least its external id
            resolved.append((customer, outcome))
    # Rows naming a profile that existed, or that an earlier row created, complete it.
    completing = [(c, r) for c, r in resolved if not r.created]
    completed = dict(
        zip(
            (c.number for c, _ in completing),
            complete_profiles(session, [(r.customer_id, c.values) for c, r in completing], now=now),
            strict=True,
        )
    )
    consented = _record_consents(session, resolved, source, now)
    for customer, resolution in resolved:
        if resolution.created:
            report.created += 1
        elif completed[customer.number] or resolution.attached or customer.number in consented:
            report.updated += 1
        else:
            report.unchanged += 1
    report.problems.sort(key=lambda problem: problem.row)
    return report


def _record_consents(
    session: Session,
    resolved: Sequence[tuple[_CustomerIn, Resolution]],
    source: str,
    now: datetime,
) -> set[int]:
    """Record what each row says of consent where it differs from the state then current
    (earlier rows included); the numbers of the rows that recorded something."""
    decisions = [
        (
            customer.number,
            consent.ConsentToRecord(
                customer_id=resolution.customer_id,
                channel=ConsentChannel(channel),
                purpose=ConsentPurpose(purpose),
                granted=granted,
                source=f"import:{source}",
                occurred_at=customer.row.consent_at or now,
                proof={
                    "import": source,
                    "row": customer.number,
                    "customer_id": customer.row.external_id,
                },
            ),
        )
        for customer, resolution in resolved
        for channel, purpose, granted in customer.row.consents
    ]
    flags = consent.record_changes(session, [d for _, d in decisions], now=now)
    return {number for (number, _), recorded in zip(decisions, flags, strict=True) if recorded}


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
