"""``fidela analytics objectives``: add, list, evaluate, show and archive, with --json."""

from __future__ import annotations

import json

from tests.analytics.test_cli import cli_env, fidela

__all__ = ["cli_env"]


def test_add_evaluate_show_and_archive_an_objective(cli_env: None) -> None:
    added = fidela(
        cli_env,
        "objectives",
        "add",
        "--name",
        "Less churn",
        "--kpi",
        "churn_rate",
        "--baseline",
        "0.9",
        "--target",
        "0.3",
        "--start",
        "2026-01-01",
        "--deadline",
        "2099-12-31",
        "--json",
    )
    assert added.exit_code == 0, added.output
    objective = json.loads(added.stdout)
    assert (objective["direction"], objective["segment"]) == ("decrease", "all")
    ident = str(objective["id"])

    evaluated = fidela(cli_env, "objectives", "evaluate", ident, "--as-of", "2026-04-01", "--json")
    assert evaluated.exit_code == 0, evaluated.output
    evaluation = json.loads(evaluated.stdout)
    # Churn 1.0, 0.5, 0.666667 (Jan-Mar): 0.666667 from 0.9 towards 0.3 is 38.9 % of the way.
    assert evaluation["value"] == 0.666667
    assert evaluation["progress"] == 0.388888
    assert [p["value"] for p in evaluation["series"]] == [1.0, 0.5, 0.666667]

    shown = json.loads(fidela(cli_env, "objectives", "show", ident, "--json").stdout)
    assert shown["latest"]["status"] == evaluation["status"]
    listed = json.loads(fidela(cli_env, "objectives", "list", "--json").stdout)
    assert [o["id"] for o in listed] == [objective["id"]]

    archived = fidela(cli_env, "objectives", "archive", ident, "--json")
    assert json.loads(archived.stdout)["archived"] is True
    assert json.loads(fidela(cli_env, "objectives", "list", "--json").stdout) == []


def test_a_bad_objective_exits_1_naming_the_fields(cli_env: None) -> None:
    result = fidela(
        cli_env,
        "objectives",
        "add",
        "--name",
        "Vague",
        "--kpi",
        "happiness",
        "--target",
        "1",
        "--baseline",
        "1",
        "--deadline",
        "2020-01-01",
    )
    assert result.exit_code == 1
    assert "objective_invalid" in result.output
    for pointer in ("/kpi", "/deadline"):
        assert pointer in result.output
    missing = fidela(cli_env, "objectives", "evaluate", "424242")
    assert missing.exit_code == 1
    assert "objective_not_found" in missing.output
