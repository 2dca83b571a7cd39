"""Tier use cases: place a member on their programme's ladder from their qualifying
activity, keep the history of changes, tell them their progress.

Qualifying activity is read from the truth, never from the balance: for a points ladder the
ledger's earn and clawback entries (a clawback dated at its lot's earn date, so a return
lowers the window the order counted in); for a spend ladder the orders and returns. Only the
activity after ``activity_needed_since`` is loaded.

A change of tier writes a ``tier_change`` row and a ``tier.changed`` outbox message (topic
:data:`TIER_CHANGED`) in the same transaction, for the engagement part to act on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from fidela.commerce.models import SalesOrder, SalesReturn
from fidela.ledger.models import LedgerAccount, LedgerEntry, LedgerLot
from fidela.ledger.rules.lots import LotState
from fidela.platform.bulk import insert_rows, update_rows
from fidela.platform.db import table_of
from fidela.platform.id_lists import AnySelect, one_of, one_of_param, run_built
from fidela.platform.outbox.service import NewMessage, enqueue_messages
from fidela.platform.types import UTCDateTime
from fidela.tier.models import TierChange, TierLadderVersion, TierMembership
from fidela.tier.rules import (
    Activity,
    ActivityKind,
    Basis,
    Membership,
    TierDecision,
    TierLadder,
    TierProgress,
    Transition,
    activity_needed_since,
    apply_ladder_change,
    current_start,
    enrol,
    evaluate,
    load_ladder,
    progress,
    settled_decision,
)
from fidela.tier.window_counts import Window, WindowCount, window_counts

TIER_CHANGED = "tier.changed"


@dataclass(frozen=True)
class LadderRef:
    """The ladder a programme runs: which programme, which version."""

    programme_id: int
    programme_code: str
    ladder: TierLadder
    version: int


def stored_ladder(session: Session, programme_id: int, version: int) -> TierLadder | None:
    data = session.execute(
        select(TierLadderVersion.ladder).where(
            TierLadderVersion.programme_id == programme_id, TierLadderVersion.version == version
        )
    ).scalar_one_or_none()
    return None if data is None else load_ladder(data)


# ------------------------------------------------------------------------ membership rows


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _at(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def membership_json(membership: Membership) -> dict[str, Any]:
    return {
        "tier_code": membership.tier_code,
        "since": _iso(membership.since),
        "joined_at": _iso(membership.joined_at),
        "period_start": _iso(membership.period_start),
        "review_at": _iso(membership.review_at),
        "grace_until": _iso(membership.grace_until),
        "upgraded_at": _iso(membership.upgraded_at),
        "upgrade_order_ref": membership.upgrade_order_ref,
        "before_upgrade": None
        if membership.before_upgrade is None
        else membership_json(membership.before_upgrade),
    }


def _membership_from_json(data: dict[str, Any]) -> Membership:
    since = datetime.fromisoformat(str(data["since"]))
    joined = datetime.fromisoformat(str(data["joined_at"]))
    before = data.get("before_upgrade")
    return Membership(
        tier_code=str(data["tier_code"]),
        since=since,
        joined_at=joined,
        period_start=_at(data.get("period_start")),
        review_at=_at(data.get("review_at")),
        grace_until=_at(data.get("grace_until")),
        upgraded_at=_at(data.get("upgraded_at")),
        upgrade_order_ref=data.get("upgrade_order_ref"),
        before_upgrade=None if before is None else _membership_from_json(before),
    )


def _membership(row: TierMembership) -> Membership:
    return Membership(
        tier_code=row.tier_code,
        since=row.since,
        joined_at=row.joined_at,
        period_start=row.period_start,
        review_at=row.review_at,
        grace_until=row.grace_until,
        upgraded_at=row.upgraded_at,
        upgrade_order_ref=row.upgrade_order_ref,
        before_upgrade=None
        if row.before_upgrade is None
        else _membership_from_json(row.before_upgrade),
    )


# The standing columns, in the order ``_membership_of`` reads them.
_STANDING = (
    TierMembership.ladder_version,
    TierMembership.tier_code,
    TierMembership.since,
    TierMembership.joined_at,
    TierMembership.period_start,
    TierMembership.review_at,
    TierMembership.grace_until,
    TierMembership.upgraded_at,
    TierMembership.upgrade_order_ref,
    TierMembership.before_upgrade,
)


def _membership_of(values: Sequence[Any]) -> Membership:
    """The standing from the ``_STANDING`` columns after ``ladder_version`` (as
    ``_membership`` reads an object)."""
    _, code, since, joined, period_start, review_at, grace_until, upgraded_at, ref, before = values
    return Membership(
        tier_code=code,
        since=since,
        joined_at=joined,
        period_start=period_start,
        review_at=review_at,
        grace_until=grace_until,
        upgraded_at=upgraded_at,
        upgrade_order_ref=ref,
        before_upgrade=None if before is None else _membership_from_json(before),
    )


def _standing_row(membership: Membership, version: int, now: datetime) -> dict[str, Any]:
    """A standing's columns, as a row for ``insert_rows`` / ``update_rows``."""
    return {
        "ladder_version": version,
        "tier_code": membership.tier_code,
        "since": membership.since,
        "joined_at": membership.joined_at,
        "period_start": membership.period_start,
        "review_at": membership.review_at,
        "grace_until": membership.grace_until,
        "upgraded_at": membership.upgraded_at,
        "upgrade_order_ref": membership.upgrade_order_ref,
        "before_upgrade": None
        if membership.before_upgrade is None
        else membership_json(membership.before_upgrade),
        "updated_at": now,
    }


def find_membership(
    session: Session, *, programme_id: int, customer_id: int, lock: bool = False
) -> TierMembership | None:
    statement = select(TierMembership).where(
        TierMembership.programme_id == programme_id, TierMembership.customer_id == customer_id
    )
    if lock:
        statement = statement.with_for_update()
    return session.execute(statement.execution_options(populate_existing=True)).scalar_one_or_none()


def tiers_of(session: Session, *, programme_id: int, customer_ids: list[int]) -> dict[int, str]:
    """Current tier code per customer (members without a row are absent)."""
    if not customer_ids:
        return {}
    rows = session.execute(
        select(TierMembership.customer_id, TierMembership.tier_code).where(
            TierMembership.programme_id == programme_id,
            one_of(session, TierMembership.customer_id, sorted(set(customer_ids))),
        )
    ).all()
    return {int(customer): str(code) for customer, code in rows}


# ------------------------------------------------------------------------------- activity


def qualifying_activity(
    session: Session,
    *,
    ladder: TierLadder,
    programme_code: str,
    customer_id: int,
    since: datetime | None,
    now: datetime,
) -> list[Activity]:
    """The member's qualifying activity after ``since`` (all of it when None)."""
    if ladder.basis is Basis.SPEND:
        return _spend_activity(session, ladder, [customer_id], since)[customer_id]
    return _points_activity(session, programme_code, [customer_id], since, now)[customer_id]


def _points_activity_statement(dialect: str, *, windowed: bool) -> AnySelect:
    statement = (
        select(
            LedgerAccount.customer_id,
            LedgerEntry.kind,
            LedgerEntry.points,
            LedgerEntry.at,
            LedgerLot.ref,
            LedgerLot.earned_at,
            LedgerLot.state,
            LedgerLot.activates_at,
        )
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        # The lot in the member's account too (an earn or a clawback is always booked on its
        # lot's account): PostgreSQL may then read the member's lots of the window by
        # (account, earned_at) and their entries by lot, rather than every entry the member
        # ever had to keep those of the window.
        .join(
            LedgerLot,
            and_(LedgerLot.id == LedgerEntry.lot_id, LedgerLot.account_id == LedgerAccount.id),
        )
        .where(
            one_of_param(dialect, LedgerAccount.customer_id, "customers"),
            LedgerAccount.programme == bindparam("programme"),
            # Not ``IN``: an expanding list would be rendered anew at every run.
            or_(LedgerEntry.kind == "earn", LedgerEntry.kind == "clawback"),
        )
    )
    if windowed:
        statement = statement.where(LedgerLot.earned_at > bindparam("since", type_=UTCDateTime()))
    return statement


# One statement of each kind per process (`run_built` keeps them by these objects).
_POINTS_ACTIVITY = {w: partial(_points_activity_statement, windowed=w) for w in (False, True)}


def _points_activity(
    session: Session,
    programme_code: str,
    customer_ids: list[int],
    since: datetime | None,
    now: datetime,
) -> dict[int, list[Activity]]:
    """Earn and clawback entries of these members' accounts (one query), per member."""
    # Built and compiled once (as `_lock_standings`): the earning path asks for the
    # activity of every member whose tier may move.
    params: dict[str, Any] = {"programme": programme_code, "customers": sorted(set(customer_ids))}
    windowed = since is not None
    if windowed:
        params["since"] = since
    rows = run_built(session, _POINTS_ACTIVITY[windowed], params)
    activity: dict[int, list[Activity]] = {customer: [] for customer in customer_ids}
    for customer, kind, points, at, ref, earned_at, state, activates_at in rows:
        pending = state == LotState.PENDING.value and (activates_at is None or activates_at > now)
        mine = activity.setdefault(int(customer), [])
        if kind == "earn":
            mine.append(Activity(ActivityKind.EARN, int(points), at, ref, pending))
        else:
            mine.append(Activity(ActivityKind.CLAWBACK, -int(points), earned_at, ref, pending))
    return activity


def _activity(
    session: Session, ladder: LadderRef, memberships: dict[int, Membership], now: datetime
) -> dict[int, list[Activity]]:
    """The qualifying activity these members' decisions at ``now`` need (one read from the
    earliest instant any of them needs)."""
    if not memberships:
        return {}
    starts = [activity_needed_since(ladder.ladder, m, now) for m in memberships.values()]
    since = None if any(s is None for s in starts) else min(s for s in starts if s is not None)
    return _activity_since(session, ladder, list(memberships), since, now)


def _activity_since(
    session: Session,
    ladder: LadderRef,
    customer_ids: list[int],
    since: datetime | None,
    now: datetime,
) -> dict[int, list[Activity]]:
    """These members' qualifying activity after ``since``, per member, in a constant number
    of statements whatever the number of members."""
    if ladder.ladder.basis is Basis.SPEND:
        return _spend_activity(session, ladder.ladder, customer_ids, since)
    return _points_activity(session, ladder.programme_code, customer_ids, since, now)


def _spend_orders_statement(dialect: str, *, windowed: bool) -> AnySelect:
    statement = select(
        SalesOrder.customer_id,
        SalesOrder.id,
        SalesOrder.total_minor,
        SalesOrder.ordered_at,
        SalesOrder.currency,
    ).where(
        one_of_param(dialect, SalesOrder.customer_id, "customers"),
        SalesOrder.currency == bindparam("currency"),
    )
    if windowed:
        statement = statement.where(SalesOrder.ordered_at > bindparam("since", type_=UTCDateTime()))
    return statement.order_by(SalesOrder.customer_id, SalesOrder.ordered_at, SalesOrder.id)


def _spend_returns_statement(dialect: str, *, windowed: bool) -> AnySelect:
    statement = (
        select(
            SalesOrder.customer_id,
            SalesReturn.amount_minor,
            SalesOrder.ordered_at,
            SalesOrder.id,
            SalesOrder.currency,
        )
        .join(SalesOrder, SalesOrder.id == SalesReturn.order_id)
        .where(
            one_of_param(dialect, SalesOrder.customer_id, "customers"),
            SalesOrder.currency == bindparam("currency"),
        )
    )
    if windowed:
        statement = statement.where(SalesOrder.ordered_at > bindparam("since", type_=UTCDateTime()))
    return statement.order_by(SalesOrder.customer_id, SalesOrder.ordered_at, SalesReturn.id)


# As `_POINTS_ACTIVITY`.
_SPEND_ORDERS = {w: partial(_spend_orders_statement, windowed=w) for w in (False, True)}
_SPEND_RETURNS = {w: partial(_spend_returns_statement, windowed=w) for w in (False, True)}


def _spend_activity(
    session: Session, ladder: TierLadder, customer_ids: list[int], since: datetime | None
) -> dict[int, list[Activity]]:
    """Orders in the ladder's currency, then their returns, of these members (two queries
    for all of them, not two per member), per member."""
    params: dict[str, Any] = {
        "customers": sorted(set(customer_ids)),
        "currency": ladder.currency,
    }
    windowed = since is not None
    if windowed:
        params["since"] = since
    activity: dict[int, list[Activity]] = {customer: [] for customer in customer_ids}
    for customer, order_id, total, at, currency in run_built(
        session, _SPEND_ORDERS[windowed], params
    ):
        activity.setdefault(int(customer), []).append(
            Activity(ActivityKind.SPEND, int(total), at, f"order:{order_id}", False, currency)
        )
    for customer, amount, at, order_id, currency in run_built(
        session, _SPEND_RETURNS[windowed], params
    ):
        activity.setdefault(int(customer), []).append(
            Activity(ActivityKind.REFUND, int(amount), at, f"order:{order_id}", False, currency)
        )
    return activity


# -------------------------------------------------------------------------------- verbs


def qualify(
    session: Session,
    *,
    ladder: LadderRef,
    customer_id: int,
    now: datetime,
    joined_at: datetime | None = None,
) -> TierDecision:
    """Evaluate the member at ``now`` (enrolling them on the base level the first time, as of
    ``joined_at``: see `qualify_many`), move them to the current ladder version (never
    lower), persist the standing, and record each transition with its ``tier.changed``
    message. Call it after earning, after a return and from the review job."""
    joined = None if joined_at is None else {customer_id: joined_at}
    return qualify_many(session, ladder=ladder, customer_ids=[customer_id], now=now, joined=joined)[
        customer_id
    ]


def qualify_many(
    session: Session,
    *,
    ladder: LadderRef,
    customer_ids: list[int],
    now: datetime,
    locked: Sequence[Any] | None = None,
    joined: Mapping[int, datetime] | None = None,
) -> dict[int, TierDecision]:
    """``qualify`` for several members with a constant number of statements: their
    memberships (locked in primary-key order) and their windows' sums read in one query
    each, the activity only of the members whose tier may move (see
    ``tier.window_counts``), the new and changed standings written in one statement each.

    Through Core rather than ORM objects: the earning path qualifies every member of a batch
    and loading, tracking and flushing a thousand objects cost more than the evaluation.
    Objects of these rows already in the session are expired, so they reload what was written.

    ``locked``: what `lock_memberships` returned for these members, when nothing has written
    their memberships since (it saves reading them again under the lock).

    ``joined``: for members who have no standing yet, when they joined: the date of the first
    activity booked for them (never later than ``now``; ``now`` for those not given). A
    member enrolled by history imported late then joins at their first purchase, so an
    anniversary ladder counts their windows from it, not from the day of the import.
    """
    wanted = sorted(set(customer_ids))
    rows = _lock_standings(session, ladder.programme_id, wanted) if locked is None else locked
    asked = set(wanted)
    stored: dict[int, tuple[int, int, Membership]] = {
        int(row[1]): (int(row[0]), int(row[2]), _membership_of(row[2:]))
        for row in rows
        if int(row[1]) in asked
    }
    joined = joined or {}
    memberships = {
        c: stored[c][2]
        if c in stored
        else enrol(ladder.ladder, joined_at=min(joined.get(c, now), now))
        for c in wanted
    }
    current = [c for c in wanted if c not in stored or stored[c][1] == ladder.version]
    counts = window_counts(
        session,
        programme_code=ladder.programme_code,
        ladder=ladder.ladder,
        windows={
            c: Window(
                current_start(ladder.ladder, memberships[c], now),
                memberships[c].upgrade_order_ref,
            )
            for c in current
        },
        now=now,
    )
    settled: dict[int, TierDecision] = {}
    for customer_id in current:
        count = counts.get(customer_id) or WindowCount(0, upgrade_returned=False)
        decision = settled_decision(
            ladder.ladder,
            memberships[customer_id],
            count.amount,
            now,
            upgrade_returned=count.upgrade_returned,
        )
        if decision is not None:
            settled[customer_id] = decision
    # Only the members whose tier may move have their history read.
    moving = [c for c in wanted if c not in settled]
    activity = _activity(session, ladder, {c: memberships[c] for c in moving}, now)
    decisions = {}
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    messages: list[NewMessage] = []
    for customer_id in wanted:
        membership = memberships[customer_id]
        known = stored.get(customer_id)
        version = ladder.version if known is None else known[1]
        mine = activity.get(customer_id, [])
        transitions: list[Transition] = []
        if version != ladder.version:
            old = stored_ladder(session, ladder.programme_id, version)
            if old is not None:
                moved = apply_ladder_change(old, ladder.ladder, membership, mine, now)
                membership = moved.membership
                transitions.extend(moved.transitions)
        decision = settled.get(customer_id) or evaluate(ladder.ladder, membership, mine, now)
        transitions.extend(decision.transitions)
        if known is None:
            inserts.append(
                {
                    "programme_id": ladder.programme_id,
                    "customer_id": customer_id,
                    **_standing_row(decision.membership, ladder.version, now),
                }
            )
        elif decision.changed or version != ladder.version:
            updates.append(
                {"id": known[0], **_standing_row(decision.membership, ladder.version, now)}
            )
        for change, message in _records(ladder, customer_id, transitions, now):
            changes.append(change)
            messages.append(message)
        decisions[customer_id] = decision
    table = table_of(TierMembership)
    insert_rows(session, table, inserts)
    update_rows(session, table, updates)
    insert_rows(session, table_of(TierChange), changes)
    # One statement for the whole wave: it used to cost two round trips per member.
    enqueue_messages(session, messages, now=now)
    _expire_loaded(session, [row_id for row_id, _, _ in stored.values()])
    session.flush()
    return decisions


def _expire_loaded(session: Session, row_ids: list[int]) -> None:
    """Expire the session's objects of these membership rows (written through Core)."""
    for row_id in row_ids:
        loaded = session.identity_map.get(identity_key(TierMembership, row_id))
        if loaded is not None:
            session.expire(loaded)


def _records(
    ladder: LadderRef,
    customer_id: int,
    transitions: list[Transition],
    now: datetime,
) -> list[tuple[dict[str, Any], NewMessage]]:
    """Each transition's ``tier_change`` row and ``tier.changed`` outbox message."""
    return [
        (
            {
                "programme_id": ladder.programme_id,
                "customer_id": customer_id,
                "at": transition.at,
                "outcome": transition.outcome.value,
                "cause": transition.cause.value,
                "from_code": transition.from_code,
                "to_code": transition.to_code,
                "detail": transition.detail[:500],
                "recorded_at": now,
            },
            NewMessage(
                topic=TIER_CHANGED,
                key=f"{TIER_CHANGED}:{ladder.programme_code}:{customer_id}:"
                f"{transition.at.isoformat()}:{transition.to_code}",
                payload={
                    "programme": ladder.programme_code,
                    "customer_id": customer_id,
                    "at": transition.at.isoformat(),
                    "outcome": transition.outcome.value,
                    "cause": transition.cause.value,
                    "from": transition.from_code,
                    "to": transition.to_code,
                    "detail": transition.detail,
                },
            ),
        )
        for transition in transitions
    ]


@dataclass(frozen=True)
class Standing:
    membership: Membership
    progress: TierProgress
    enrolled: bool  # False: not enrolled yet, shown as a new member on the base level


def standing(session: Session, *, ladder: LadderRef, customer_id: int, now: datetime) -> Standing:
    """The member's tier and progress as of ``now`` (read only)."""
    row = find_membership(session, programme_id=ladder.programme_id, customer_id=customer_id)
    membership = enrol(ladder.ladder, joined_at=now) if row is None else _membership(row)
    if row is not None and row.ladder_version != ladder.version:
        old = stored_ladder(session, ladder.programme_id, row.ladder_version)
        if old is not None:
            activity = qualifying_activity(
                session,
                ladder=ladder.ladder,
                programme_code=ladder.programme_code,
                customer_id=customer_id,
                since=None,
                now=now,
            )
            membership = apply_ladder_change(
                old, ladder.ladder, membership, activity, now
            ).membership
    since = activity_needed_since(ladder.ladder, membership, now)
    activity = qualifying_activity(
        session,
        ladder=ladder.ladder,
        programme_code=ladder.programme_code,
        customer_id=customer_id,
        since=since,
        now=now,
    )
    return Standing(membership, progress(ladder.ladder, membership, activity, now), row is not None)


def changes(session: Session, *, programme_id: int, customer_id: int) -> list[TierChange]:
    return list(
        session.execute(
            select(TierChange)
            .where(TierChange.programme_id == programme_id, TierChange.customer_id == customer_id)
            .order_by(TierChange.at, TierChange.id)
        ).scalars()
    )


def due_for_review(
    session: Session, *, programme_id: int, now: datetime, limit: int = 1_000
) -> list[int]:
    """Customers whose review or grace end fell due by ``now``."""
    rows = session.execute(
        select(TierMembership.customer_id)
        .where(
            TierMembership.programme_id == programme_id,
            ((TierMembership.review_at <= now) | (TierMembership.grace_until <= now)),
        )
        .order_by(TierMembership.customer_id)
        .limit(limit)
    ).scalars()
    return [int(customer) for customer in rows]


def merge_memberships(session: Session, survivor_id: int, merged_id: int, now: datetime) -> int:
    """Customer-merge handler for ``tier_membership``: where both hold a membership in one
    programme the survivor keeps theirs (re-qualified at their next evaluation on the merged
    ledger) and the merged one's is deleted; otherwise it moves. History rows move as-is."""
    rows = list(
        session.execute(
            select(TierMembership)
            .where(TierMembership.customer_id.in_((survivor_id, merged_id)))
            .order_by(TierMembership.id)
            .with_for_update()
        ).scalars()
    )
    kept = {row.programme_id for row in rows if row.customer_id == survivor_id}
    moved = 0
    for row in rows:
        if row.customer_id != merged_id:
            continue
        if row.programme_id in kept:
            session.delete(row)
        else:
            row.customer_id = survivor_id
            row.updated_at = now
        moved += 1
    session.flush()
    return moved


def lock_memberships(
    session: Session, *, programme_id: int, customer_ids: Sequence[int]
) -> Sequence[Any]:
    """Lock the existing memberships of ``customer_ids`` in primary-key order, before a batch
    qualifies them in several waves (see ``ledger.batch.lock_accounts``: no deadlock between
    concurrent batches); their standings as read under the lock (for `qualify_many`'s
    ``locked`` and `tier_codes`)."""
    if not customer_ids:
        return []
    return _lock_standings(session, programme_id, sorted(set(customer_ids)))


def _lock_standings_statement(dialect: str) -> AnySelect:
    return (
        select(TierMembership.id, TierMembership.customer_id, *_STANDING)
        .where(
            TierMembership.programme_id == bindparam("programme_id"),
            one_of_param(dialect, TierMembership.customer_id, "customers"),
        )
        .order_by(TierMembership.id)
        .with_for_update()
    )


def _lock_standings(session: Session, programme_id: int, customers: list[int]) -> Sequence[Any]:
    # Built and compiled once (as `ledger.batch.lock_balances`).
    params = {"programme_id": programme_id, "customers": customers}
    return run_built(session, _lock_standings_statement, params)


def tier_codes(locked: Sequence[Any]) -> dict[int, str]:
    """Current tier code per customer, from what `lock_memberships` returned (as
    `tiers_of` reads them)."""
    return {int(row.customer_id): str(row.tier_code) for row in locked}
