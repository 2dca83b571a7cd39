"""Referral burst limits under real concurrency on PostgreSQL: with ``burst_max`` N, 2N
completions at once pay exactly N and hold the rest for review, whether the burst comes from
one referrer or from one source across referrers."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fidela.customer import service as customers
from fidela.customer.rules import CustomerPolicy
from fidela.customer.schemas import IdentitiesIn, ProfileFields
from fidela.ledger import service as ledger
from fidela.ledger.models import LedgerEntry
from fidela.loyalty.referral import service
from fidela.loyalty.referral.models import Referral
from fidela.platform.db import Database
from tests.conftest import T0
from tests.ledger.builders import PROGRAMME

BURST_MAX = 4
SOURCE = "203.0.113.9"


@pytest.fixture(autouse=True)
def _postgresql_only(committed_database: Database) -> None:
    if committed_database.dialect != "postgresql":
        pytest.skip("row-lock races need PostgreSQL (SQLite serialises writers at BEGIN)")


def _customer(session: Session, email: str) -> int:
    identities = customers.collect_identities(IdentitiesIn(email=email), CustomerPolicy())
    return customers.create_customer(
        session, fields=ProfileFields(), identities=identities, now=T0
    ).id


def _setup(database: Database, referrers: int) -> tuple[list[str], list[int]]:
    """The terms (signup trigger, burst of BURST_MAX), ``referrers`` codes and 2N referees."""
    with database.write() as session:
        terms = service.ProgrammeTerms(
            programme=PROGRAMME,
            trigger="signup",
            referrer_points=500,
            referee_points=200,
            burst_max=BURST_MAX,
        )
        service.configure_programme(session, terms=terms, expected_version=None, now=T0)
        codes = [
            service.code_for(
                session, customer_id=_customer(session, f"ref{n}@example.com"), now=T0
            ).code
            for n in range(referrers)
        ]
        referees = [_customer(session, f"friend{n}@example.net") for n in range(2 * BURST_MAX)]
    return codes, referees


def _all_at_once(jobs: int, work: Callable[[int], str]) -> list[str]:
    start = threading.Barrier(jobs)

    def run(index: int) -> str:
        start.wait(timeout=30)
        return work(index)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(run, range(jobs)))


def _complete_all(
    database: Database, codes: list[str], referees: list[int], *, one_source: bool
) -> Counter[str]:
    """Every referee claims (and so completes, signup trigger) at once, cycling through the
    codes; from one source, or each from its own so that only the referrer's lock counts."""

    def claim(index: int) -> str:
        with database.write() as session:
            referral = service.claim(
                session,
                code=codes[index % len(codes)],
                referee_id=referees[index],
                source=SOURCE if one_source else f"198.51.100.{index}",
                now=T0,
            )
            session.refresh(referral)
            return referral.status

    return Counter(_all_at_once(len(referees), claim))


def _assert_exactly_the_burst_was_paid(database: Database, statuses: Counter[str]) -> None:
    assert statuses == {"rewarded": BURST_MAX, "held": BURST_MAX}
    with database.read() as session:
        paid = session.execute(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.rule == "referral")
        ).scalar_one()
        held = session.execute(
            select(func.count()).select_from(Referral).where(Referral.status == "held")
        ).scalar_one()
        assert ledger.verify(session) == []
    # Referrer and referee of each rewarded referral; nobody of a held one.
    assert (paid, held) == (2 * BURST_MAX, BURST_MAX)


def test_a_burst_from_one_referrer_pays_exactly_burst_max_at_once(
    committed_database: Database,
) -> None:
    codes, referees = _setup(committed_database, referrers=1)
    statuses = _complete_all(committed_database, codes, referees, one_source=False)
    _assert_exactly_the_burst_was_paid(committed_database, statuses)


def test_a_burst_from_one_source_across_referrers_pays_exactly_burst_max_at_once(
    committed_database: Database,
) -> None:
    codes, referees = _setup(committed_database, referrers=2 * BURST_MAX)
    statuses = _complete_all(committed_database, codes, referees, one_source=True)
    _assert_exactly_the_burst_was_paid(committed_database, statuses)
