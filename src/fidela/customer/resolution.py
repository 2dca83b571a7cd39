"""Resolving many incoming identity sets to profiles at once (the ingestion path).

The answer is the one resolving each request alone, in order, would give (match by
priority, attach the free identities to the match, or create a profile): the second event
of a batch naming a new email resolves to the profile the first one created. It costs a
constant number of statements per batch instead of several per event: one lookup of every
identity named, one of the owners' states, one insert of the new profiles, one of the new
identities.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from fidela.customer import repository
from fidela.customer.models import AttributeDefinition
from fidela.customer.rules import (
    CustomerNotActive,
    CustomerNotFound,
    CustomerPolicy,
    CustomerStatus,
    Identity,
    IdentityKind,
    decide_match,
)
from fidela.customer.schemas import ProfileFields
from fidela.customer.service import Resolution, clean_profile
from fidela.kernel.errors import DomainError


@dataclass(frozen=True)
class ResolveRequest:
    """Who one event is about: a profile id, or identities (and profile data for a creation)."""

    customer_id: int | None = None
    identities: tuple[Identity, ...] = ()
    fields: ProfileFields | None = None


Outcome = Resolution | DomainError | None

_MAX_HOPS = 50


def _follow(states: dict[int, tuple[str, int | None]], customer_id: int) -> int:
    """The survivor a merged id leads to (old references keep working)."""
    current, hops = customer_id, 0
    while hops < _MAX_HOPS:
        status, merged_into = states[current]
        if status != CustomerStatus.MERGED.value or merged_into is None:
            return current
        current, hops = merged_into, hops + 1
    return current


def _load_states(
    session: Session, ids: set[int], known: dict[int, tuple[str, int | None]]
) -> dict[int, tuple[str, int | None]]:
    """Status and merge target of ``ids`` and of every profile they were merged into, with
    those ``known`` already."""
    states = dict(known)
    wanted = set(ids) | {target for _, target in known.values() if target is not None}
    for _ in range(_MAX_HOPS):
        wanted -= states.keys()
        if not wanted:
            break
        found = repository.customer_states(session, wanted)
        states.update(found)
        wanted = {target for _, target in found.values() if target is not None}
    return states


def resolve_many(
    session: Session,
    requests: Sequence[ResolveRequest | None],
    *,
    policy: CustomerPolicy,
    now: datetime,
    definitions: Mapping[str, AttributeDefinition] | None = None,
) -> list[Outcome]:
    """Resolve each request in order, creating profiles for identities nobody owns.

    A request that fails (an unknown or inactive profile, invalid profile data) gets its
    error in its place and leaves nothing behind; the others are unaffected. Custom
    attributes of new profiles are checked against ``definitions`` (read when needed, once
    per profile, if not given)."""
    named = {identity for request in requests if request for identity in request.identities}
    owners, known = repository.owners_with_states(session, named)
    explicit = {request.customer_id for request in requests if request and request.customer_id}
    states = _load_states(session, explicit, known)

    outcomes: list[Outcome] = []
    # New profiles get placeholder ids (negative) until their rows exist.
    new_profiles: list[dict[str, Any]] = []
    new_identities: list[tuple[int, Identity]] = []
    for request in requests:
        if request is None:
            outcomes.append(None)
            continue
        try:
            outcomes.append(
                _resolve_one(
                    session,
                    request,
                    owners,
                    states,
                    new_profiles,
                    new_identities,
                    policy.match_priority,
                    now,
                    definitions,
                )
            )
        except DomainError as error:
            outcomes.append(error)

    if new_profiles:
        real_ids = repository.add_customers(session, new_profiles)
        real = {-(n + 1): real_id for n, real_id in enumerate(real_ids)}
        outcomes = [
            Resolution(real.get(o.customer_id, o.customer_id), o.created, o.conflicts, o.attached)
            if isinstance(o, Resolution)
            else o
            for o in outcomes
        ]
        new_identities = [(real.get(owner, owner), i) for owner, i in new_identities]
    if new_identities:
        repository.add_identities(session, new_identities, now)
    return outcomes


def _resolve_one(
    session: Session,
    request: ResolveRequest,
    owners: dict[Identity, int],
    states: dict[int, tuple[str, int | None]],
    new_profiles: list[dict[str, Any]],
    new_identities: list[tuple[int, Identity]],
    priority: Sequence[IdentityKind],
    now: datetime,
    definitions: Mapping[str, AttributeDefinition] | None,
) -> Outcome:
    if request.customer_id is not None:
        if request.customer_id not in states:
            raise CustomerNotFound(f"customer {request.customer_id} does not exist")
        survivor = _follow(states, request.customer_id)
        _require_active(states, survivor)
        return Resolution(survivor, created=False, conflicts=())
    if not request.identities:
        return None
    decision = decide_match(request.identities, owners, priority)
    if decision.customer_id is None:
        values = clean_profile(
            session, request.fields or ProfileFields(), now, definitions=definitions
        )
        placeholder = -(len(new_profiles) + 1)
        new_profiles.append(_new_profile(values, now))
        states[placeholder] = (CustomerStatus.ACTIVE.value, None)
        for identity in decision.attach:
            owners[identity] = placeholder
            new_identities.append((placeholder, identity))
        return Resolution(placeholder, created=True, conflicts=())
    survivor = _follow(states, decision.customer_id)
    _require_active(states, survivor)
    for identity in decision.attach:
        owners[identity] = survivor
        new_identities.append((survivor, identity))
    return Resolution(
        survivor, created=False, conflicts=decision.conflicts, attached=len(decision.attach)
    )


def _require_active(states: dict[int, tuple[str, int | None]], customer_id: int) -> None:
    status = states[customer_id][0]
    if status != CustomerStatus.ACTIVE.value:
        raise CustomerNotActive(f"customer {customer_id} is {status}")


def _new_profile(values: dict[str, Any], now: datetime) -> dict[str, Any]:
    row = dict.fromkeys(repository.PROFILE_ROW_COLUMNS)
    row.update(
        status=CustomerStatus.ACTIVE.value,
        merged_into_id=None,
        tags=values.pop("tags", {}),
        attributes=values.pop("attributes", {}),
        profiling_restricted=False,
        erased_at=None,
        created_at=now,
        updated_at=now,
        version=1,
    )
    row.update(values)
    row["signup_at"] = row.get("signup_at") or now
    return row
