"""Reads and guarded writes of the referral tables."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fidela.commerce.models import SalesOrder
from fidela.customer.models import CustomerIdentity
from fidela.loyalty.referral.models import Referral, ReferralCode, ReferralProgramme
from fidela.platform.id_lists import AnySelect, one_of_param, run_built
from fidela.platform.revisions.service import Cached
from fidela.platform.upsert import insert_ignoring_conflicts


def find_programme(session: Session, programme: str) -> ReferralProgramme | None:
    return session.execute(
        select(ReferralProgramme)
        .where(ReferralProgramme.programme == programme)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def default_programme(session: Session) -> ReferralProgramme | None:
    """The active referral programme events claim into: the first by name."""
    return session.execute(
        select(ReferralProgramme)
        .where(ReferralProgramme.active.is_(True))
        .order_by(ReferralProgramme.programme)
        .limit(1)
    ).scalar_one_or_none()


def insert_programme(session: Session, values: dict[str, Any]) -> bool:
    inserted = session.execute(
        insert_ignoring_conflicts(session, ReferralProgramme, "programme")
        .values(**values)
        .returning(ReferralProgramme.programme)
    ).scalar_one_or_none()
    return inserted is not None


def update_programme_if_version(
    session: Session, programme: str, version: int, values: dict[str, Any]
) -> bool:
    result = session.execute(
        update(ReferralProgramme)
        .where(ReferralProgramme.programme == programme, ReferralProgramme.version == version)
        .values(**values, version=ReferralProgramme.version + 1)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def find_code_of(session: Session, customer_id: int) -> ReferralCode | None:
    return session.execute(
        select(ReferralCode).where(ReferralCode.customer_id == customer_id)
    ).scalar_one_or_none()


def find_code(session: Session, code: str) -> ReferralCode | None:
    return session.execute(
        select(ReferralCode).where(ReferralCode.code == code)
    ).scalar_one_or_none()


def try_add_code(session: Session, *, customer_id: int, code: str, now: datetime) -> bool:
    """Insert the member's code; False when that code string is taken by someone else. A
    concurrent insert for the same member is absorbed by ``ON CONFLICT (customer_id)``."""
    try:
        with session.begin_nested():
            session.execute(
                insert_ignoring_conflicts(session, ReferralCode, "customer_id").values(
                    customer_id=customer_id, code=code, created_at=now
                )
            )
    except IntegrityError:
        return False
    return True


# The advisory-lock space of referral sources (an arbitrary constant, 'REFR').
_SOURCE_LOCK_SPACE = 0x52454652


def lock_sources(session: Session, sources: Iterable[str | None]) -> None:
    """Serialise the completions from each named source, in sorted order (the per-source
    burst is counted under this lock). A source is free text with no row of its own, so on
    PostgreSQL it is a transaction-scoped advisory lock on its hash (a collision only
    serialises two sources more than needed); SQLite serialises every writer already."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for source in sorted({source for source in sources if source is not None}):
        session.execute(
            text("SELECT pg_advisory_xact_lock(:space, hashtext(:source))"),
            {"space": _SOURCE_LOCK_SPACE, "source": source},
        )


def lock_referrers(session: Session, code_ids: Iterable[int]) -> None:
    """Serialise the completions of each referrer on their code row, in primary-key order
    (the per-referrer burst and limit are counted under this lock).

    ``FOR NO KEY UPDATE``, not ``FOR UPDATE``: inserting a referral takes a key-share lock
    on the code row it references, and ``FOR UPDATE`` conflicts with that, so two
    concurrent claims would each wait for the other's insert and deadlock. ``NO KEY UPDATE``
    still excludes every other completion of the referrer. A no-op on SQLite.
    """
    ids = sorted(set(code_ids))
    if ids:
        session.execute(
            select(ReferralCode.id)
            .where(ReferralCode.id.in_(ids))
            .order_by(ReferralCode.id)
            .with_for_update(key_share=True)
        ).all()


def lock_code(session: Session, code_id: int) -> None:
    """``lock_referrers`` for one referrer's code."""
    lock_referrers(session, [code_id])


def insert_referral(session: Session, values: dict[str, Any]) -> int | None:
    return session.execute(
        insert_ignoring_conflicts(session, Referral, "referee_id")
        .values(**values)
        .returning(Referral.id)
    ).scalar_one_or_none()


def find_referral_of_referee(session: Session, referee_id: int) -> Referral | None:
    return session.execute(
        select(Referral)
        .where(Referral.referee_id == referee_id)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


_PURCHASE_TRIGGERED = select(ReferralProgramme.programme).where(
    ReferralProgramme.active.is_(True), ReferralProgramme.trigger == "first_purchase"
)


def _load_purchase_triggered(session: Session) -> frozenset[str]:
    return frozenset(session.connection().execute(_PURCHASE_TRIGGERED).scalars())


_purchase_triggered = Cached("referral_programme", _load_purchase_triggered)


def purchase_triggered_programmes(session: Session) -> frozenset[str]:
    """The active referral programmes whose referrals complete on the referee's first
    purchase (from memory while no referral programme changed since this process read
    them)."""
    return _purchase_triggered.get(session)


def _claimed_ids_statement(dialect: str) -> AnySelect:
    return select(Referral.id).where(
        one_of_param(dialect, Referral.referee_id, "referees"), Referral.status == "claimed"
    )


def claimed_referrals_of(session: Session, referee_ids: Iterable[int]) -> dict[int, Referral]:
    ids = sorted(set(referee_ids))
    if not ids:
        return {}
    # Asked for every order, and almost always empty: the ids first, by a statement built and
    # compiled once (`id_lists.run_built`: building it and the ORM's execution cost more CPU
    # than running it), whole rows only for the few buyers who hold a claimed referral.
    found = [row[0] for row in run_built(session, _claimed_ids_statement, {"referees": ids})]
    if not found:
        return {}
    rows = session.execute(
        select(Referral).where(Referral.id.in_(found), Referral.status == "claimed")
    ).scalars()
    return {row.referee_id: row for row in rows}


def get_referral(session: Session, referral_id: int) -> Referral | None:
    return session.get(Referral, referral_id, populate_existing=True)


def move_referral(
    session: Session, referral_id: int, from_status: str, values: dict[str, Any]
) -> bool:
    """The guarded transition: True only for the one writer that found ``from_status``."""
    result = session.execute(
        update(Referral)
        .where(Referral.id == referral_id, Referral.status == from_status)
        .values(**values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def identities(session: Session, customer_id: int) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for kind, value in session.execute(
        select(CustomerIdentity.kind, CustomerIdentity.value).where(
            CustomerIdentity.customer_id == customer_id
        )
    ).all():
        found.setdefault(kind, set()).add(value)
    return found


def recent_completions(
    session: Session, *, referrer_id: int, source: str | None, since: datetime
) -> list[Referral]:
    """Completed referrals since ``since`` by this referrer or from this source."""
    who = Referral.referrer_id == referrer_id
    if source is not None:
        who = or_(who, Referral.source == source)
    return list(
        session.execute(select(Referral).where(Referral.completed_at >= since, who)).scalars()
    )


def rewarded_count(session: Session, referrer_id: int) -> int:
    return int(
        session.scalar(
            select(func.count()).where(
                Referral.referrer_id == referrer_id, Referral.status == "rewarded"
            )
        )
        or 0
    )


def orders_before(session: Session, customer_id: int, before: datetime) -> int:
    """The customer's orders placed before ``before`` (the purchase being considered)."""
    return int(
        session.scalar(
            select(func.count()).where(
                SalesOrder.customer_id == customer_id, SalesOrder.ordered_at < before
            )
        )
        or 0
    )


def list_referrals(
    session: Session,
    *,
    status: str | None,
    referrer_id: int | None,
    after_id: int,
    limit: int,
) -> list[Referral]:
    query = select(Referral).where(Referral.id > after_id).order_by(Referral.id).limit(limit)
    if status is not None:
        query = query.where(Referral.status == status)
    if referrer_id is not None:
        query = query.where(Referral.referrer_id == referrer_id)
    return list(session.execute(query).scalars())


def repoint_referrer(session: Session, *, survivor_id: int, merged_id: int) -> int:
    result = session.execute(
        update(Referral).where(Referral.referrer_id == merged_id).values(referrer_id=survivor_id)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def repoint_referee_if_free(session: Session, *, survivor_id: int, merged_id: int) -> int:
    """Move the merged customer's own referral unless the survivor was referred too (a
    referee is referred once: the survivor's stays, the other keeps the tombstone's id)."""
    if find_referral_of_referee(session, survivor_id) is not None:
        return 0
    result = session.execute(
        update(Referral).where(Referral.referee_id == merged_id).values(referee_id=survivor_id)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def merge_codes(session: Session, *, survivor_id: int, merged_id: int) -> int:
    """The merged customer's code becomes the survivor's if they had none; otherwise its
    referrals move to the survivor's code and it is deleted (one code per member)."""
    merged = find_code_of(session, merged_id)
    if merged is None:
        return 0
    kept = find_code_of(session, survivor_id)
    if kept is None:
        merged.customer_id = survivor_id
        session.flush()
        return 1
    moved = session.execute(
        update(Referral).where(Referral.code_id == merged.id).values(code_id=kept.id)
    )
    session.delete(merged)
    session.flush()
    return 1 + int(moved.rowcount)  # type: ignore[attr-defined]
