"""The earning counters in the database: loaded before an evaluation, incremented by its
``usage`` in the same transaction (an ``INSERT … ON CONFLICT DO UPDATE SET value = value +
…``, so two transactions adding to one counter both count, never check-then-insert).

Counters are kept, not recomputed from history: a cap per member per month reads one row.
Programme-wide budgets live under customer 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from fidela.loyalty.models import LoyaltyCounter
from fidela.loyalty.rules import CounterKey, CounterNeeds, Counters
from fidela.platform.id_lists import one_of

PROGRAMME_WIDE = 0  # the customer id of programme-wide counters (rule budgets)


def load_counters(
    session: Session, *, programme_id: int, needs: Iterable[tuple[int, CounterNeeds]]
) -> dict[int, Counters]:
    """The counters each customer's evaluation needs (one query for all of them); budgets
    are filled in on every customer's counters."""
    wanted: set[tuple[int, str, str, str]] = set()
    members: set[int] = set()
    for customer_id, need in needs:
        members.add(customer_id)
        wanted |= {(customer_id, "points", k.scope, k.bucket) for k in need.points}
        wanted |= {(customer_id, "awards", k.scope, k.bucket) for k in need.awards}
        wanted |= {(customer_id, "punches", rule, "") for rule in need.punches}
        wanted |= {(PROGRAMME_WIDE, "budget", rule, "") for rule in need.budgets}
    customers = {customer for customer, _, _, _ in wanted}
    found: dict[tuple[int, str, str, str], int] = {}
    if wanted:
        rows = session.execute(
            select(
                LoyaltyCounter.customer_id,
                LoyaltyCounter.kind,
                LoyaltyCounter.scope,
                LoyaltyCounter.bucket,
                LoyaltyCounter.value,
            ).where(
                LoyaltyCounter.programme_id == programme_id,
                one_of(session, LoyaltyCounter.customer_id, sorted(customers)),
                LoyaltyCounter.scope.in_(sorted({scope for _, _, scope, _ in wanted})),
                or_(
                    *(LoyaltyCounter.kind == kind for kind in sorted({k for _, k, _, _ in wanted}))
                ),
            )
        ).all()
        found = {(int(c), k, s, b): int(v) for c, k, s, b, v in rows if (c, k, s, b) in wanted}
    budgets = {s: v for (c, k, s, _), v in found.items() if k == "budget"}
    by_customer: dict[int, dict[tuple[int, str, str, str], int]] = {}
    for key, value in found.items():
        by_customer.setdefault(key[0], {})[key] = value
    result: dict[int, Counters] = {}
    for customer in members:
        mine = by_customer.get(customer, {})
        result[customer] = Counters(
            points={CounterKey(s, b): v for (_, k, s, b), v in mine.items() if k == "points"},
            awards={CounterKey(s, b): v for (_, k, s, b), v in mine.items() if k == "awards"},
            punches={s: v for (_, k, s, _), v in mine.items() if k == "punches"},
            budget_used=budgets,
        )
    return result


def counter_rows(programme_id: int, customer_id: int, usage: Counters) -> list[dict[str, Any]]:
    rows = [
        (customer_id, "points", key.scope, key.bucket, value) for key, value in usage.points.items()
    ]
    rows += [
        (customer_id, "awards", key.scope, key.bucket, value) for key, value in usage.awards.items()
    ]
    rows += [(customer_id, "punches", rule, "", value) for rule, value in usage.punches.items()]
    rows += [
        (PROGRAMME_WIDE, "budget", rule, "", value) for rule, value in usage.budget_used.items()
    ]
    return [
        {
            "programme_id": programme_id,
            "customer_id": customer,
            "kind": kind,
            "scope": scope,
            "bucket": bucket,
            "value": value,
        }
        for customer, kind, scope, bucket, value in rows
        if value
    ]


def add_counters(session: Session, rows: list[dict[str, Any]]) -> None:
    """Add every row's ``value`` to its counter (created at 0 when missing), in key order so
    two transactions touching the same counters queue instead of deadlocking."""
    if not rows:
        return
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = (row["programme_id"], row["customer_id"], row["kind"], row["scope"], row["bucket"])
        if key in merged:
            merged[key]["value"] += row["value"]
        else:
            merged[key] = dict(row)
    ordered = [merged[key] for key in sorted(merged)]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(LoyaltyCounter)
    statement = statement.on_conflict_do_update(
        index_elements=["programme_id", "customer_id", "kind", "scope", "bucket"],
        set_={"value": LoyaltyCounter.value + statement.excluded.value},
    )
    session.execute(statement, ordered)


def lock_counters(session: Session, *, programme_id: int, customer_ids: Sequence[int]) -> None:
    """Lock the members' existing counters (and the programme-wide ones, customer 0) in
    primary-key order before a batch updates them wave by wave: concurrent batches queue
    instead of deadlocking."""
    if not customer_ids:
        return
    session.execute(
        select(LoyaltyCounter.id)
        .where(
            LoyaltyCounter.programme_id == programme_id,
            one_of(session, LoyaltyCounter.customer_id, sorted({0, *customer_ids})),
        )
        .order_by(LoyaltyCounter.id)
        .with_for_update()
    ).all()
