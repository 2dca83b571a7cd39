"""``fidela analytics churn|recommend|personas`` through the real command."""

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


@pytest.mark.slow
def test_prediction_commands_store_and_print_snapshots(
    env: dict[str, str], demo_export: Path
) -> None:
    churn = fidela(
        env,
        "analytics",
        "churn",
        "--engine",
        "duckdb",
        "--source",
        str(demo_export),
        "--as-of",
        "2026-07-01",
        "--json",
    )
    assert churn.returncode == 0, churn.stderr
    document = json.loads(churn.stdout)
    assert (document["kind"], document["as_of"]) == ("churn", "2026-07-01")
    holdout = document["payload"]["holdout"]
    assert holdout["auc"] > holdout["rules_auc"]
    assert document["payload"]["riskiest"][0]["reasons"]

    recommend = fidela(
        env,
        "analytics",
        "recommend",
        "--engine",
        "duckdb",
        "--source",
        str(demo_export),
        "--as-of",
        "2026-07-01",
        "--json",
    )
    assert recommend.returncode == 0, recommend.stderr
    evaluation = json.loads(recommend.stdout)["payload"]["evaluation"]
    assert evaluation["precision_at_k"] > 0

    personas = fidela(
        env,
        "analytics",
        "personas",
        "--engine",
        "duckdb",
        "--source",
        str(demo_export),
        "--as-of",
        "2026-07-01",
        "--json",
    )
    assert personas.returncode == 0, personas.stderr
    payload = json.loads(personas.stdout)["payload"]
    assert len(payload["cards"]) == payload["k"]


def test_a_bad_as_of_exits_1_with_one_line(env: dict[str, str], tmp_path: Path) -> None:
    result = fidela(
        env,
        "analytics",
        "churn",
        "--engine",
        "duckdb",
        "--source",
        str(tmp_path),
        "--as-of",
        "soon",
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "--as-of" in result.stderr
