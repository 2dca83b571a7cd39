"""``fidela segment`` through the real command, against its own database."""

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


def test_create_preview_refresh_and_list_members(env: dict[str, str], tmp_path: Path) -> None:
    definition = tmp_path / "everyone.json"
    definition.write_text(json.dumps({"fact": "orders.count", "op": "eq", "value": 0}))
    made = fidela(
        env,
        "segment",
        "create",
        "--key",
        "no-orders",
        "--name",
        "No orders",
        "--definition",
        f"@{definition}",
        "--json",
    )
    assert made.returncode == 0, made.stderr
    segment = json.loads(made.stdout)
    assert (segment["key"], segment["version"]) == ("no-orders", 1)

    preview = fidela(env, "segment", "preview", "--definition", definition.read_text(), "--json")
    assert preview.returncode == 0, preview.stderr
    assert json.loads(preview.stdout)["count"] == 0  # a fresh database has no customers

    refreshed = fidela(env, "segment", "refresh", str(segment["id"]), "--json")
    assert refreshed.returncode == 0, refreshed.stderr
    assert json.loads(refreshed.stdout) == [
        {"segment_id": segment["id"], "members": 0, "entered": 0, "exited": 0}
    ]
    listed = fidela(env, "segment", "list", "--json")
    assert [s["key"] for s in json.loads(listed.stdout)] == ["no-orders"]
    members = fidela(env, "segment", "members", str(segment["id"]), "--history", "--json")
    assert (members.returncode, json.loads(members.stdout)) == (0, [])


def test_a_bad_definition_exits_1_naming_the_field(env: dict[str, str]) -> None:
    result = fidela(
        env,
        "segment",
        "preview",
        "--definition",
        '{"all": [{"fact": "profile.age", "op": "like", "value": 3}]}',
    )
    assert result.returncode == 1
    assert "/definition/all/0/op" in result.stderr
    assert "Traceback" not in result.stderr


def test_definition_that_is_not_json_is_a_usage_error(env: dict[str, str]) -> None:
    result = fidela(env, "segment", "preview", "--definition", "{nope")
    assert result.returncode == 2
    assert "not valid JSON" in result.stderr
    missing = fidela(env, "segment", "members", "424242")
    assert missing.returncode == 1
    assert "no segment 424242" in missing.stderr
