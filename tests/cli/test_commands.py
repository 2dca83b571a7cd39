from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.databases import fresh_database_url


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    directory = tmp_path_factory.mktemp("cli")
    with fresh_database_url(directory) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FIDELA_")}
        env.update({"FIDELA_DATABASE_URL": url, "FIDELA_CONFIG": str(directory / "none.toml")})
        yield env


def fidela(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fidela", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_help_lists_the_commands(cli_env: dict[str, str]) -> None:
    result = fidela(cli_env, "--help")
    assert result.returncode == 0
    for command in ("db", "apikey", "serve", "worker", "outbox", "demo", "version"):
        assert command in result.stdout


def test_db_upgrade_then_check_reports_no_drift(cli_env: dict[str, str]) -> None:
    upgraded = fidela(cli_env, "db", "upgrade", "--json")
    assert upgraded.returncode == 0, upgraded.stderr
    assert json.loads(upgraded.stdout)["revision"]
    current = json.loads(fidela(cli_env, "db", "current", "--json").stdout)
    assert current["up_to_date"] is True
    checked = fidela(cli_env, "db", "check", "--json")
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout) == {"drift": []}
    verified = fidela(cli_env, "db", "verify", "--json")
    assert verified.returncode == 0, verified.stderr
    report = json.loads(verified.stdout)
    assert report["orphans"] == {}
    assert "sales_order.event_id -> event" in report["checked"]


def test_apikey_create_list_revoke(cli_env: dict[str, str]) -> None:
    fidela(cli_env, "db", "upgrade")
    created = fidela(
        cli_env,
        "apikey",
        "create",
        "--name",
        "pos",
        "--scope",
        "events:write",
        "--scope",
        "loyalty:read",
        "--json",
    )
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)
    assert key["token"].startswith("fdl_")
    assert key["scopes"] == ["events:write", "loyalty:read"]
    listed = json.loads(fidela(cli_env, "apikey", "list", "--json").stdout)
    assert key["id"] in [row["id"] for row in listed]
    assert key["token"] not in json.dumps(listed)
    assert fidela(cli_env, "apikey", "revoke", str(key["id"])).returncode == 0
    listed = json.loads(fidela(cli_env, "apikey", "list", "--json").stdout)
    assert key["id"] not in [row["id"] for row in listed]


def test_business_error_exits_1_with_a_clear_message(cli_env: dict[str, str]) -> None:
    fidela(cli_env, "db", "upgrade")
    result = fidela(cli_env, "apikey", "create", "--name", "x", "--scope", "root")
    assert result.returncode == 1
    assert "scope_unknown" in result.stderr
    assert "root" in result.stderr
    assert "Traceback" not in result.stderr


def test_usage_error_exits_2(cli_env: dict[str, str]) -> None:
    assert fidela(cli_env, "apikey", "create").returncode == 2
    assert fidela(cli_env, "no-such-command").returncode == 2


def test_worker_once_drains_and_reports(cli_env: dict[str, str]) -> None:
    fidela(cli_env, "db", "upgrade")
    result = fidela(cli_env, "worker", "--once", "--json")
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["claimed"] >= 1  # the periodic outbox purge of the current slot
    assert stats["dead"] == 0
    counts = json.loads(fidela(cli_env, "outbox", "counts", "--json").stdout)
    assert counts["done"] >= 1


def test_settings_come_from_toml_file_and_environment_wins(tmp_path: Path) -> None:
    config = tmp_path / "fidela.toml"
    config.write_text('port = 9001\nlog_level = "debug"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIDELA_")}
    env.update({"FIDELA_CONFIG": str(config), "FIDELA_LOG_LEVEL": "warning"})
    code = (
        "from fidela.platform.settings import get_settings as g; s = g(); "
        "print(s.port, s.log_level, s.database_url)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["9001", "warning", "sqlite:///./fidela.db"]


def test_a_command_loads_only_its_own_group() -> None:
    # `fidela db upgrade` must not pay for scikit-learn, pandas or the API at start-up.
    code = (
        "import sys; from fidela.cli.main import build_app, requested; "
        "build_app(requested(['db', 'upgrade'])); "
        "print(sorted(m for m in ('sklearn', 'pandas', 'fidela.cli.analytics', 'fidela.api.app')"
        " if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_serve_refuses_several_processes_on_sqlite(cli_env: dict[str, str]) -> None:
    if not cli_env["FIDELA_DATABASE_URL"].startswith("sqlite"):
        pytest.skip("the SQLite refusal")
    result = fidela(cli_env, "serve", "--workers", "2", "--no-worker")
    assert result.returncode != 0
    assert "one process" in result.stdout + result.stderr
