"""Referral use cases: the programme's terms, members' codes and links, claims, completion
on the referee's signup or first purchase, and the review of held referrals.

A completion decides once: the referral row moves from ``claimed`` by a guarded update, so a
replayed event (under a new id) or a concurrent twin finds it moved and pays nothing; the
points are ledger earns keyed ``referral:<id>:referrer|referee``, which a replay cannot post
twice either. The fraud decision is the pure `check_referral` over the two customers'
identities (email, phone, card, device) and the recent completions of the referrer or source.
Completions from one source are serialised on an advisory lock (PostgreSQL), then those of one
referrer on their code row, so the burst and per-referrer limits hold under concurrency.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from fidela.customer import service as customers
from fidela.event.catalogue import CustomerSignedUp
from fidela.event.rules import DispatchedEvent
from fidela.kernel.errors import Conflict, DomainError, FieldProblem, InvalidInput, NotFound
from fidela.ledger import service as ledger
from fidela.loyalty.referral import repository
from fidela.loyalty.referral.models import Referral, ReferralCode, ReferralProgramme
from fidela.loyalty.rules.referral import (
    BurstLimit,
    CompletedReferral,
    FraudReason,
    Identities,
    ReferralPolicy,
    check_referral,
)
from fidela.reward.rules import CODE_ALPHABET, voucher_key

CODE_LENGTH = 8
TRIGGERS = ("signup", "first_purchase")
_CODE_ATTEMPTS = 5


class ReferralCodeUnknown(NotFound):
    code = "referral_code_unknown"
    title = "Unknown referral code"


class ReferralUnknown(NotFound):
    code = "referral_unknown"
    title = "Unknown referral"


class ReferralProgrammeUnknown(NotFound):
    code = "referral_programme_unknown"
    title = "No referral programme"


class ReferralAlreadyClaimed(Conflict):
    code = "referral_already_claimed"
    title = "The referee was already referred"


class ReferralNotHeld(Conflict):
    code = "referral_not_held"
    title = "Only a referral held for review can be approved or rejected"


class ReferralProgrammeInvalid(InvalidInput):
    code = "referral_programme_invalid"
    title = "The referral programme is invalid"


class ReferralVersionConflict(Conflict):
    code = "referral_programme_version_conflict"
    title = "The referral programme was changed since it was read"


@dataclass(frozen=True)
class ProgrammeTerms:
    programme: str
    trigger: str = "first_purchase"
    referrer_points: int = 0
    referee_points: int = 0
    max_rewards_per_referrer: int | None = None
    burst_max: int = 10
    burst_window_hours: int = 168
    active: bool = True


# ------------------------------------------------------------------------------ programme


def _check_terms(terms: ProgrammeTerms) -> None:
    problems = []
    if not terms.programme.strip() or len(terms.programme) > 64:
        problems.append(FieldProblem("/programme", "1 to 64 characters"))
    if terms.trigger not in TRIGGERS:
        problems.append(FieldProblem("/trigger", f"one of {', '.join(TRIGGERS)}"))
    for name in ("referrer_points", "referee_points"):
        if getattr(terms, name) < 0:
            problems.append(FieldProblem(f"/{name}", "not negative"))
    if terms.referrer_points + terms.referee_points == 0:
        problems.append(FieldProblem("/referrer_points", "a referral must pay someone"))
    if terms.max_rewards_per_referrer is not None and terms.max_rewards_per_referrer < 1:
        problems.append(FieldProblem("/max_rewards_per_referrer", "at least 1, or null"))
    if terms.burst_max < 1:
        problems.append(FieldProblem("/burst_max", "at least 1"))
    if not 1 <= terms.burst_window_hours <= 24 * 366:
        problems.append(FieldProblem("/burst_window_hours", "1 to 8784 hours"))
    if problems:
        raise ReferralProgrammeInvalid(
            "; ".join(f"{p.pointer}: {p.message}" for p in problems), problems
        )


def configure_programme(
    session: Session, *, terms: ProgrammeTerms, expected_version: int | None, now: datetime
) -> ReferralProgramme:
    """Create the referral terms of a programme, or replace them at ``expected_version``."""
    _check_terms(terms)
    values = {
        "trigger": terms.trigger,
        "referrer_points": terms.referrer_points,
        "referee_points": terms.referee_points,
        "max_rewards_per_referrer": terms.max_rewards_per_referrer,
        "burst_max": terms.burst_max,
        "burst_window_hours": terms.burst_window_hours,
        "active": terms.active,
        "updated_at": now,
    }
    if expected_version is None:
        if not repository.insert_programme(
            session, {"programme": terms.programme, "version": 1, **values}
        ):
            raise ReferralVersionConflict(
                f"referral terms of '{terms.programme}' exist: send their version",
                [FieldProblem("/version", "required to replace existing terms")],
            )
    elif not repository.update_programme_if_version(
        session, terms.programme, expected_version, values
    ):
        raise ReferralVersionConflict(
            f"referral terms of '{terms.programme}' are not at version {expected_version}",
            [FieldProblem("/version", "read the terms again")],
        )
    return get_programme(session, programme=terms.programme)


def get_programme(session: Session, *, programme: str) -> ReferralProgramme:
    found = repository.find_programme(session, programme)
    if found is None:
        raise ReferralProgrammeUnknown(f"no referral terms for programme '{programme}'")
    return found


# ---------------------------------------------------------------------------------- codes


def code_for(session: Session, *, customer_id: int, now: datetime) -> ReferralCode:
    """The member's referral code, created on first ask (Crockford base32, like vouchers)."""
    customer = customers.get_customer(session, customer_id=customer_id)
    existing = repository.find_code_of(session, customer.id)
    if existing is not None:
        return existing
    rng = secrets.SystemRandom()
    for _ in range(_CODE_ATTEMPTS):
        code = "".join(CODE_ALPHABET[rng.getrandbits(5)] for _ in range(CODE_LENGTH))
        if repository.try_add_code(session, customer_id=customer.id, code=code, now=now):
            found = repository.find_code_of(session, customer.id)
            if found is not None:
                return found
    raise Conflict(f"no free referral code after {_CODE_ATTEMPTS} draws")


def link_for(code: str, base_url: str) -> str:
    return f"{base_url.rstrip('/')}/r/{code}"


# -------------------------------------------------------------------------------- claims


def claim(
    session: Session,
    *,
    code: str,
    referee_id: int,
    now: datetime,
    programme: str | None = None,
    source: str | None = None,
    event_id: int | None = None,
) -> Referral:
    """Record that ``referee_id`` came with ``code``; completes at once under the ``signup``
    trigger. Claiming again with the same code returns the referral; with another code it is
    a conflict (a referee is referred once)."""
    terms = (
        repository.find_programme(session, programme)
        if programme is not None
        else repository.default_programme(session)
    )
    if terms is None or not terms.active:
        raise ReferralProgrammeUnknown(f"no active referral programme '{programme or ''}'")
    found = repository.find_code(session, voucher_key(code))
    if found is None:
        raise ReferralCodeUnknown(
            f"no referral code '{code}'", [FieldProblem("/code", "unknown code")]
        )
    referee = customers.get_customer(session, customer_id=referee_id)
    repository.insert_referral(
        session,
        {
            "programme": terms.programme,
            "code_id": found.id,
            "referrer_id": found.customer_id,
            "referee_id": referee.id,
            "source": source,
            "status": "claimed",
            "reasons": [],
            "claimed_at": now,
            "referrer_points": 0,
            "referee_points": 0,
        },
    )
    referral = repository.find_referral_of_referee(session, referee.id)
    if referral is None:  # pragma: no cover - inserted or already there
        raise RuntimeError(f"referral of customer {referee.id} vanished")
    if referral.code_id != found.id:
        raise ReferralAlreadyClaimed(f"customer {referee.id} was referred with another code")
    if terms.trigger == "signup" and referral.status == "claimed":
        complete(session, referral=referral, terms=terms, now=now, event_id=event_id)
    return referral


def _identities(found: dict[str, set[str]]) -> Identities:
    return Identities(
        emails=frozenset(found.get("email", ())),
        phones=frozenset(found.get("phone", ())),
        cards=frozenset(found.get("card", ())),
        devices=frozenset(found.get("device", ())),
    )


def _decide(
    session: Session, referral: Referral, terms: ReferralProgramme, now: datetime
) -> list[FraudReason]:
    window = timedelta(hours=terms.burst_window_hours)
    limit = BurstLimit(terms.burst_max, window)
    completed = CompletedReferral(referral.referrer_id, referral.referee_id, now, referral.source)
    recent = [
        CompletedReferral(r.referrer_id, r.referee_id, r.completed_at, r.source)
        for r in repository.recent_completions(
            session, referrer_id=referral.referrer_id, source=referral.source, since=now - window
        )
        if r.completed_at is not None and r.id != referral.id
    ]
    decision = check_referral(
        completed,
        referrer=_identities(repository.identities(session, referral.referrer_id)),
        referee=_identities(repository.identities(session, referral.referee_id)),
        recent=recent,
        policy=ReferralPolicy(per_referrer=limit, per_source=limit),
    )
    return list(decision.reasons)


def _pay(
    session: Session,
    referral: Referral,
    *,
    referrer_points: int,
    referee_points: int,
    now: datetime,
    event_id: int | None,
    actor: str | None = None,
) -> None:
    for who, customer_id, points in (
        ("referrer", referral.referrer_id, referrer_points),
        ("referee", referral.referee_id, referee_points),
    ):
        if points > 0:
            ledger.earn_points(
                session,
                customer_id=customer_id,
                programme=referral.programme,
                points=points,
                now=now,
                key=f"referral:{referral.id}:{who}",
                reason=ledger.Reason(rule="referral", event_id=event_id, actor=actor),
            )


def complete(
    session: Session,
    *,
    referral: Referral,
    terms: ReferralProgramme,
    now: datetime,
    event_id: int | None = None,
    extra_reasons: Sequence[FraudReason] = (),
) -> str | None:
    """Decide a claimed referral: ``rewarded`` (both paid), ``held`` (fraud signals, nobody
    paid until review) or ``limit_reached`` (the referrer is past the programme's limit: only
    the referee is paid). None when another writer completed it first.

    The burst counts are read under the source's lock, then the referrer's (always in that
    order, as ``on_orders`` takes them for a whole batch), so two concurrent completions
    cannot both count below the limit."""
    repository.lock_sources(session, [referral.source])
    repository.lock_code(session, referral.code_id)
    reasons = [*extra_reasons, *_decide(session, referral, terms, now)]
    referrer_points, referee_points = terms.referrer_points, terms.referee_points
    if reasons:
        status, referrer_points, referee_points = "held", 0, 0
    elif (
        terms.max_rewards_per_referrer is not None
        and repository.rewarded_count(session, referral.referrer_id)
        >= terms.max_rewards_per_referrer
    ):
        status, referrer_points = "limit_reached", 0
    else:
        status = "rewarded"
    if not repository.move_referral(
        session,
        referral.id,
        "claimed",
        {
            "status": status,
            "completed_at": now,
            "completion_event_id": event_id,
            "reasons": [{"code": r.code, "detail": r.detail} for r in reasons],
            "referrer_points": referrer_points,
            "referee_points": referee_points,
        },
    ):
        return None
    _pay(
        session,
        referral,
        referrer_points=referrer_points,
        referee_points=referee_points,
        now=now,
        event_id=event_id,
    )
    return status


def review(
    session: Session, *, referral_id: int, approve: bool, actor: str, now: datetime
) -> Referral:
    """Approve (pay both, within the referrer's limit) or reject a held referral."""
    referral = repository.get_referral(session, referral_id)
    if referral is None:
        raise ReferralUnknown(f"no referral {referral_id}")
    terms = get_programme(session, programme=referral.programme)
    repository.lock_code(session, referral.code_id)
    referrer_points, referee_points, status = 0, 0, "rejected"
    if approve:
        status, referrer_points, referee_points = (
            "rewarded",
            terms.referrer_points,
            terms.referee_points,
        )
        if (
            terms.max_rewards_per_referrer is not None
            and repository.rewarded_count(session, referral.referrer_id)
            >= terms.max_rewards_per_referrer
        ):
            status, referrer_points = "limit_reached", 0
    if not repository.move_referral(
        session,
        referral.id,
        "held",
        {
            "status": status,
            "referrer_points": referrer_points,
            "referee_points": referee_points,
            "reviewed_at": now,
            "reviewed_by": actor,
        },
    ):
        raise ReferralNotHeld(f"referral {referral_id} is {referral.status}")
    _pay(
        session,
        referral,
        referrer_points=referrer_points,
        referee_points=referee_points,
        now=now,
        event_id=referral.completion_event_id,
        actor=actor,
    )
    found = repository.get_referral(session, referral.id)
    if found is None:  # pragma: no cover
        raise ReferralUnknown(f"no referral {referral_id}")
    return found


def list_referrals(
    session: Session,
    *,
    status: str | None = None,
    referrer_id: int | None = None,
    after_id: int = 0,
    limit: int = 50,
) -> list[Referral]:
    return repository.list_referrals(
        session, status=status, referrer_id=referrer_id, after_id=after_id, limit=limit
    )


# ---------------------------------------------------------------------------- subscribers


def on_signup(session: Session, event: DispatchedEvent) -> dict[str, Any] | None:
    """``customer.signed_up`` with a ``referral_code``: claim it for the new customer. An
    unknown code or a missing programme is reported in the effect, never a rejected signup."""
    data = (
        event.payload
        if isinstance(event.payload, CustomerSignedUp)
        else CustomerSignedUp.model_validate(event.data)
    )
    if not data.referral_code or event.customer_id is None:
        return None
    try:
        referral = claim(
            session,
            code=data.referral_code,
            referee_id=event.customer_id,
            now=event.now,
            event_id=event.id,
        )
    except (ReferralCodeUnknown, ReferralProgrammeUnknown, ReferralAlreadyClaimed) as error:
        return {"ignored": error.code}
    return {"referral_id": referral.id, "status": _status(session, referral.id)}


def on_orders(
    session: Session, events: Sequence[DispatchedEvent]
) -> list[dict[str, Any] | DomainError | None]:
    """Batch subscriber of ``order.completed``: one query finds which buyers of the batch
    hold a claimed referral; only those are completed (first-purchase trigger). Without an
    active programme that completes on a purchase, nothing is asked: such a referral would
    not complete anyway (see below), and most groups of orders are in that case."""
    if not repository.purchase_triggered_programmes(session):
        return [None for _ in events]
    claimed = repository.claimed_referrals_of(
        session, (event.customer_id for event in events if event.customer_id is not None)
    )
    # Every lock the completions below take, taken now in one global order (sources, then
    # referrers by code id): two batches completing referrals of the same referrers or
    # sources in different orders queue instead of deadlocking.
    repository.lock_sources(session, (referral.source for referral in claimed.values()))
    repository.lock_referrers(session, (referral.code_id for referral in claimed.values()))
    outcomes: list[dict[str, Any] | DomainError | None] = []
    for event in events:
        referral = claimed.get(event.customer_id) if event.customer_id is not None else None
        if referral is None:
            outcomes.append(None)
            continue
        terms = repository.find_programme(session, referral.programme)
        if terms is None or not terms.active or terms.trigger != "first_purchase":
            outcomes.append(None)
            continue
        extra = []
        if repository.orders_before(session, referral.referee_id, event.occurred_at) > 0:
            extra.append(
                FraudReason("not_first_order", "the referee had ordered before this purchase")
            )
        status = complete(
            session,
            referral=referral,
            terms=terms,
            now=event.now,
            event_id=event.id,
            extra_reasons=extra,
        )
        outcomes.append(None if status is None else {"referral_id": referral.id, "status": status})
    return outcomes


def _status(session: Session, referral_id: int) -> str:
    found = repository.get_referral(session, referral_id)
    return "" if found is None else found.status


# ----------------------------------------------------------------------------------- merge


def merge_referrals(session: Session, survivor_id: int, merged_id: int, now: datetime) -> int:
    """Customer-merge handler for ``referral`` (called once per customer column; idempotent):
    the survivor takes the merged customer's referrals as referrer, and their own referral
    as referee unless the survivor was referred too (``referee_id`` is unique)."""
    return repository.repoint_referrer(
        session, survivor_id=survivor_id, merged_id=merged_id
    ) + repository.repoint_referee_if_free(session, survivor_id=survivor_id, merged_id=merged_id)


def merge_codes(session: Session, survivor_id: int, merged_id: int, now: datetime) -> int:
    """Customer-merge handler for ``referral_code``: one code per member survives; the other's
    referrals move to it. Links printed with a deleted code stop resolving."""
    return repository.merge_codes(session, survivor_id=survivor_id, merged_id=merged_id)
