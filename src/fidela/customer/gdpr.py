"""Data-subject rights: export everything, erase (pseudonymise) everything, restrict profiling.

Both export and erasure work on ``ownership.rows_about``: every row of every table that is
about the person, found through the schema's foreign keys. Erasure rewrites personal data in
place (columns marked PII, JSON documents scrubbed, any text holding the person's email,
phone or names) and never touches an amount, so ledger and order sums are unchanged.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, DateTime, String, Text, UniqueConstraint, and_, select, update
from sqlalchemy.orm import Session

from fidela.customer import repository
from fidela.customer.models import Customer, GdprRequest
from fidela.customer.ownership import rows_about
from fidela.customer.rules import (
    CustomerNotActive,
    CustomerPolicy,
    CustomerStatus,
    contains_secret,
    erasure_secrets,
    pseudonym,
    scrub,
)
from fidela.customer.service import get_customer
from fidela.platform.audit.service import list_audit, record_audit
from fidela.platform.db import Base
from fidela.platform.types import is_pii


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def export_customer(
    session: Session, *, customer_id: int, actor: str, now: datetime
) -> dict[str, Any]:
    """Everything held about a person, as JSON-ready data (one list of rows per table)."""
    customer = get_customer(session, customer_id=customer_id)
    # Recorded first, so the export includes the record of itself.
    request = GdprRequest(
        customer_id=customer.id,
        kind="export",
        actor=actor,
        requested_at=now,
        completed_at=now,
        details={},
    )
    session.add(request)
    session.flush()
    tables = rows_about(session, Base.metadata, customer.id)
    request.details = {"tables": {k: len(v) for k, v in sorted(tables.items())}}
    session.flush()
    audit = [
        {"at": e.at, "actor": e.actor, "action": e.action, "details": e.details}
        for e in list_audit(session, subject_type="customer", subject_id=customer.id)
    ]
    return {
        "customer_id": customer.id,
        "generated_at": now.isoformat(),
        "format": "fidela.gdpr-export/1",
        "tables": {
            name: [{key: _jsonable(value) for key, value in row.items()} for row in rows]
            for name, rows in sorted(tables.items())
        },
        "audit": [{k: _jsonable(v) for k, v in entry.items()} for entry in audit],
    }


def _stand_in(
    base: str, table: str, key: tuple[object, ...], column: str, length: int | None
) -> str:
    """Unique per row and column, so unique constraints still hold after erasure."""
    digest = hashlib.sha256(f"{base}:{table}:{key}:{column}".encode()).hexdigest()[:12]
    value = f"{base}-{digest}"
    return value[:length] if length else value


def erase_customer(
    session: Session, *, customer_id: int, actor: str, now: datetime, policy: CustomerPolicy
) -> GdprRequest:
    """Pseudonymise a person's data everywhere; idempotent (a second call returns the first
    record). Amounts, dates of business events and ids are kept."""
    customer = get_customer(session, customer_id=customer_id)
    if customer.status == CustomerStatus.ERASED.value:
        previous = [r for r in gdpr_requests(session, customer_id=customer.id) if r.kind == "erase"]
        if previous:
            return previous[0]
    if customer.status != CustomerStatus.ACTIVE.value:
        raise CustomerNotActive(f"customer {customer.id} is {customer.status}")
    # Profiles merged into this one are the same person: their tombstones are erased too.
    tombstones = list(
        session.execute(select(Customer).where(Customer.merged_into_id == customer.id)).scalars()
    )
    people = [customer, *tombstones]
    repository.lock_customers(session, [p.id for p in people])
    identities = [i.value for i in repository.list_identities(session, customer.id)]
    names = [n for p in people for n in (p.first_name, p.last_name)]
    fulls = [" ".join(n for n in (p.first_name, p.last_name) if n) for p in people]
    secrets = erasure_secrets([*identities, *names, *fulls])
    base = pseudonym(customer.id, policy.erasure_salt)
    rows: dict[str, list[dict[str, object]]] = {}
    for person in people:
        for name, table_rows in rows_about(session, Base.metadata, person.id).items():
            rows.setdefault(name, []).extend(table_rows)
    changed: dict[str, int] = {}
    for name, table_rows in rows.items():
        table = Base.metadata.tables[name]
        primary = [c.name for c in table.primary_key.columns]
        unique_columns = {
            column.name
            for constraint in table.constraints
            if isinstance(constraint, UniqueConstraint)
            for column in constraint.columns
        }
        for row in table_rows:
            key = tuple(row[c] for c in primary)
            values: dict[str, Any] = {}
            for column in table.columns:
                value = row[column.name]
                if value is None or column.name in primary or column.foreign_keys:
                    continue
                pii = is_pii(column.info)
                if isinstance(column.type, JSON):
                    cleaned = scrub(value, secrets, personal_keys=pii)
                    if cleaned != value:
                        values[column.name] = cleaned
                elif isinstance(column.type, String | Text) and isinstance(value, str):
                    if pii or contains_secret(value, secrets):
                        keep_unique = column.name in unique_columns or not column.nullable
                        values[column.name] = (
                            _stand_in(
                                base, name, key, column.name, getattr(column.type, "length", None)
                            )
                            if keep_unique
                            else None
                        )
                elif pii and isinstance(column.type, Date | DateTime) and column.nullable:
                    values[column.name] = None
            if values:
                condition = and_(*(table.c[c] == row[c] for c in primary))
                session.execute(update(table).where(condition).values(**values))
                changed[name] = changed.get(name, 0) + 1
    session.expire_all()
    erased = repository.get_customer(session, customer.id)
    erased.status = CustomerStatus.ERASED.value
    erased.erased_at = now
    erased.profiling_restricted = True
    erased.version += 1
    erased.updated_at = now
    request = GdprRequest(
        customer_id=customer.id,
        kind="erase",
        actor=actor,
        requested_at=now,
        completed_at=now,
        details={"rows_pseudonymised": dict(sorted(changed.items())), "pseudonym": base},
    )
    session.add(request)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="customer.erased",
        subject_type="customer",
        subject_id=customer.id,
        details={"rows_pseudonymised": request.details["rows_pseudonymised"]},
        now=now,
    )
    return request


def restrict_profiling(
    session: Session, *, customer_id: int, restricted: bool, actor: str, now: datetime
) -> GdprRequest:
    """Leave the person out of scoring and personalisation (GDPR art. 18 and 21), or undo."""
    customer = get_customer(session, customer_id=customer_id)
    locked: Customer = repository.lock_customers(session, [customer.id])[customer.id]
    if locked.status != CustomerStatus.ACTIVE.value:
        raise CustomerNotActive(f"customer {customer.id} is {locked.status}")
    locked.profiling_restricted = restricted
    locked.version += 1
    locked.updated_at = now
    request = GdprRequest(
        customer_id=customer.id,
        kind="restrict" if restricted else "unrestrict",
        actor=actor,
        requested_at=now,
        completed_at=now,
        details={},
    )
    session.add(request)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action=f"customer.{request.kind}",
        subject_type="customer",
        subject_id=customer.id,
        details={},
        now=now,
    )
    return request


def gdpr_requests(session: Session, *, customer_id: int) -> list[GdprRequest]:
    return list(
        session.execute(
            select(GdprRequest)
            .where(GdprRequest.customer_id == customer_id)
            .order_by(GdprRequest.id)
        ).scalars()
    )
