"""``fidela analytics clv`` through the real command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_commands import cli_env, fidela

__all__ = ["cli_env"]


@pytest.fixture(scope="module")
def env(cli_env: dict[str, str]) -> dict[str, str]:
    assert fidela(cli_env, "db", "upgrade").returncode == 0
    return cli_env


def _clv(env: dict[str, str], export: Path, *options: str) -> tuple[int, str, str]:
    result = fidela(
        env,
        "analytics",
        "clv",
        "--engine",
        "duckdb",
        "--source",
        str(export),
        "--as-of",
        "2026-10-31",
        *options,
    )
    return result.returncode, result.stdout, result.stderr


def test_clv_command_stores_and_prints_the_snapshot_as_json(
    env: dict[str, str], demo_export: Path
) -> None:
    code, out, err = _clv(env, demo_export, "--horizon-weeks", "26", "--margin", "0.3", "--json")
    assert code == 0, err
    document = json.loads(out)
    assert (document["kind"], document["as_of"], document["engine"]) == (
        "clv",
        "2026-10-31",
        "duckdb",
    )
    assert document["params"] == {
        "currency": "EUR",
        "horizon_weeks": 26,
        "discount_rate": 0.1,
        "margin": 0.3,
    }
    payload = document["payload"]
    assert set(payload["bgnbd"]["params"]) == {"r", "alpha", "a", "b"}
    assert payload["totals"]["clv_mean_minor"] > 0
    assert payload["holdout"]["purchases"]["holdout_length"] == 26.0


def test_clv_command_explains_bad_input_and_exits_1(env: dict[str, str], demo_export: Path) -> None:
    code, _, err = _clv(env, demo_export, "--currency", "USD")
    assert code == 1
    assert "clv_currency_not_used" in err
    assert "orders use: EUR" in err
    assert "/currency" in err
