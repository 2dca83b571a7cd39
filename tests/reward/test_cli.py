"""``fidela reward`` through the real command, against its own database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from fidela.platform.db import Database
from tests.cli.test_commands import cli_env, fidela
from tests.reward.builders import fixed_voucher

__all__ = ["cli_env"]


@pytest.fixture(scope="module")
def env(cli_env: dict[str, str]) -> Iterator[dict[str, str]]:
    assert fidela(cli_env, "db", "upgrade").returncode == 0
    database = Database.from_url(cli_env["FIDELA_DATABASE_URL"])
    try:
        yield cli_env
    finally:
        database.dispose()


@pytest.mark.slow
def test_add_restock_and_refusals_through_the_command(env: dict[str, str], tmp_path: Path) -> None:
    good, invalid, broken = (tmp_path / f"{name}.json" for name in ("good", "invalid", "broken"))
    good.write_text(json.dumps(fixed_voucher(stock=3)), encoding="utf-8")
    invalid.write_text(json.dumps(fixed_voucher("bad", cost=-1)), encoding="utf-8")
    broken.write_text("{not json", encoding="utf-8")

    added = fidela(env, "reward", "add", str(good), "--json")
    overdrawn = fidela(env, "reward", "stock", "coffee-5", "--", "-5")
    refused = fidela(env, "reward", "add", str(invalid))
    unreadable = fidela(env, "reward", "add", str(broken))

    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["stock"] == 3
    assert overdrawn.returncode == 1
    assert "reward_stock_invalid" in overdrawn.stderr
    assert refused.returncode == 1
    assert "/cost_points" in refused.stderr
    assert unreadable.returncode == 2
    assert "Traceback" not in unreadable.stderr
