"""``fidela journey`` and ``fidela campaign`` through the real commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fidela.engagement.journeys.library import ABANDONED_CART
from tests.cli.test_commands import cli_env, fidela

__all__ = ["cli_env"]


@pytest.mark.slow
def test_journeys_and_campaigns_from_the_command_line(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    assert fidela(cli_env, "db", "upgrade").returncode == 0
    good = tmp_path / "cart.json"
    good.write_text(json.dumps(ABANDONED_CART))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**ABANDONED_CART, "reentry": "twice"}))

    invalid = fidela(cli_env, "journey", "validate", str(bad))
    assert invalid.returncode == 1
    assert "/reentry" in invalid.stderr
    assert "Traceback" not in invalid.stderr
    published = fidela(cli_env, "journey", "publish", str(good), "--json")
    assert published.returncode == 0, published.stderr
    assert json.loads(published.stdout)["version"] == 1
    stale = fidela(cli_env, "journey", "publish", str(good), "--expected-version", "7")
    assert stale.returncode == 1
    assert "journey_version_conflict" in stale.stderr
    assert fidela(cli_env, "journey", "run-due", "--json").returncode == 0

    campaign = tmp_path / "campaign.json"
    campaign.write_text(
        json.dumps(
            {
                "code": "c1",
                "name": "C1",
                "audience": {"filters": {}},
                "channel": "email",
                "content": {"body": "Hi"},
            }
        )
    )
    assert fidela(cli_env, "campaign", "create", str(campaign)).returncode == 0
    planned = fidela(cli_env, "campaign", "plan", "c1", "--json")
    assert planned.returncode == 0, planned.stderr
    assert json.loads(planned.stdout)["audience"] == 0
    missing = fidela(cli_env, "campaign", "create", str(tmp_path / "nope.json"))
    assert missing.returncode == 1
    assert "Traceback" not in missing.stderr
