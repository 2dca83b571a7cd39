"""`make demo`'s setup step, as a user runs it: generate, migrate, load, run the programme."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.databases import fresh_database_url


@pytest.mark.slow
def test_demo_setup_loads_every_order_and_the_history_earns_points(tmp_path: Path) -> None:
    with fresh_database_url(tmp_path) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FIDELA_")}
        env.update({"FIDELA_DATABASE_URL": url, "FIDELA_CONFIG": str(tmp_path / "none.toml")})

        def fidela(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "fidela", *args],
                env=env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                check=False,
            )

        setup = fidela("demo", "setup", "--customers", "80", "--json")
        assert setup.returncode == 0, setup.stderr
        answer = json.loads(setup.stdout)  # stdout is the one JSON answer
        assert answer["api_key"].startswith("fdl_")
        # Every generated order is recorded: none is rejected for its points payment.
        assert "orders:" in setup.stderr
        orders_line = next(line for line in setup.stderr.splitlines() if "orders:" in line)
        assert orders_line.endswith(" 0 rejected"), orders_line
        assert fidela("ledger", "verify").returncode == 0
        liability = json.loads(fidela("ledger", "liability", "club", "--json").stdout)
        assert liability["outstanding_active"] > 0
