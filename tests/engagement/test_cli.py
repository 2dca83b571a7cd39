"""``fidela engagement`` end to end in a subprocess against a fresh database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fidela.platform import migrate
from fidela.platform.db import create_db_engine
from tests.databases import fresh_database_url


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    directory = tmp_path_factory.mktemp("engagement-cli")
    with fresh_database_url(directory) as url:
        values = {k: v for k, v in os.environ.items() if not k.startswith("FIDELA_")}
        values.update({"FIDELA_DATABASE_URL": url, "FIDELA_CONFIG": str(directory / "none.toml")})
        engine = create_db_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        yield values


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fidela", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_brand_kit_template_and_preview_from_the_command_line(
    env: dict[str, str], tmp_path: Path
) -> None:
    brand = tmp_path / "brand.json"
    brand.write_text(json.dumps({"name": "Café Lumière", "legal_footer": "SAS"}))
    body = tmp_path / "sms.txt"
    body.write_text("Bonjour {{ customer.first_name }}")

    installed = run(env, "engagement", "brand-kit", "--file", str(brand), "--json")
    saved = run(
        env, "engagement", "template-set", "--code", "hi", "--channel", "sms",
        "--language", "fr", "--body", str(body), "--json",
    )  # fmt: skip
    shown = run(env, "engagement", "preview", "--template", "hi", "--channel", "sms", "--json")

    assert installed.returncode == 0, installed.stderr
    assert json.loads(installed.stdout)["name"] == "Café Lumière"
    assert saved.returncode == 0, saved.stderr
    assert json.loads(shown.stdout)["text"] == "Café Lumière: Bonjour Alex"


def test_unsafe_template_and_missing_file_fail_with_one_line_and_no_traceback(
    env: dict[str, str], tmp_path: Path
) -> None:
    evil = tmp_path / "evil.txt"
    evil.write_text("{{ ''.__class__.__mro__ }}")

    refused = run(
        env, "engagement", "template-set", "--code", "evil", "--channel", "sms",
        "--language", "fr", "--body", str(evil),
    )  # fmt: skip
    missing = run(
        env, "engagement", "template-set", "--code", "x", "--channel", "sms",
        "--language", "fr", "--body", str(tmp_path / "nope.txt"),
    )  # fmt: skip

    assert refused.returncode == 1
    assert "template_refused" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert missing.returncode == 2
    assert "Traceback" not in missing.stderr
