"""A batch evaluates its events before locking their members (``_evaluate_early``): an
evaluation stands only for the tier read under the locks when its wave is booked, and a
counter-reading programme never evaluates early."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from fidela.loyalty import earning, programmes
from fidela.loyalty.models import LoyaltyEarning
from fidela.loyalty.rules import evaluate
from fidela.platform.db import Database
from fidela.tier import service as tiers
from tests.conftest import Clock
from tests.event.builders import order
from tests.loyalty.setup import BASE_RULES, LADDER, balance, create, customer_of, ingest

CAPPED: dict[str, Any] = {
    "timezone": "Europe/Paris",
    "rules": [
        {
            "id": "base",
            "kind": "spend",
            "rate": "1",
            "caps": [{"period": "month", "max_points": 1000}],
        }
    ],
}


def _gold(database: Database, clock: Clock, email: str) -> int:
    """A member made Gold (x2) by a first order of 600 points."""
    ingest(
        database,
        clock(),
        order(f"G-{email}", clock(), customer={"email": email}, lines=[("P1", 1, 60000)]),
    )
    return customer_of(database, email)


def _earnings(database: Database, customer_id: int) -> list[int]:
    """The points of each order earning written for the member, in the orders' order; each
    one's line points add up to them (one line an order here, all spend)."""
    with database.read() as session:
        rows = session.execute(
            select(LoyaltyEarning.points, LoyaltyEarning.lines)
            .where(LoyaltyEarning.customer_id == customer_id)
            .order_by(LoyaltyEarning.order_id)
        ).all()
    for points, lines in rows:
        assert sum(line["points"] for line in lines) == points
    return [points for points, _ in rows]


def _order_read_at_a_stale_tier(
    database: Database, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> list[str]:
    """Ingest an order of 100 EUR for gold@example.com while the tiers read before the locks
    say base (as if a concurrent order had made the member Gold in between); the tiers each
    evaluation was made for."""
    monkeypatch.setattr(earning, "EARLY_MEMBERS", 1)
    read = tiers.tiers_of

    def before_the_upgrade(session: Session, **kwargs: Any) -> dict[int, str]:
        return dict.fromkeys(read(session, **kwargs), "member")

    monkeypatch.setattr(tiers, "tiers_of", before_the_upgrade)
    calls = _count_evaluations(monkeypatch)
    ingest(
        database,
        clock(),
        order("T-1", clock(), customer={"email": "gold@example.com"}, lines=[("P1", 1, 10000)]),
    )
    return calls


def _tiered(tier: str) -> dict[str, Any]:
    """Rules under which only members of ``tier`` earn (1 point a euro)."""
    return {
        "timezone": "Europe/Paris",
        "rules": [{"id": "base", "kind": "spend", "rate": "1", "tiers": [tier]}],
    }


def _count_evaluations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs["member"].tier)
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(earning, "evaluate", counted)
    return calls


def test_a_batch_evaluates_each_event_once_before_the_locks(
    database: Database, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    create(database, clock(), ladder=LADDER)
    gold = _gold(database, clock, "gold@example.com")
    monkeypatch.setattr(earning, "EARLY_MEMBERS", 1)
    calls = _count_evaluations(monkeypatch)
    ingest(
        database,
        clock(),
        order("T-1", clock(), customer={"email": "gold@example.com"}, lines=[("P1", 1, 10000)]),
        order("T-2", clock(), customer={"email": "new@example.com"}, lines=[("P1", 1, 10000)]),
        order("T-3", clock(), customer={"email": "gold@example.com"}, lines=[("P1", 1, 10000)]),
    )
    # Each event once, early, and kept under the locks: the second wave's too, its member
    # still Gold after the first.
    assert sorted(calls) == ["gold", "gold", "member"]
    assert balance(database, gold, clock()).available == 600 + 200 + 200
    assert balance(database, customer_of(database, "new@example.com"), clock()).available == 100


def test_a_second_order_after_an_upgrade_in_the_same_batch_earns_at_the_new_tier(
    database: Database, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both orders are evaluated early at the base tier; the first makes the member Gold, so
    the second is evaluated again, in its wave, at Gold (x2)."""
    create(database, clock(), ladder=LADDER)
    monkeypatch.setattr(earning, "EARLY_MEMBERS", 1)
    calls = _count_evaluations(monkeypatch)
    ingest(
        database,
        clock(),
        order("U-1", clock(), customer={"email": "up@example.com"}, lines=[("P1", 1, 60000)]),
        order("U-2", clock(), customer={"email": "up@example.com"}, lines=[("P1", 1, 10000)]),
    )
    assert calls == ["member", "member", "gold"]
    member = customer_of(database, "up@example.com")
    assert balance(database, member, clock()).available == 800
    # The second order's earning was written at the base tier before the locks, then
    # corrected when it was assessed again.
    assert _earnings(database, member) == [600, 200]


def test_an_order_that_earns_nothing_at_the_tier_reached_in_the_batch_keeps_no_earning(
    database: Database, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only base-tier members earn: the first order makes the member Gold, so the second,
    which earned 100 points when evaluated before the locks, earns nothing in its wave."""
    create(database, clock(), ladder=LADDER, rules=_tiered("member"))
    monkeypatch.setattr(earning, "EARLY_MEMBERS", 1)
    ingest(
        database,
        clock(),
        order("U-1", clock(), customer={"email": "up@example.com"}, lines=[("P1", 1, 60000)]),
        order("U-2", clock(), customer={"email": "up@example.com"}, lines=[("P1", 1, 10000)]),
    )
    member = customer_of(database, "up@example.com")
    assert balance(database, member, clock()).available == 600
    assert _earnings(database, member) == [600]


@pytest.mark.parametrize("gold_only", [False, True], ids=["every-tier-earns", "gold-only"])
def test_an_early_evaluation_for_a_tier_the_locks_contradict_is_made_again(
    database: Database, clock: Clock, monkeypatch: pytest.MonkeyPatch, gold_only: bool
) -> None:
    """The tier read before the locks is stale (a concurrent order made the member Gold in
    between): the event earns at the Gold rate read under the locks, and its order earning,
    written before the locks at the base tier's 100 points (or not at all when only Gold
    members earn), says 200."""
    create(database, clock(), ladder=LADDER)
    gold = _gold(database, clock, "gold@example.com")
    if gold_only:
        with database.write() as session:
            programmes.set_rule_set(
                session, code="club", rules=_tiered("gold"), expected_version=1, now=clock()
            )
    assert _order_read_at_a_stale_tier(database, clock, monkeypatch) == ["member", "gold"]
    assert balance(database, gold, clock()).available == 600 + 200
    assert _earnings(database, gold) == [600, 200]


def test_a_group_of_few_members_with_a_ladder_reads_no_tiers_before_the_locks(
    database: Database, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    create(database, clock(), ladder=LADDER)
    _gold(database, clock, "gold@example.com")
    calls = _count_evaluations(monkeypatch)
    ingest(
        database,
        clock(),
        order("T-1", clock(), customer={"email": "gold@example.com"}, lines=[("P1", 1, 10000)]),
    )
    assert earning.EARLY_MEMBERS > 1
    assert calls == ["gold"]


@pytest.mark.parametrize("rules", [BASE_RULES, CAPPED], ids=["plain", "capped"])
def test_only_a_programme_whose_evaluations_read_no_counter_evaluates_early(
    database: Database, clock: Clock, monkeypatch: pytest.MonkeyPatch, rules: dict[str, Any]
) -> None:
    create(database, clock(), rules=rules)
    monkeypatch.setattr(earning, "EARLY_MEMBERS", 1)
    early = earning._evaluate_early
    made: list[int] = []

    def spied(*args: Any, **kwargs: Any) -> Any:
        found = early(*args, **kwargs)
        made.append(len(found))
        return found

    monkeypatch.setattr(earning, "_evaluate_early", spied)
    ingest(
        database,
        clock(),
        *[
            order(
                f"T-{n}", clock(), customer={"email": f"m{n}@example.com"}, lines=[("P1", 1, 10000)]
            )
            for n in range(3)
        ],
    )
    assert made == ([3] if rules is BASE_RULES else [0])
    for n in range(3):
        customer = customer_of(database, f"m{n}@example.com")
        assert balance(database, customer, clock()).available == 100
