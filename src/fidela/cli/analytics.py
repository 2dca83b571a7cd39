"""``fidela analytics``: export the sources, compute analytics and store them as snapshots.

Every computing command takes ``--as-of`` (only data before it counts; default: the last
midnight UTC), ``--engine`` (default: PostgreSQL in place on PostgreSQL, DuckDB over a fresh
Parquet export on SQLite), ``--source DIR`` (read an existing export instead) and ``--json``.
It stores its result as the snapshot the API serves, then prints it.

Other analytics sub-contexts add their commands with a ``register(app)`` function of their
own module, listed once in ``_REGISTRARS`` at the bottom of this file.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fidela.analytics import rules, snapshots
from fidela.cli import context, objectives, predictions
from fidela.cli.output import JsonOption, console, emit, failures_exit_1, print_table
from fidela.kernel.clock import utc_now

if TYPE_CHECKING:
    from fidela.analytics.snapshots import SnapshotView
from fidela.kernel.errors import InvalidInput

app = typer.Typer(
    help="Analytics: RFM, cohorts, KPIs, funnels and journeys, stored as snapshots.",
    no_args_is_help=True,
)

AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Only data before this instant: YYYY-MM-DD (midnight UTC) or an ISO datetime "
        "with offset. Default: the last midnight UTC.",
    ),
]
EngineOption = Annotated[
    str | None,
    typer.Option("--engine", help="duckdb, postgres (in place) or spark (local mode)."),
]
SourceOption = Annotated[
    Path | None,
    typer.Option("--source", help="Read this Parquet export instead of exporting afresh."),
]
CurrencyOption = Annotated[
    str | None, typer.Option("--currency", help="Only orders in this currency.")
]


def resolve_as_of(value: str | None) -> datetime:
    """``--as-of`` as naive UTC (raises the domain error for a bad spelling)."""
    if value is None:
        return datetime.combine(utc_now().astimezone(UTC).date(), time())
    return rules.parse_as_of(value, pointer="--as-of")


def run_snapshot(
    kind: snapshots.SnapshotKind,
    as_of: str | None,
    engine: str | None,
    source: Path | None,
    params: dict[str, Any],
) -> SnapshotView:
    """Validate, compute on the chosen engine, store and return the snapshot."""
    # The engines (Ibis, DuckDB, pyarrow) load only when a command computes: every other
    # ``fidela`` command starts without them.
    from fidela.analytics import service
    from fidela.analytics.sources import EngineName, parse_engine

    when = resolve_as_of(as_of)
    snapshots.canonical_params(kind, params)  # reject bad parameters before any export
    database = context.database()
    if engine is not None:
        chosen = parse_engine(engine)
    else:  # an export given means DuckDB reads it; otherwise the deployment's engine
        chosen = EngineName.DUCKDB if source is not None else service.default_engine(database)
    if source is not None and chosen is EngineName.POSTGRES:
        raise InvalidInput("--source is for duckdb or spark; postgres reads in place")
    with (
        console.status(f"computing {kind.value} on {chosen.value}"),
        service.open_sources(database, chosen, source_dir=source) as sources,
    ):
        return service.refresh_snapshot(
            database, sources, kind=kind, as_of=when, params=params, now=utc_now()
        )


def _document(view: SnapshotView) -> dict[str, Any]:
    return {
        "kind": view.kind,
        "as_of": rules.as_of_text(view.as_of.replace(tzinfo=None)),
        "engine": view.engine,
        "params": view.params,
        "duration_ms": view.duration_ms,
        "payload": view.payload,
    }


def _show(view: SnapshotView, as_json: bool, human: Callable[[], None]) -> None:
    emit(_document(view), as_json, human)


def _fmt(value: Any) -> str:
    return "-" if value is None else str(value)


@app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", help="Directory for the Parquet files.")],
    as_of: AsOfOption = None,
    chunk_rows: Annotated[int, typer.Option("--chunk-rows", min=1000)] = 100_000,
    as_json: JsonOption = False,
) -> None:
    """Stream the analytics sources (no personal data) from the database to Parquet."""
    from fidela.analytics.sources import export_parquet

    with failures_exit_1():
        when = None if as_of is None else rules.parse_as_of(as_of, pointer="--as-of")
        with context.database().connection() as connection, console.status("exporting"):
            summary = export_parquet(connection, out, as_of=when, chunk_rows=chunk_rows)
    data = {
        "directory": str(summary.directory),
        "as_of": None if when is None else rules.as_of_text(when),
        "rows": summary.rows,
    }
    emit(
        data,
        as_json,
        lambda: print_table(
            f"exported to {summary.directory}", ["source", "rows"], list(summary.rows.items())
        ),
    )


@app.command("rfm")
def rfm(
    as_of: AsOfOption = None,
    engine: EngineOption = None,
    source: SourceOption = None,
    currency: CurrencyOption = None,
    as_json: JsonOption = False,
) -> None:
    """RFM quintile scores, the eleven named segments, value and channel segments."""
    with failures_exit_1():
        view = run_snapshot(
            snapshots.SnapshotKind.RFM, as_of, engine, source, {"currency": currency}
        )

    def human() -> None:
        payload = view.payload
        print_table(
            f"RFM segments as of {payload['as_of']} ({payload['customers']} customers)",
            ["segment", "customers", "share", "mean days since last", "mean orders", "mean value"],
            [
                (
                    s["name"],
                    s["customers"],
                    _fmt(s["share"]),
                    _fmt(s["mean_days_since_last"]),
                    _fmt(s["mean_orders"]),
                    _fmt(s["mean_total_minor"]),
                )
                for s in [*payload["segments"], *payload["value_segments"]]
            ],
        )

    _show(view, as_json, human)


@app.command("cohorts")
def cohorts(
    as_of: AsOfOption = None,
    engine: EngineOption = None,
    source: SourceOption = None,
    since: Annotated[str | None, typer.Option("--since", help="First cohort (YYYY-MM-DD).")] = None,
    currency: CurrencyOption = None,
    as_json: JsonOption = False,
) -> None:
    """The cohort retention matrix: acquisition month by months since."""
    with failures_exit_1():
        view = run_snapshot(
            snapshots.SnapshotKind.COHORTS,
            as_of,
            engine,
            source,
            {"since": since, "currency": currency},
        )

    def human() -> None:
        rows = view.payload["cohorts"]
        width = max((len(c["retention"]) for c in rows), default=0)
        print_table(
            f"cohort retention as of {view.payload['as_of']}",
            ["cohort", "size", *(f"+{m}" for m in range(width))],
            [(c["cohort"], c["size"], *(_fmt(r["rate"]) for r in c["retention"])) for c in rows],
        )

    _show(view, as_json, human)


@app.command("kpis")
def kpis(
    as_of: AsOfOption = None,
    engine: EngineOption = None,
    source: SourceOption = None,
    period: Annotated[str, typer.Option("--period", help="day, week or month")] = "month",
    periods: Annotated[int, typer.Option("--periods", help="How many periods up to as_of")] = 12,
    segment_by: Annotated[
        str, typer.Option("--segment-by", help="all, rfm, value or channel")
    ] = "all",
    kpi: Annotated[
        list[str] | None, typer.Option("--kpi", help="A KPI to include (repeat); default all")
    ] = None,
    currency: CurrencyOption = None,
    as_json: JsonOption = False,
) -> None:
    """KPIs per segment and period (targets on a KPI: fidela analytics objectives)."""
    with failures_exit_1():
        view = run_snapshot(
            snapshots.SnapshotKind.KPIS,
            as_of,
            engine,
            source,
            {
                "period": period,
                "periods": periods,
                "segment_by": segment_by,
                "kpis": kpi or None,
                "currency": currency,
            },
        )
    document = _document(view)

    def human() -> None:
        names = view.payload["kpis"]
        print_table(
            f"KPIs per {view.payload['period']} as of {view.payload['as_of']}",
            ["segment", "period", *names],
            [
                (row["segment"], row["period_start"], *(_fmt(row[name]) for name in names))
                for row in view.payload["series"]
            ],
        )

    emit(document, as_json, human)


@app.command("funnel")
def funnel(
    as_of: AsOfOption = None,
    engine: EngineOption = None,
    source: SourceOption = None,
    step: Annotated[
        list[str] | None,
        typer.Option(
            "--step", help="An event type, in order (repeat); default page view, cart, order"
        ),
    ] = None,
    days: Annotated[int, typer.Option("--days", help="Window before as_of, in days")] = 30,
    as_json: JsonOption = False,
) -> None:
    """Funnel over event types: step conversion, drop-off and time between steps."""
    with failures_exit_1():
        view = run_snapshot(
            snapshots.SnapshotKind.FUNNEL,
            as_of,
            engine,
            source,
            {"steps": step or None, "days": days},
        )

    def human() -> None:
        print_table(
            f"funnel over {view.payload['window_days']} days before {view.payload['as_of']}",
            ["step", "customers", "conversion", "drop-off", "mean seconds from previous"],
            [
                (
                    s["step"],
                    s["customers"],
                    _fmt(s["conversion_from_previous"]),
                    _fmt(s["drop_off"]),
                    _fmt(s["mean_seconds_from_previous"]),
                )
                for s in view.payload["steps"]
            ],
        )

    _show(view, as_json, human)


@app.command("journey")
def journey(
    as_of: AsOfOption = None,
    engine: EngineOption = None,
    source: SourceOption = None,
    days: Annotated[int, typer.Option("--days")] = 30,
    lookback_days: Annotated[int, typer.Option("--lookback-days")] = 7,
    as_json: JsonOption = False,
) -> None:
    """Touchpoints per channel and cross-channel paths (browse on one, buy on another)."""
    with failures_exit_1():
        view = run_snapshot(
            snapshots.SnapshotKind.JOURNEY,
            as_of,
            engine,
            source,
            {"days": days, "lookback_days": lookback_days},
        )

    def human() -> None:
        print_table(
            f"paths to purchase, {view.payload['window_days']} days before {view.payload['as_of']}",
            ["browsed on", "bought on", "orders"],
            [(p["browse_channel"], p["order_channel"], p["orders"]) for p in view.payload["paths"]],
        )

    _show(view, as_json, human)


_REGISTRARS: tuple[Callable[[typer.Typer], None], ...] = (
    predictions.register,
    objectives.register,
)
for _register in _REGISTRARS:
    _register(app)
