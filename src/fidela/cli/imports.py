"""``fidela import``: customers, orders (with their lines), returns and activity events from
CSV or Parquet. Every row is validated; bad rows are reported (``--errors``) and never block
the good ones; re-running an import changes nothing; ``--dry-run`` writes nothing."""

from __future__ import annotations

import csv
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from sqlalchemy.orm import Session

from fidela.cli import context
from fidela.cli.files import count_rows, read_rows, rows_only
from fidela.cli.import_chunks import SPREAD_DEPTH, ChunkSpreader
from fidela.cli.import_workers import (
    CHUNK_ROWS,
    ImportFailed,
    Keyed,
    Process,
    Units,
    Workers,
    apply_units,
)
from fidela.cli.output import JsonOption, console, emit, failures_exit_1
from fidela.event.service import IngestContext
from fidela.imports import service
from fidela.imports.rules import (
    ACTIVITY_PRESETS,
    LineJoiner,
    order_event,
    parse_mapping,
    remap,
    text,
)
from fidela.imports.service import ImportReport
from fidela.imports.statistics import RefreshSchedule
from fidela.kernel.clock import utc_now
from fidela.kernel.errors import DomainError
from fidela.platform.heap import settle_after_startup
from fidela.wiring import build_wiring

app = typer.Typer(
    help="Import customers, orders, returns and events (CSV or Parquet).", no_args_is_help=True
)

FileArg = Annotated[Path, typer.Argument(help="A .csv or .parquet file.", show_default=False)]
SourceOpt = Annotated[
    str, typer.Option(help="The system the file comes from (namespaces its ids).")
]
MapOpt = Annotated[
    list[str] | None, typer.Option("--map", help="our_field=their_column (repeatable).")
]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Validate and report; write nothing.")]
ErrorsOpt = Annotated[
    Path | None, typer.Option("--errors", help="Write rejected rows to this CSV.")
]
QuietOpt = Annotated[bool, typer.Option("--quiet", help="No progress bar.")]
JobsOpt = Annotated[
    int,
    typer.Option(
        "--jobs",
        min=1,
        help="Processes importing in parallel, rows dealt by customer (PostgreSQL; a dry run "
        "uses one).",
    ),
]

Chunk = list[tuple[int, dict[str, Any]]]


@dataclass(frozen=True)
class Plan:
    """How a command imports a chunk of rows: ``prepare`` turns rows into units keyed by
    customer, in this process (rows it cannot convert are rejected into the report it is
    given); ``process`` writes units in a transaction, here or in a worker process."""

    prepare: Callable[[Chunk, ImportReport], Keyed]
    process: Process
    # At most this many units of one key (customer) per transaction (see import_chunks);
    # None: the units in the file's order.
    depth: int | None = None


def _run(
    label: str,
    path: Path,
    chunks: Iterator[Chunk],
    plan: Plan,
    *,
    dry_run: bool,
    errors: Path | None,
    quiet: bool,
    as_json: bool,
    jobs: int = 1,
) -> ImportReport:
    total = ImportReport()
    database = context.database()
    settle_after_startup(context.settings().settle_heap)
    workers = None
    if jobs > 1 and not dry_run:
        if database.dialect == "sqlite":
            raise typer.BadParameter(
                "SQLite takes one writer at a time: import with one process", param_hint="--jobs"
            )
        # Forked now: before the progress bar starts its thread.
        workers = Workers(plan.process, jobs, depth=plan.depth)
    prepared = (plan.prepare(chunk, total) for chunk in chunks)
    schedule = RefreshSchedule()

    def committed(rows: int) -> None:
        progress.update(task, advance=rows)
        if schedule.due_after(rows):
            database.refresh_statistics()

    def write(units: Units) -> None:
        # One transaction per chunk, run again whole if PostgreSQL breaks a deadlock with a
        # concurrent writer: every row kind imports idempotently.
        total.add(database.write_retrying(functools.partial(apply_units, plan.process, units)))
        committed(len(units))

    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=quiet or as_json,
    )
    with failures_exit_1(), progress:
        task = progress.add_task(f"{label} {path.name}", total=count_rows(path))
        if workers is not None:
            try:
                workers.run(prepared, total, committed)
            except ImportFailed as failure:
                # What the workers committed stays; re-running the import changes nothing.
                console.print(f"import stopped, a worker failed:\n{failure}")
                raise typer.Exit(1) from None
        elif dry_run:
            # One rehearsal transaction for the whole file: later rows see earlier ones.
            with database.rehearse() as session:
                for keyed in prepared:
                    total.add(plan.process(session, [unit for _, unit in keyed]))
                    progress.update(task, advance=len(keyed))
        else:
            spreader = ChunkSpreader(CHUNK_ROWS, plan.depth)
            for keyed in prepared:
                for key, unit in keyed:
                    spreader.add(key, unit)
                for units in spreader.ready():
                    write(units)
            for units in spreader.rest():
                write(units)
        total.problems.sort(key=lambda problem: problem.row)
    if not dry_run:
        # What comes next (the server's cached plans, the next import) plans against the
        # tables as this import left them; only those it grew are analysed.
        database.refresh_statistics()
    if errors is not None:
        with errors.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["row", "code", "field", "message"])
            writer.writerows([p.row, p.code, p.pointer, p.message] for p in total.problems)
    data = {
        "file": str(path),
        "dry_run": dry_run,
        "rows": total.rows,
        "created": total.created,
        "updated": total.updated,
        "unchanged": total.unchanged,
        "rejected": total.rejected,
        "problems": [p.__dict__ for p in total.problems[:1000]],
    }

    def human() -> None:
        console.print(
            f"{label}: {total.rows:,} rows - {total.created:,} created, {total.updated:,} updated, "
            f"{total.unchanged:,} unchanged, {total.rejected:,} rejected"
            + (" (dry run: nothing written)" if dry_run else "")
        )
        for problem in total.problems[:10]:
            console.print(
                f"  row {problem.row}: {problem.pointer} {problem.message} ({problem.code})"
            )
        if len(total.problems) > 10:
            console.print(
                f"  ... {len(total.problems) - 10} more"
                + (f" in {errors}" if errors else " (use --errors FILE)")
            )

    emit(data, as_json, human)
    return total


@app.command("customers")
def import_customers(
    file: FileArg,
    source: SourceOpt = "import",
    mapping: MapOpt = None,
    dry_run: DryRunOpt = False,
    errors: ErrorsOpt = None,
    quiet: QuietOpt = False,
    as_json: JsonOption = False,
) -> None:
    """Profiles with identities and consent (customer_id becomes an external id in SOURCE);
    attribute.<name> columns set declared custom attributes (existing values are kept)."""
    wiring = build_wiring(context.settings())
    with failures_exit_1():
        columns = parse_mapping(mapping or [])

    def process(session: Session, rows: Units) -> ImportReport:
        return service.import_customers(
            session, rows=rows, mapping=columns, source=source, policy=wiring.policy, now=utc_now()
        )

    def prepare(chunk: Chunk, _: ImportReport) -> Keyed:
        return [(None, (number, row)) for number, row in chunk]

    _run(
        "customers",
        file,
        read_rows(file),
        Plan(prepare, process),
        dry_run=dry_run,
        errors=errors,
        quiet=quiet,
        as_json=as_json,
        # One process: two rows may name the same person by different ids (a shared phone),
        # and which of them creates the profile must follow the file's order.
    )


def _customer_of(columns: dict[str, str]) -> Callable[[dict[str, Any]], str | None]:
    """The partition key of a row: the customer it is about (its id in the file)."""
    return lambda row: text(remap(row, columns).get("customer_id"))


def _events_plan(
    source: str,
    convert: Callable[[dict[str, Any]], list[dict[str, Any]]],
    key: Callable[[dict[str, Any]], str | None],
    depth: int | None = None,
) -> Plan:
    """Rows converted to events here; the events ingested by ``process``."""
    wiring = build_wiring(context.settings())

    def prepare(chunk: Chunk, report: ImportReport) -> Keyed:
        keyed: Keyed = []
        for number, row in chunk:
            try:
                keyed.append((key(row), (number, convert(row))))
            except DomainError as error:
                report.rows += 1
                report.reject(number, error)
        return keyed

    def process(session: Session, units: Units) -> ImportReport:
        ingest = IngestContext(wiring.subscribers, wiring.policy, utc_now(), f"import:{source}")
        return service.import_events(session, events_by_row=units, context=ingest)

    return Plan(prepare, process, depth)


@app.command("orders")
def import_orders(
    file: FileArg,
    lines: Annotated[
        Path | None, typer.Option(help="The order lines file (default: order_lines.* beside FILE).")
    ] = None,
    source: SourceOpt = "import",
    mapping: MapOpt = None,
    dry_run: DryRunOpt = False,
    errors: ErrorsOpt = None,
    quiet: QuietOpt = False,
    as_json: JsonOption = False,
    jobs: JobsOpt = 1,
) -> None:
    """Orders and their lines, as order.completed events (idempotent on the order id)."""
    lines_path = lines or file.with_name(f"order_lines{file.suffix}")
    with failures_exit_1():
        columns = parse_mapping(mapping or [])
        joiner = LineJoiner(remap(row, columns) for row in rows_only(lines_path))

    def convert(row: dict[str, Any]) -> list[dict[str, Any]]:
        order = remap(row, columns)
        return [order_event(order, joiner.lines_of(text(order.get("order_id")) or ""), source)]

    _run(
        "orders",
        file,
        read_rows(file),
        # A customer's orders spread over several transactions: fewer waves of earning.
        _events_plan(source, convert, _customer_of(columns), SPREAD_DEPTH),
        dry_run=dry_run,
        errors=errors,
        quiet=quiet,
        as_json=as_json,
        jobs=jobs,
    )


@app.command("events")
def import_events(
    file: FileArg,
    kind: Annotated[
        str,
        typer.Option(
            help=f"What the rows are: {', '.join(ACTIVITY_PRESETS)}; "
            "'auto' picks it from the file name."
        ),
    ] = "auto",
    source: SourceOpt = "import",
    mapping: MapOpt = None,
    dry_run: DryRunOpt = False,
    errors: ErrorsOpt = None,
    quiet: QuietOpt = False,
    as_json: JsonOption = False,
) -> None:
    """Returns, sessions, emails, support, surveys, reviews, shares, referrals, or a generic
    events file (type, external_id, occurred_at, customer columns, data as JSON)."""
    preset_name = file.stem if kind == "auto" else kind
    preset = ACTIVITY_PRESETS.get(preset_name)
    if preset is None:
        raise typer.BadParameter(
            f"no preset for '{preset_name}'; use --kind with one of {', '.join(ACTIVITY_PRESETS)}"
        )
    with failures_exit_1():
        columns = parse_mapping(mapping or [])

    def convert(row: dict[str, Any]) -> list[dict[str, Any]]:
        return preset(remap(row, columns), source)

    _run(
        preset_name,
        file,
        read_rows(file),
        # One process: a return must come after its order, wherever its customer is.
        _events_plan(source, convert, lambda _row: None),
        dry_run=dry_run,
        errors=errors,
        quiet=quiet,
        as_json=as_json,
    )
