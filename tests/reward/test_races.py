"""Real races on PostgreSQL: 50 threads redeem at once, each in its own transaction on its own
connection. SQLite serialises writers at BEGIN IMMEDIATE, so it would prove nothing here."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from fidela.kernel.errors import DomainError
from fidela.ledger import service as ledger
from fidela.ledger.models import LedgerEntry
from fidela.platform.db import Database
from fidela.reward import service
from fidela.reward.models import RewardRedemption, RewardVoucher
from tests.conftest import T0
from tests.ledger.builders import cached
from tests.reward.builders import earn, fixed_voucher, new_customer, reward


@pytest.fixture(autouse=True)
def _postgresql_only(committed_database: Database) -> None:
    if committed_database.dialect != "postgresql":
        pytest.skip("row-lock races need PostgreSQL (SQLite serialises writers at BEGIN)")


def _all_at_once(work: Callable[[int], str], jobs: int) -> list[str]:
    start = threading.Barrier(jobs)

    def run(index: int) -> str:
        start.wait(timeout=30)
        return work(index)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(run, range(jobs)))


def _redeemer(database: Database, members: list[int]) -> Callable[[int], str]:
    def redeem(index: int) -> str:
        try:
            with database.write() as session:
                service.redeem(
                    session,
                    customer_id=members[index % len(members)],
                    reward_code="coffee-5",
                    channel="app",
                    now=T0,
                )
        except DomainError as error:
            return error.code
        return "ok"

    return redeem


def _conserved(database: Database) -> None:
    with database.read() as session:
        redemptions = session.scalar(select(func.count()).select_from(RewardRedemption))
        vouchers = session.scalar(select(func.count()).select_from(RewardVoucher))
        spends = session.scalar(select(func.count()).where(LedgerEntry.kind == "spend"))
        assert redemptions == vouchers == spends == 10
        assert ledger.verify(session) == []


def test_fifty_concurrent_redemptions_of_a_stock_of_ten_sell_exactly_ten(
    committed_database: Database,
) -> None:
    database = committed_database
    with database.write() as session:
        members = [new_customer(session, T0) for _ in range(50)]
        for member in members:
            earn(session, member, 100, f"seed-{member}", T0)
        reward(session, T0, fixed_voucher(stock=10))

    outcomes = _all_at_once(_redeemer(database, members), 50)

    assert outcomes.count("ok") == 10
    assert set(outcomes) - {"ok"} == {"reward_out_of_stock"}
    with database.read() as session:
        assert service.get_reward(session, code="coffee-5").stock == 0
    _conserved(database)


def test_fifty_concurrent_redemptions_against_a_balance_covering_ten_never_overdraw(
    committed_database: Database,
) -> None:
    database = committed_database
    with database.write() as session:
        member = new_customer(session, T0)
        earn(session, member, 600, "a", T0)
        earn(session, member, 400, "b", T0, expires_in_days=30)
        reward(session, T0, fixed_voucher())

    outcomes = _all_at_once(_redeemer(database, [member]), 50)

    assert outcomes.count("ok") == 10
    assert set(outcomes) - {"ok"} <= {"points_short", "points_insufficient"}
    with database.read() as session:
        assert cached(session, member) == (0, 0)
    _conserved(database)
