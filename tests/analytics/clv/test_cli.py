"""``fidela clv fit``: the JSON contract, the holdout report, and one line per bad input."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner, Result

from fidela.cli.main import app
from tests.analytics.clv.conftest import CALIBRATION_END, HOLDOUT_END


def _run(*args: str) -> Result:
    return CliRunner().invoke(app, ["clv", "fit", *args])


def _columns(path: Path, customer: str = "customer", date: str = "date") -> list[str]:
    return [
        "--transactions",
        str(path),
        "--customer-col",
        customer,
        "--date-col",
        date,
        "--amount-col",
        "amount",
    ]


@pytest.fixture(scope="module")
def cdnow_csv(tmp_path_factory: pytest.TempPathFactory, cdnow_transactions: pd.DataFrame) -> Path:
    path = tmp_path_factory.mktemp("clv") / "cdnow.csv"
    frame = cdnow_transactions[["customer", "date", "amount"]].copy()
    frame["date"] = frame["date"].dt.strftime("%Y-%m-%d")
    frame.to_csv(path, index=False)
    return path


def _write_csv(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    lines = ["customer,date,amount", *(",".join(row) for row in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _assert_one_line_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.stderr


def test_json_reports_parameters_log_likelihood_and_holdout(
    cdnow_csv: Path, cdnow_transactions: pd.DataFrame
) -> None:
    result = _run(
        *_columns(cdnow_csv), "--calibration-end", "1997-09-30", "--time-unit", "W", "--json"
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["model"] == "bgnbd"
    assert report["observation_end"] == "1997-09-30"
    assert report["observation_end_from"] == "calibration end"
    assert report["customers"] == 2357
    assert report["repeat_customers"] == 946
    # Unrounded weeks: within a hair of the published fit on the 2-decimal summary.
    expected = {"r": 0.2426, "alpha": 4.4135, "a": 0.7931, "b": 2.4259}
    for name, value in expected.items():
        assert report["params"][name] == pytest.approx(value, rel=2e-3)
    assert report["log_likelihood"] == pytest.approx(-9582.4, abs=0.1)

    holdout = report["holdout"]
    assert holdout["measure"] == "purchases"
    assert holdout["holdout_end"] == HOLDOUT_END.isoformat()
    assert holdout["holdout_length"] == pytest.approx(39.0)
    buckets = holdout["buckets"]
    assert [b["frequency"] for b in buckets] == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert sum(b["customers"] for b in buckets) == 2357
    # The actual holdout purchase days, counted here independently with pandas.
    frame = cdnow_transactions
    later = frame[frame["date"] > pd.Timestamp(CALIBRATION_END)]
    actual_days = later.groupby("customer")["date"].nunique().sum()
    assert holdout["actual_mean"] * 2357 == pytest.approx(actual_days)
    # Fader, Hardie & Lee (2005): BG/NBD tracks the holdout (1,788 transactions predicted for
    # 1,788 actual in their Fig. 4 setting; on purchase days the sample is within 15 %).
    assert holdout["predicted_mean"] == pytest.approx(holdout["actual_mean"], rel=0.15)
    for bucket in buckets:
        assert bucket["predicted_mean"] > 0


def test_pareto_nbd_and_gamma_gamma_through_the_cli(cdnow_csv: Path) -> None:
    pareto = json.loads(
        _run(
            *_columns(cdnow_csv),
            "--model",
            "pareto-nbd",
            "--time-unit",
            "W",
            "--calibration-end",
            "1997-09-30",
            "--json",
        ).stdout
    )
    assert pareto["params"]["s"] == pytest.approx(0.6061, rel=2e-3)
    spend = json.loads(
        _run(
            *_columns(cdnow_csv),
            "--model",
            "gamma-gamma",
            "--calibration-end",
            "1997-09-30",
            "--json",
        ).stdout
    )
    assert set(spend["params"]) == {"p", "q", "gamma"}
    assert spend["fitted_customers"] == 946
    assert spend["holdout"]["measure"] == "spend"
    assert spend["holdout"]["customers"] > 0


def test_without_calibration_end_the_observation_end_is_the_last_transaction(
    cdnow_csv: Path,
) -> None:
    report = json.loads(_run(*_columns(cdnow_csv), "--json").stdout)
    assert report["observation_end"] == HOLDOUT_END.isoformat()
    assert report["observation_end_from"] == "last transaction"
    assert report["time_unit"] == "D"
    assert "holdout" not in report


def test_human_output_is_a_table(cdnow_csv: Path) -> None:
    result = _run(*_columns(cdnow_csv), "--calibration-end", "1997-09-30")
    assert result.exit_code == 0
    assert "Fitted parameters" in result.stdout
    assert "log-likelihood" in result.stdout
    assert "7+" in result.stdout


def test_parquet_with_timestamps_fits_like_the_csv(
    tmp_path: Path, cdnow_transactions: pd.DataFrame, cdnow_csv: Path
) -> None:
    table = pa.table(
        {
            "customer": cdnow_transactions["customer"].astype(str).to_numpy(),
            "at": pa.array(
                (cdnow_transactions["date"] + pd.Timedelta(hours=13)).to_numpy(),
                pa.timestamp("us", tz="UTC"),
            ),
            "amount": cdnow_transactions["amount"].to_numpy(),
        }
    )
    pq.write_table(table, tmp_path / "t.parquet")
    report = json.loads(_run(*_columns(tmp_path / "t.parquet", date="at"), "--json").stdout)
    csv_report = json.loads(_run(*_columns(cdnow_csv), "--json").stdout)
    assert report["customers"] == 2357
    assert report["params"] == csv_report["params"]


def test_missing_columns_are_all_named(cdnow_csv: Path) -> None:
    result = _run(*_columns(cdnow_csv, customer="client", date="day"), "--json")
    _assert_one_line_error(result, "missing columns 'client', 'day'", "customer, date, amount")


def test_a_negative_amount_is_reported_with_its_row(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "t.csv", [("a", "2026-01-01", "5"), ("a", "2026-01-03", "-2.50")])
    result = _run(*_columns(path), "--json")
    _assert_one_line_error(result, "row 2", "'amount'", "negative amount", "-2.5")


def test_an_amount_that_is_not_a_number_is_reported(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "t.csv", [("a", "2026-01-01", "5"), ("b", "2026-01-02", "12€")])
    _assert_one_line_error(_run(*_columns(path)), "row 2", "not a number", "'12€'")


def test_an_unparseable_date_is_reported_with_its_row_and_value(tmp_path: Path) -> None:
    path = _write_csv(
        tmp_path / "t.csv",
        [("a", "2026-01-01", "5"), ("a", "2026-01-05", "5"), ("b", "31/02/2026", "1")],
    )
    result = _run(*_columns(path), "--json")
    _assert_one_line_error(result, "row 3", "'date'", "cannot be parsed", "'31/02/2026'")


def test_a_missing_customer_is_reported(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "t.csv", [("a", "2026-01-01", "5"), ("", "2026-01-02", "1")])
    _assert_one_line_error(_run(*_columns(path)), "row 2", "no customer")


def test_too_few_repeat_customers_is_a_clear_refusal(tmp_path: Path) -> None:
    rows = [(f"c{i}", "2026-01-01", "5") for i in range(30)]
    rows += [("c1", "2026-02-01", "5"), ("c2", "2026-03-01", "5")]
    path = _write_csv(tmp_path / "t.csv", rows)
    result = _run(*_columns(path), "--json")
    _assert_one_line_error(result, "at least 10 customers with a repeat purchase", "found 2")


def test_a_fit_that_does_not_converge_is_reported(tmp_path: Path) -> None:
    # Every repeat purchase of every customer costs the same: Gamma-Gamma has no spread of
    # spend to estimate and its likelihood has no maximum.
    rows = []
    start = datetime.date(2026, 1, 1)
    for customer in range(30):
        for k in range(customer % 5 + 2):
            day = start + datetime.timedelta(days=customer + 3 * k)
            rows.append((f"c{customer}", day.isoformat(), "20"))
    path = _write_csv(tmp_path / "t.csv", rows)
    result = _run(*_columns(path), "--model", "gamma-gamma", "--json")
    _assert_one_line_error(result, "clv_fit_did_not_converge", "Gamma-Gamma")


def test_a_calibration_end_without_holdout_is_refused(cdnow_csv: Path) -> None:
    result = _run(*_columns(cdnow_csv), "--calibration-end", "1998-06-30")
    _assert_one_line_error(result, "must fall before the observation end 1998-06-30")


def test_an_unreadable_file_is_reported(tmp_path: Path) -> None:
    _assert_one_line_error(_run(*_columns(tmp_path / "none.csv")), "does not exist")
    (tmp_path / "t.xlsx").write_bytes(b"PK")
    _assert_one_line_error(_run(*_columns(tmp_path / "t.xlsx")), "only .csv and .parquet")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    _assert_one_line_error(_run(*_columns(tmp_path / "bad.parquet")), "cannot be read")


@pytest.mark.parametrize(
    "extra",
    [
        ["--model", "bg-nbd"],
        ["--time-unit", "M"],
        ["--calibration-end", "30/09/1997"],
    ],
)
def test_usage_errors_exit_with_code_2(cdnow_csv: Path, extra: list[str]) -> None:
    result = _run(*_columns(cdnow_csv), *extra)
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_a_required_option_missing_is_a_usage_error(cdnow_csv: Path) -> None:
    result = _run("--transactions", str(cdnow_csv), "--customer-col", "customer")
    assert result.exit_code == 2


@pytest.mark.slow
def test_the_real_command_prints_one_line_and_exits_1(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "t.csv", [("a", "2026-01-01", "-1")])
    process = subprocess.run(
        [sys.executable, "-m", "fidela", "clv", "fit", *_columns(path), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert process.returncode == 1
    assert process.stdout == ""
    assert process.stderr.strip().count("\n") == 0
    assert "row 1" in process.stderr
    assert "negative amount" in process.stderr
