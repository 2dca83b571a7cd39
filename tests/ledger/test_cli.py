"""``fidela ledger verify`` through the real command, against its own database."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import update

from fidela.ledger import service
from fidela.ledger.models import LedgerAccount
from fidela.platform.db import Database
from tests.cli.test_commands import cli_env, fidela
from tests.conftest import T0
from tests.ledger.builders import PROGRAMME, new_customer

__all__ = ["cli_env"]


@pytest.fixture(scope="module")
def ledger_env(cli_env: dict[str, str]) -> Iterator[tuple[dict[str, str], Database]]:
    assert fidela(cli_env, "db", "upgrade").returncode == 0
    database = Database.from_url(cli_env["FIDELA_DATABASE_URL"])
    try:
        yield cli_env, database
    finally:
        database.dispose()


def test_ledger_verify_exits_1_listing_an_account_whose_cache_was_corrupted(
    ledger_env: tuple[dict[str, str], Database],
) -> None:
    env, database = ledger_env
    with database.write() as session:
        members = [new_customer(session, T0) for _ in range(2)]
        for n, member in enumerate(members):
            service.earn_points(
                session, customer_id=member, programme=PROGRAMME, points=40, now=T0, key=f"o{n}"
            )
            service.spend_points(
                session, customer_id=member, programme=PROGRAMME, points=15, now=T0, ref=f"r{n}"
            )

    clean = fidela(env, "ledger", "verify", "--json")
    assert clean.returncode == 0, clean.stderr
    assert json.loads(clean.stdout) == {"ok": True, "accounts": []}

    with database.write() as session:
        session.execute(
            update(LedgerAccount)
            .where(LedgerAccount.customer_id == members[1])
            .values(available=LedgerAccount.available - 7)
        )

    broken = fidela(env, "ledger", "verify", "--json")
    assert broken.returncode == 1, broken.stderr
    (bad,) = json.loads(broken.stdout)["accounts"]
    assert (bad["customer_id"], bad["cached_available"], bad["journal_available"]) == (
        members[1],
        18,
        25,
    )
    human = fidela(env, "ledger", "verify")
    assert human.returncode == 1
    assert str(members[1]) in human.stdout
