"""``fidela analytics objectives add|list|show|evaluate|archive``: SMART objectives on KPIs
(registered on the ``analytics`` app by ``register``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Annotated, Any

import typer

from fidela.cli import context
from fidela.cli.output import JsonOption, console, emit, failures_exit_1, print_table
from fidela.kernel.clock import utc_now
from fidela.kernel.errors import FieldProblem, InvalidInput

app = typer.Typer(
    help="SMART objectives: a target on a KPI for a segment by a deadline, with progress, "
    "a linear forecast and a status.",
    no_args_is_help=True,
)


def _date(value: str, pointer: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{pointer} {value!r} is not a date", [FieldProblem(pointer, "YYYY-MM-DD")]
        ) from None


def _objective(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "kpi": row.kpi,
        "segment_by": row.segment_by,
        "segment": row.segment,
        "period": row.period,
        "baseline": row.baseline,
        "baseline_date": row.baseline_date.isoformat(),
        "target": row.target,
        "direction": row.direction,
        "start": row.start_date.isoformat(),
        "deadline": row.deadline.isoformat(),
        "currency": row.currency,
        "warnings": list(row.warnings),
        "version": row.version,
        "archived": row.archived,
    }


def _evaluation(row: Any) -> dict[str, Any]:
    return {
        "as_of": row.as_of.astimezone(UTC).isoformat(),
        "value": row.value,
        "value_period": None if row.value_period is None else row.value_period.isoformat(),
        "progress": row.progress,
        "progress_clamped": row.progress_clamped,
        "forecast": row.forecast,
        "forecast_reason": row.forecast_reason,
        "status": row.status,
        "status_reason": row.status_reason,
        "series": row.series,
        "engine": row.engine,
    }


def _fmt(value: Any) -> str:
    return "-" if value is None else str(value)


@app.command("add")
def add(
    name: Annotated[str, typer.Option("--name", help="What the objective is called.")],
    kpi: Annotated[str, typer.Option("--kpi", help="The KPI, e.g. churn_rate.")],
    target: Annotated[float, typer.Option("--target", help="The KPI value to reach.")],
    deadline: Annotated[str, typer.Option("--deadline", help="Last day counted, YYYY-MM-DD.")],
    start: Annotated[
        str | None, typer.Option("--start", help="YYYY-MM-DD; default today (UTC).")
    ] = None,
    baseline: Annotated[
        float | None,
        typer.Option(
            "--baseline",
            help="Where the KPI starts; default: its last complete period before the start "
            "in the newest KPI snapshot with this period and segmentation.",
        ),
    ] = None,
    baseline_date: Annotated[str | None, typer.Option("--baseline-date")] = None,
    segment_by: Annotated[
        str, typer.Option("--segment-by", help="all, rfm, value or channel")
    ] = "all",
    segment: Annotated[str, typer.Option("--segment", help="The segment, or 'all'.")] = "all",
    period: Annotated[str, typer.Option("--period", help="day, week or month")] = "month",
    description: Annotated[str, typer.Option("--description", help="Why it matters.")] = "",
    currency: Annotated[str | None, typer.Option("--currency")] = None,
    as_json: JsonOption = False,
) -> None:
    """Define an objective (checked for SMART-ness; a stretch target is flagged)."""
    from fidela.analytics.objectives import service
    from fidela.analytics.objectives.rules import ObjectiveDraft

    with failures_exit_1():
        now = utc_now()
        draft = ObjectiveDraft(
            name=name,
            description=description,
            kpi=kpi,
            segment_by=segment_by,
            segment=segment,
            period=period,
            target=target,
            baseline=baseline,
            baseline_date=None
            if baseline_date is None
            else _date(baseline_date, "--baseline-date"),
            start=now.astimezone(UTC).date() if start is None else _date(start, "--start"),
            deadline=_date(deadline, "--deadline"),
            currency=currency,
        )
        with context.database().write() as session:
            document = _objective(service.create_objective(session, draft=draft, now=now))

    def human() -> None:
        console.print(
            f"objective {document['id']}: {document['kpi']} of {document['segment']} from "
            f"{document['baseline']} to {document['target']} ({document['direction']}) "
            f"by {document['deadline']}"
        )
        for warning in document["warnings"]:
            console.print(f"[yellow]warning[/yellow]: {warning}")

    emit(document, as_json, human)


@app.command("list")
def list_(
    archived: Annotated[bool, typer.Option("--archived", help="Include archived ones.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Objectives, oldest first."""
    from fidela.analytics.objectives import service

    with context.database().read() as session:
        rows = [
            _objective(row)
            for row in service.list_objectives(session, include_archived=archived, limit=10_000)
        ]
    emit(
        rows,
        as_json,
        lambda: print_table(
            "objectives",
            ["id", "name", "kpi", "segment", "baseline", "target", "deadline", "archived"],
            [
                (
                    r["id"],
                    r["name"],
                    r["kpi"],
                    r["segment"],
                    r["baseline"],
                    r["target"],
                    r["deadline"],
                    r["archived"],
                )
                for r in rows
            ],
        ),
    )


@app.command("show")
def show(
    objective_id: Annotated[int, typer.Argument(help="The objective's id.")],
    as_json: JsonOption = False,
) -> None:
    """An objective with its latest evaluation and history (newest first)."""
    from fidela.analytics.objectives import service

    with failures_exit_1(), context.database().read() as session:
        document = _objective(service.get_objective(session, objective_id=objective_id))
        history = [
            _evaluation(e) for e in service.evaluation_history(session, objective_id=objective_id)
        ]
    document["latest"] = history[0] if history else None
    document["history"] = history

    def human() -> None:
        console.print(
            f"{document['name']}: {document['kpi']} of {document['segment']} "
            f"{document['baseline']} -> {document['target']} by {document['deadline']}"
        )
        print_table(
            "evaluations",
            ["as of", "value", "progress", "forecast", "status"],
            [
                (
                    e["as_of"],
                    _fmt(e["value"]),
                    _fmt(e["progress"]),
                    _fmt(e["forecast"]),
                    e["status"],
                )
                for e in history
            ],
        )

    emit(document, as_json, human)


@app.command("evaluate")
def evaluate(
    objective_id: Annotated[int, typer.Argument(help="The objective's id.")],
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Only data before this instant: YYYY-MM-DD (midnight UTC) or an ISO datetime "
            "with offset. Default: the last midnight UTC.",
        ),
    ] = None,
    engine: Annotated[
        str | None, typer.Option("--engine", help="duckdb, postgres (in place) or spark.")
    ] = None,
    source: Annotated[
        Path | None, typer.Option("--source", help="Read this Parquet export instead.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Compute the KPI series, store and print the objective's evaluation."""
    from fidela.analytics import rules
    from fidela.analytics import service as analytics
    from fidela.analytics.objectives import service
    from fidela.analytics.sources import EngineName, parse_engine

    with failures_exit_1():
        now = utc_now()
        when = (
            datetime.combine(now.astimezone(UTC).date(), time())
            if as_of is None
            else rules.parse_as_of(as_of, pointer="--as-of")
        )
        database = context.database()
        with database.read() as session:
            service.get_objective(session, objective_id=objective_id)
        if engine is not None:
            chosen = parse_engine(engine)
        else:
            chosen = EngineName.DUCKDB if source is not None else analytics.default_engine(database)
        if source is not None and chosen is EngineName.POSTGRES:
            raise InvalidInput("--source is for duckdb or spark; postgres reads in place")
        with (
            console.status(f"evaluating on {chosen.value}"),
            analytics.open_sources(database, chosen, source_dir=source) as sources,
        ):
            stored = service.evaluate_objective(
                database, sources, objective_id=objective_id, as_of=when, now=now
            )
        document = {"objective_id": objective_id, **_evaluation(stored)}

    def human() -> None:
        console.print(
            f"objective {objective_id} as of {document['as_of']}: {document['status']} "
            f"({document['status_reason']})"
        )
        console.print(
            f"value {_fmt(document['value'])}, progress {_fmt(document['progress'])}, "
            f"forecast {_fmt(document['forecast'] or document['forecast_reason'])}"
        )

    emit(document, as_json, human)


@app.command("archive")
def archive(
    objective_id: Annotated[int, typer.Argument(help="The objective's id.")],
    as_json: JsonOption = False,
) -> None:
    """Archive: kept with its history, no longer evaluated nightly."""
    from fidela.analytics.objectives import service

    with failures_exit_1(), context.database().write() as session:
        document = _objective(
            service.archive_objective(session, objective_id=objective_id, now=utc_now())
        )
    emit(document, as_json, lambda: console.print(f"objective {objective_id} archived"))


def register(analytics: typer.Typer) -> None:
    analytics.add_typer(app, name="objectives")
