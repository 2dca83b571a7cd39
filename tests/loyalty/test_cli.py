"""``fidela loyalty …`` and ``fidela ledger liability`` through the real commands."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from fidela.event import service as events
from fidela.platform.db import Database
from tests.cli.test_commands import cli_env, fidela
from tests.conftest import T0
from tests.customer.fixtures import context
from tests.event.builders import order
from tests.loyalty.setup import BASE_RULES

__all__ = ["cli_env"]


@pytest.fixture(scope="module")
def env(cli_env: dict[str, str]) -> Iterator[tuple[dict[str, str], Database]]:
    assert fidela(cli_env, "db", "upgrade").returncode == 0
    database = Database.from_url(cli_env["FIDELA_DATABASE_URL"])
    try:
        yield cli_env, database
    finally:
        database.dispose()


@pytest.mark.slow
def test_programme_created_from_a_file_then_dry_run_replay_and_liability(
    env: tuple[dict[str, str], Database], tmp_path: Path
) -> None:
    cli, database = env
    programme = tmp_path / "club.json"
    programme.write_text(
        json.dumps(
            {
                "code": "club",
                "name": "Club",
                "currency": "EUR",
                "cost_per_point_minor": "0.5",
                "rules": BASE_RULES,
            }
        )
    )
    created = fidela(cli, "loyalty", "create", str(programme), "--json")
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["rule_set_version"] == 1

    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(BASE_RULES))
    stale = fidela(cli, "loyalty", "set-rules", "club", str(rules), "--version", "0")
    assert stale.returncode == 1
    assert "version_stale" in stale.stderr
    assert "Traceback" not in stale.stderr

    with database.write() as session:
        events.ingest_batch(
            session,
            events=[
                order("T-1", T0, customer={"email": "cli@example.com"}, lines=[("P", 1, 4000)])
            ],
            context=context(T0),
        )

    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            {
                "type": "order.completed",
                "occurred_at": T0.isoformat(),
                "data": order("X", T0, lines=[("P", 1, 2000)])["data"],
            }
        )
    )
    dry = fidela(cli, "loyalty", "dry-run", "club", str(event), "--json")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["total_points"] == 20

    replayed = fidela(
        cli,
        "loyalty",
        "replay",
        "club",
        "--from",
        (T0 - timedelta(days=1)).isoformat(),
        "--to",
        (T0 + timedelta(days=1)).isoformat(),
        "--json",
    )
    assert replayed.returncode == 0, replayed.stderr
    assert json.loads(replayed.stdout)["total_points"] == 40

    owed = fidela(cli, "ledger", "liability", "club", "--json")
    assert owed.returncode == 0, owed.stderr
    assert json.loads(owed.stdout)["outstanding_active"] == 40
