"""``fidela import``: customers, orders (with their lines), returns and activity events from
CSV or Parquet. Every row is validated; bad rows are reported (``--errors``) and never block
the good ones; re-running an import changes nothing; ``--dry-run`` writes nothing."""

from __future__ import annotations

import csv
import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from sqlalchemy.orm import Session

from fidela.cli import context
from fidela.cli.files import count_rows, read_rows, rows_only
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

Chunk = list[tuple[int, dict[str, Any]]]


def _process_chunk(
    process: Callable[[Session, Chunk], ImportReport], chunk: Chunk, session: Session
) -> ImportReport:
    return process(session, chunk)


def _run(
    label: str,
    path: Path,
    chunks: Iterator[Chunk],
    process: Callable[[Session, Chunk], ImportReport],
    *,
    dry_run: bool,
    errors: Path | None,
    quiet: bool,
    as_json: bool,
) -> ImportReport:
    total = ImportReport()
    database = context.database()
    settle_after_startup(context.settings().settle_heap)
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
        if dry_run:
            # One rehearsal transaction for the whole file: later rows see earlier ones.
            with database.rehearse() as session:
                for chunk in chunks:
                    total.add(process(session, chunk))
                    progress.update(task, advance=len(chunk))
        else:
            for chunk in chunks:
                # One transaction per chunk, run again whole if PostgreSQL breaks a deadlock
                # with a concurrent writer: every row kind imports idempotently.
                total.add(
                    database.write_retrying(functools.partial(_process_chunk, process, chunk))
                )
                progress.update(task, advance=len(chunk))
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
    """Profiles with identities and consent (customer_id becomes an external id in SOURCE)."""
    wiring = build_wiring(context.settings())
    with failures_exit_1():
        columns = parse_mapping(mapping or [])

    def process(session: Session, chunk: Chunk) -> ImportReport:
        return service.import_customers(
            session, rows=chunk, mapping=columns, source=source, policy=wiring.policy, now=utc_now()
        )

    _run(
        "customers",
        file,
        read_rows(file),
        process,
        dry_run=dry_run,
        errors=errors,
        quiet=quiet,
        as_json=as_json,
    )


def _events_process(
    source: str, convert: Callable[[dict[str, Any]], list[dict[str, Any]]]
) -> Callable[[Session, Chunk], ImportReport]:
    wiring = build_wiring(context.settings())

    def process(session: Session, chunk: Chunk) -> ImportReport:
        converted: list[tuple[int, list[dict[str, Any]] | DomainError]] = []
        for number, row in chunk:
            try:
                converted.append((number, convert(row)))
            except DomainError as error:
                converted.append((number, error))
        ingest = IngestContext(wiring.subscribers, wiring.policy, utc_now(), f"import:{source}")
        return service.import_events(session, events_by_row=converted, context=ingest)

    return process


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
        _events_process(source, convert),
        dry_run=dry_run,
        errors=errors,
        quiet=quiet,
        as_json=as_json,
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
        _events_process(source, convert),
        dry_run=dry_run,
        errors=errors,
        quiet=quiet,
        as_json=as_json,
    )
