"""``fidela clv fit``: fit a CLV model on a transaction file and check it on a holdout period."""

from __future__ import annotations

import csv
import datetime
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import typer

from fidela.analytics.clv import (
    BgNbdFit,
    CustomerSummary,
    GammaGammaFit,
    HoldoutReport,
    ParetoNbdFit,
    calibration_and_holdout,
    fit_bgnbd,
    fit_gamma_gamma,
    fit_pareto_nbd,
    purchases_report,
    spend_report,
    summarise,
    transactions_from_table,
)
from fidela.analytics.clv.summary import TimeUnit
from fidela.analytics.clv.transactions import check_columns
from fidela.cli.files import UnreadableFile
from fidela.cli.output import JsonOption, console, emit, error_console, print_table
from fidela.kernel.errors import DomainError, FieldProblem

app = typer.Typer(help="Customer lifetime value models (BG/NBD, Pareto/NBD, Gamma-Gamma).")


class Model(StrEnum):
    BGNBD = "bgnbd"
    PARETO_NBD = "pareto-nbd"
    GAMMA_GAMMA = "gamma-gamma"


class Unit(StrEnum):
    D = "D"
    W = "W"


Fit = BgNbdFit | ParetoNbdFit | GammaGammaFit


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """A domain error as exactly one line on stderr (the field pointers, which other commands
    list below it, are already in the message) and exit code 1."""
    try:
        yield
    except DomainError as exc:
        error_console.print(f"[red]error[/red] ({exc.code}): {exc.detail}", highlight=False)
        raise typer.Exit(1) from None


def _calibration_end(value: str | None) -> datetime.date | None:
    if value is None:
        return None
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _read(path: Path, columns: list[str]) -> pa.Table:
    """The wanted columns of a CSV (all as text, so bad values are reported one by one) or
    Parquet file, after checking they all exist."""
    if not path.is_file():
        raise UnreadableFile(f"{path} does not exist", [FieldProblem("/file", "no such file")])
    try:
        if path.suffix == ".parquet":
            available = list(pq.read_schema(path).names)
            check_columns(available, *columns)
            return pq.read_table(path, columns=columns)
        if path.suffix == ".csv":
            with path.open(newline="", encoding="utf-8") as handle:
                header = next(csv.reader(handle), [])
            check_columns(header, *columns)
            return pacsv.read_csv(
                path,
                convert_options=pacsv.ConvertOptions(
                    include_columns=columns,
                    column_types=dict.fromkeys(columns, pa.string()),
                    strings_can_be_null=True,
                ),
            )
    except (pa.ArrowException, UnicodeDecodeError, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UnreadableFile(f"{path.name} cannot be read: {reason}") from None
    raise UnreadableFile(
        f"{path.name}: only .csv and .parquet files are supported",
        [FieldProblem("/file", "use .csv or .parquet")],
    )


def _fit(model: Model, summary: CustomerSummary) -> Fit:
    if model is Model.GAMMA_GAMMA:
        return fit_gamma_gamma(summary.frequency, summary.monetary)
    if model is Model.PARETO_NBD:
        return fit_pareto_nbd(summary.frequency, summary.recency, summary.T)
    return fit_bgnbd(summary.frequency, summary.recency, summary.T)


def _show(result: dict[str, Any]) -> None:
    console.print(
        f"[bold]{result['model']}[/bold] on {result['customers']} customers "
        f"({result['repeat_customers']} with repeat purchases), observation end "
        f"{result['observation_end']} ({result['observation_end_from']}), "
        f"time unit {result['time_unit']}"
    )
    rows: list[tuple[Any, ...]] = [
        (name, f"{value:.6g}") for name, value in result["params"].items()
    ]
    rows.append(("log-likelihood", f"{result['log_likelihood']:.6f}"))
    print_table("Fitted parameters", ["parameter", "value"], rows)
    holdout = result.get("holdout")
    if holdout:
        measure = (
            "purchase days per customer"
            if holdout["measure"] == "purchases"
            else ("spend per purchase day")
        )
        rows = [
            (
                b["frequency"],
                b["customers"],
                f"{b['actual_mean']:.4f}",
                f"{b['predicted_mean']:.4f}",
            )
            for b in holdout["buckets"]
        ]
        rows.append(
            (
                "all",
                holdout["customers"],
                f"{holdout['actual_mean']:.4f}",
                f"{holdout['predicted_mean']:.4f}",
            )
        )
        print_table(
            f"Holdout to {holdout['holdout_end']} ({holdout['holdout_length']:.4g} "
            f"{holdout['time_unit']}): {measure}",
            ["calibration frequency", "customers", "actual", "predicted"],
            rows,
        )


@app.command("fit")
def fit(
    transactions: Annotated[
        Path, typer.Option("--transactions", help="A .csv or .parquet file of transactions.")
    ],
    customer_col: Annotated[str, typer.Option("--customer-col", help="Customer id column.")],
    date_col: Annotated[
        str,
        typer.Option(
            "--date-col",
            help="Purchase date or timestamp column (ISO 8601 text, date or timestamp; "
            "time-zone-aware times count by their UTC date).",
        ),
    ],
    amount_col: Annotated[
        str, typer.Option("--amount-col", help="Purchase amount column (non-negative).")
    ],
    calibration_end: Annotated[
        str | None,
        typer.Option(
            "--calibration-end",
            help="YYYY-MM-DD, inclusive. Fit on purchases up to this day and compare the "
            "model's predictions with what happened after it (up to the last transaction "
            "date). It is also the observation end of the fit; without it the observation "
            "end is the last transaction date in the file.",
            show_default=False,
        ),
    ] = None,
    model: Annotated[Model, typer.Option("--model", help="The model to fit.")] = Model.BGNBD,
    time_unit: Annotated[
        Unit,
        typer.Option(
            "--time-unit", help="D: days; W: weeks (fractional, days / 7). Time has day resolution."
        ),
    ] = Unit.D,
    as_json: JsonOption = False,
) -> None:
    """Fit BG/NBD, Pareto/NBD or Gamma-Gamma by maximum likelihood.

    Repeat purchases are counted on distinct days after a customer's first purchase day.

    Gamma-Gamma is fitted on repeat customers' mean repeat spend.

    Bad input exits with code 1 and one line on stderr (rows are data rows, header excluded).
    """
    end = _calibration_end(calibration_end)
    with _one_line_errors():
        table = _read(transactions, [customer_col, date_col, amount_col])
        data = transactions_from_table(table, customer_col, date_col, amount_col)
        report: HoldoutReport | None = None
        unit: TimeUnit = "W" if time_unit is Unit.W else "D"
        if end is not None:
            summary, holdout = calibration_and_holdout(
                data.customer, data.day, data.amount, end, time_unit=unit
            )
        else:
            summary = summarise(data.customer, data.day, data.amount, None, unit)
        fitted = _fit(model, summary)
        if end is not None:
            if isinstance(fitted, GammaGammaFit):
                report = spend_report(fitted, summary, holdout)
            else:
                report = purchases_report(fitted, summary, holdout)
    result: dict[str, Any] = {
        "model": model.value,
        "time_unit": unit,
        "observation_end": summary.observation_end.isoformat(),
        "observation_end_from": "calibration end" if end is not None else "last transaction",
        "transactions": data.size,
        "customers": summary.size,
        "repeat_customers": summary.repeat_customers,
        "fitted_customers": fitted.customers,
        "params": fitted.params,
        "log_likelihood": fitted.log_likelihood,
        "iterations": fitted.iterations,
    }
    if report is not None:
        result["holdout"] = report.as_dict()
    emit(result, as_json, lambda: _show(result))
