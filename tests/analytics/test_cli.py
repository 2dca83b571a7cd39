"""``fidela analytics``: JSON outputs, snapshots the API can serve, clear errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from fidela.cli import context
from fidela.cli.main import app
from fidela.platform import migrate
from fidela.platform.db import create_db_engine
from fidela.platform.settings import get_settings
from tests.analytics.test_cohorts_and_kpis import history
from tests.databases import fresh_database_url


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A migrated database holding the KPI history, used by the commands in-process."""
    directory = tmp_path_factory.mktemp("analytics-cli")
    with fresh_database_url(directory) as url, pytest.MonkeyPatch.context() as patch:
        patch.setenv("FIDELA_DATABASE_URL", url)
        patch.setenv("FIDELA_CONFIG", str(directory / "none.toml"))
        get_settings.cache_clear()
        context.database.cache_clear()
        engine = create_db_engine(url)
        migrate.upgrade(engine)
        with engine.begin() as connection:
            history().insert(connection)
        try:
            yield None
        finally:
            context.database().dispose()
            context.database.cache_clear()
            get_settings.cache_clear()
            engine.dispose()


def fidela(_env: None, *args: str) -> Result:
    return CliRunner().invoke(app, ["analytics", *args])


def test_export_writes_every_source_to_parquet(cli_env: None, tmp_path: Path) -> None:
    result = fidela(cli_env, "export", "--out", str(tmp_path), "--as-of", "2026-04-01", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["rows"]["sales_order"] == 10  # the order after as_of is left out
    assert body["rows"]["customer"] == 5
    assert (tmp_path / "event.parquet").is_file()


def test_rfm_and_kpis_print_json_from_an_export_read_by_duckdb(
    cli_env: None, tmp_path: Path
) -> None:
    fidela(cli_env, "export", "--out", str(tmp_path))
    rfm = fidela(
        cli_env, "rfm", "--as-of", "2026-04-01", "--engine", "duckdb", "--source", str(tmp_path),
        "--json",
    )  # fmt: skip
    assert rfm.exit_code == 0, rfm.output
    body = json.loads(rfm.stdout)
    assert (body["kind"], body["engine"], body["as_of"]) == ("rfm", "duckdb", "2026-04-01")
    assert body["payload"]["customers"] == 5
    kpis = fidela(
        cli_env, "kpis", "--as-of", "2026-04-01", "--periods", "3", "--kpi", "active_member_rate",
        "--json",
    )  # fmt: skip
    assert kpis.exit_code == 0, kpis.output
    document = json.loads(kpis.stdout)
    assert [row["active_member_rate"] for row in document["payload"]["series"]] == [0.4, 0.6, 0.6]


def test_kpis_accepts_the_programme_kpis(cli_env: None) -> None:
    """a and b hold accounts opened on 2026-01-01 in programme main, which has no cost."""
    kpis = fidela(
        cli_env, "kpis", "--as-of", "2026-04-01", "--periods", "3", "--kpi", "nps",
        "--kpi", "enrolment_rate", "--kpi", "referral_rate", "--kpi", "programme_roi", "--json",
    )  # fmt: skip
    assert kpis.exit_code == 0, kpis.output
    series = json.loads(kpis.stdout)["payload"]["series"]
    assert [row["enrolment_rate"] for row in series] == [0.4, 0.4, 0.4]
    assert [(row["nps"], row["referral_rate"]) for row in series] == [(None, 0.0)] * 3
    assert [row["programme_roi"] for row in series] == [None] * 3
    assert series[0]["programme_roi_reason"] == "no cost per point configured for programme 'main'"


def test_cohorts_and_funnel_default_to_the_deployment_engine(cli_env: None) -> None:
    cohorts = fidela(cli_env, "cohorts", "--as-of", "2026-04-01", "--json")
    assert cohorts.exit_code == 0, cohorts.output
    assert json.loads(cohorts.stdout)["payload"]["cohorts"][1]["size"] == 2
    funnel = fidela(
        cli_env, "funnel", "--as-of", "2026-04-01", "--step", "email.opened",
        "--step", "email.clicked", "--days", "40", "--json",
    )  # fmt: skip
    assert funnel.exit_code == 0, funnel.output
    steps = json.loads(funnel.stdout)["payload"]["steps"]
    assert [s["customers"] for s in steps] == [2, 1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["rfm", "--as-of", "04/01/2026"], "as_of '04/01/2026' is not a date"),
        (["kpis", "--kpi", "nps_score"], "unknown KPI(s): nps_score"),
        (["kpis", "--period", "fortnight"], "unknown period 'fortnight'"),
        (["rfm", "--engine", "oracle"], "unknown engine 'oracle'"),
        (["rfm", "--source", "/nonexistent"], "holds no analytics export"),
        (["funnel", "--step", "page.viewed"], "at least two steps"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_code_1(
    cli_env: None, args: list[str], message: str
) -> None:
    result = fidela(cli_env, *args, "--json")
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
