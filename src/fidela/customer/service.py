"""Profile and identity use cases: create, update, search, resolve incoming identities."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from fidela.customer import repository
from fidela.customer.models import AttributeDefinition, Customer, CustomerIdentity
from fidela.customer.rules import (
    LANGUAGES,
    AttributeType,
    CustomerNotActive,
    CustomerPolicy,
    CustomerStatus,
    Identity,
    IdentityKind,
    IdentityTaken,
    InvalidIdentity,
    InvalidProfile,
    VersionConflict,
    coerce_attribute,
    normalise_identity,
    normalise_tags,
    validate_attribute_name,
    validate_birth_date,
    validate_choice,
    validate_timezone,
)
from fidela.customer.schemas import IdentitiesIn, ProfileFields
from fidela.kernel.errors import FieldProblem

PROFILE_COLUMNS = (
    "first_name", "last_name", "gender", "birth_date", "city", "country", "language",
    "timezone", "preferred_channel", "signup_at", "signup_channel", "last_device",
    "last_store_id", "last_location",
)  # fmt: skip


# ---------------------------------------------------------------------------- identities


def collect_identities(
    identities: IdentitiesIn,
    policy: CustomerPolicy,
    *,
    pointer: str = "/identities",
    default_namespace: str = "",
    source_id: tuple[str, str] | None = None,
) -> list[Identity]:
    """Normalise every identity given; report all invalid ones at once. ``source_id`` is a
    further external id, ``(source, id)``, reported at ``<pointer>/external_id``."""
    found: list[Identity] = []
    problems: list[FieldProblem] = []
    candidates: list[tuple[IdentityKind, str, str, str]] = []
    if identities.email:
        candidates.append((IdentityKind.EMAIL, identities.email, "", f"{pointer}/email"))
    if identities.phone:
        candidates.append((IdentityKind.PHONE, identities.phone, "", f"{pointer}/phone"))
    if identities.card:
        candidates.append((IdentityKind.CARD, identities.card, "", f"{pointer}/card"))
    for n, device in enumerate(identities.device_ids):
        candidates.append((IdentityKind.DEVICE, device, "", f"{pointer}/device_ids/{n}"))
    for n, external in enumerate(identities.external_ids):
        candidates.append(
            (
                IdentityKind.EXTERNAL,
                external.id,
                external.source or default_namespace,
                f"{pointer}/external_ids/{n}",
            )
        )
    if source_id is not None:
        source, value = source_id
        candidates.append((IdentityKind.EXTERNAL, value, source, f"{pointer}/external_id"))
    for kind, value, namespace, where in candidates:
        try:
            found.append(
                normalise_identity(
                    kind,
                    value,
                    namespace=namespace,
                    default_region=policy.default_region,
                    pointer=where,
                )
            )
        except InvalidIdentity as exc:
            problems.extend(exc.problems)
    if problems:
        raise InvalidIdentity("; ".join(f"{p.pointer}: {p.message}" for p in problems), problems)
    return found


def _attach(
    session: Session, customer_id: int, identities: Sequence[Identity], now: datetime
) -> None:
    for identity in identities:
        repository.add_identity(
            session,
            CustomerIdentity(
                customer_id=customer_id,
                kind=identity.kind.value,
                namespace=identity.namespace,
                value=identity.value,
                created_at=now,
            ),
        )


def _refuse_taken(
    session: Session, identities: Sequence[Identity], customer_id: int | None
) -> None:
    owners = repository.owners_of(session, identities)
    taken = [(i, owner) for i, owner in owners.items() if owner != customer_id]
    if taken:
        raise IdentityTaken(
            "; ".join(
                f"{i.kind.value} {i.value!r} belongs to customer {owner}" for i, owner in taken
            ),
            [
                FieldProblem(f"/identities/{i.kind.value}", f"belongs to customer {owner}")
                for i, owner in taken
            ],
        )


# ---------------------------------------------------------------------------- profiles


def clean_profile(
    session: Session,
    fields: ProfileFields,
    now: datetime,
    current: dict[str, Any] | None = None,
    *,
    definitions: Mapping[str, AttributeDefinition] | None = None,
) -> dict[str, Any]:
    """The validated column values present in ``fields`` (only those explicitly set).
    Custom attributes are checked against ``definitions`` (read here when not given: a caller
    cleaning many profiles reads them once)."""
    given = fields.model_dump(exclude_unset=True)
    values: dict[str, Any] = {}
    for column in PROFILE_COLUMNS:
        if column in given:
            values[column] = given[column]
    if values.get("language") is not None:
        values["language"] = validate_choice(values["language"], LANGUAGES, "/language")
    if values.get("timezone") is not None:
        values["timezone"] = validate_timezone(values["timezone"])
    if values.get("birth_date") is not None:
        values["birth_date"] = validate_birth_date(values["birth_date"], now.date())
    for text in ("first_name", "last_name", "city"):
        if isinstance(values.get(text), str):
            values[text] = values[text].strip() or None
    if given.get("tags") is not None:
        values["tags"] = normalise_tags(given["tags"])
    if given.get("attributes") is not None:
        if definitions is None:
            definitions = repository.get_attribute_definitions(session)
        attributes = dict((current or {}).get("attributes") or {})
        problems: list[FieldProblem] = []
        for name, value in given["attributes"].items():
            definition = definitions.get(name)
            if definition is None:
                problems.append(FieldProblem(f"/attributes/{name}", "undeclared attribute"))
                continue
            try:
                coerced = coerce_attribute(name, AttributeType(definition.type), value)
            except InvalidProfile as exc:
                problems.extend(exc.problems)
                continue
            if coerced is None:
                attributes.pop(name, None)
            else:
                attributes[name] = coerced
        if problems:
            raise InvalidProfile("; ".join(f"{p.pointer}: {p.message}" for p in problems), problems)
        values["attributes"] = attributes
    return values


def create_customer(
    session: Session,
    *,
    fields: ProfileFields,
    identities: Sequence[Identity],
    now: datetime,
) -> Customer:
    """A new active profile with ``identities`` (refused if any belongs to someone else)."""
    _refuse_taken(session, identities, None)
    values = clean_profile(session, fields, now)
    customer = repository.add_customer(
        session,
        Customer(
            status=CustomerStatus.ACTIVE.value,
            tags=values.pop("tags", {}),
            attributes=values.pop("attributes", {}),
            created_at=now,
            updated_at=now,
            version=1,
            signup_at=values.pop("signup_at", None) or now,
            **values,
        ),
    )
    _attach(session, customer.id, identities, now)
    return customer


def get_customer(session: Session, *, customer_id: int, follow_merges: bool = True) -> Customer:
    """The profile; a merged id leads to its survivor (old references keep working)."""
    customer = repository.get_customer(session, customer_id)
    hops = 0
    while follow_merges and customer.merged_into_id is not None and hops < 50:
        customer = repository.get_customer(session, customer.merged_into_id)
        hops += 1
    return customer


def active_customer(session: Session, customer_id: int, *, lock: bool = False) -> Customer:
    customer = repository.get_customer(session, customer_id, for_update=lock)
    if customer.status != CustomerStatus.ACTIVE.value:
        raise CustomerNotActive(f"customer {customer_id} is {customer.status}")
    return customer


def hold_for_enrolment(session: Session, customer_ids: Sequence[int]) -> None:
    """Hold the profiles of people about to be enrolled somewhere (a ledger account, a tier
    standing created on their first earning) until this transaction ends: two transactions
    enrolling the same person then queue, and the second reads what the first created
    instead of creating it again from reads that missed it."""
    repository.hold_profiles(session, customer_ids)


def update_customer(
    session: Session,
    *,
    customer_id: int,
    fields: ProfileFields,
    expected_version: int | None,
    now: datetime,
) -> Customer:
    customer = active_customer(session, customer_id, lock=True)
    if expected_version is not None and expected_version != customer.version:
        raise VersionConflict(
            f"customer {customer_id} is at version {customer.version}, not {expected_version}",
            [FieldProblem("/version", f"current version is {customer.version}")],
        )
    values = clean_profile(session, fields, now, {"attributes": customer.attributes})
    for column, value in values.items():
        setattr(customer, column, value)
    customer.version += 1
    customer.updated_at = now
    session.flush()
    return customer


def search_customers(
    session: Session, *, name: str | None, identity: Identity | None, after_id: int, limit: int
) -> list[Customer]:
    ids: list[int] | None = None
    if identity is not None:
        owner = repository.owners_of(session, [identity]).get(identity)
        ids = [owner] if owner is not None else []
    return list(
        repository.search_customers(
            session, name=name, customer_ids=ids, after_id=after_id, limit=limit
        )
    )


def list_identities(session: Session, *, customer_id: int) -> list[CustomerIdentity]:
    return list(repository.list_identities(session, customer_id))


def add_identities(
    session: Session, *, customer_id: int, identities: Sequence[Identity], now: datetime
) -> list[CustomerIdentity]:
    active_customer(session, customer_id, lock=True)
    _refuse_taken(session, identities, customer_id)
    owned = repository.owners_of(session, identities)
    _attach(session, customer_id, [i for i in identities if i not in owned], now)
    return list_identities(session, customer_id=customer_id)


# ---------------------------------------------------------------------------- resolution


@dataclass(frozen=True)
class Resolution:
    customer_id: int
    created: bool
    conflicts: tuple[tuple[Identity, int], ...]
    attached: int = 0  # identities newly attached to an existing profile


# ---------------------------------------------------------------------------- attributes


def define_attribute(
    session: Session, *, name: str, kind: AttributeType, description: str, now: datetime
) -> AttributeDefinition:
    """Declare a custom attribute; redeclaring with the same type updates its description."""
    name = validate_attribute_name(name)
    existing = repository.find_attribute_definition(session, name)
    if existing is not None:
        if existing.type != kind.value:
            raise InvalidProfile(
                f"attribute '{name}' is already declared as {existing.type}",
                [FieldProblem("/type", f"already declared as {existing.type}")],
            )
        existing.description = description
        session.flush()
        return existing
    definition = AttributeDefinition(
        name=name, type=kind.value, description=description, created_at=now
    )
    session.add(definition)
    session.flush()
    return definition


def attribute_definitions(session: Session) -> dict[str, AttributeDefinition]:
    """Every declared custom attribute, by name."""
    return dict(repository.get_attribute_definitions(session))


def list_attributes(session: Session) -> list[AttributeDefinition]:
    return sorted(repository.get_attribute_definitions(session).values(), key=lambda d: d.name)
