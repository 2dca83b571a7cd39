"""``fidela demo``: generate the demo data set, and set up the live demo."""

from __future__ import annotations

import contextlib
import json
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from fidela.access import service as access
from fidela.cli import context, imports
from fidela.cli.output import JsonOption, console, emit
from fidela.kernel.clock import utc_now
from fidela.platform import migrate
from fidela.platform.db import Database

if TYPE_CHECKING:
    from fidela.demo import GenerationConfig, GenerationReport

app = typer.Typer(
    help="Demo data: generate a realistic data set; set up the live demo.", no_args_is_help=True
)

DEMO_KEY_NAME = "demo"
DEMO_SCOPES = ["admin"]


def _run_generation(config: GenerationConfig, show_progress: bool) -> GenerationReport:
    # Imported here: numpy and pyarrow are only needed by this command, not by every CLI start.
    from fidela.demo import generate

    if not show_progress:
        return generate(config)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("customers", total=config.customers)
        return generate(
            config, lambda done, total: progress.update(task, completed=done, total=total)
        )


@app.command("generate")
def generate_command(
    customers: Annotated[int, typer.Option(min=1, help="Number of customers.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same files.")] = 42,
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("var/demo"),
    fmt: Annotated[str, typer.Option("--format", help="both, parquet or csv.")] = "both",
    end: Annotated[
        str, typer.Option(help="Observation end date (YYYY-MM-DD); nothing happens after it.")
    ] = "2026-10-31",
    as_json: JsonOption = False,
) -> None:
    """Write customers, orders, activity and truth files (Parquet and/or CSV)."""
    from fidela.demo import GenerationConfig

    formats = ("parquet", "csv") if fmt == "both" else (fmt,)
    try:
        config = GenerationConfig(
            customers=customers,
            seed=seed,
            out_dir=out,
            formats=formats,
            end=date.fromisoformat(end),
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    try:
        report = _run_generation(config, show_progress=not as_json)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    data = {
        "out_dir": str(report.out_dir),
        "rows": report.rows,
        "seconds": round(report.seconds, 2),
    }
    emit(
        data,
        as_json,
        lambda: console.print(
            f"wrote {sum(report.rows.values()):,} rows to {report.out_dir} "
            f"in {report.seconds:.1f} s: "
            + ", ".join(f"{table} {n:,}" for table, n in report.rows.items())
        ),
    )


def _generated_already(out: Path, *, customers: int, seed: int) -> bool:
    manifest = out / "manifest.json"
    if not manifest.exists():
        return False
    config = json.loads(manifest.read_text()).get("config", {})
    return bool(config.get("seed") == seed and config.get("customers") == customers)


ACTIVITY_FILES = (
    "returns", "sessions", "email_events", "support_interactions", "survey_answers", "reviews",
    "social_shares", "referrals",
)  # fmt: skip


@app.command("load")
def load(
    data: Annotated[
        Path, typer.Option(help="A directory written by `fidela demo generate`.")
    ] = Path("var/demo"),
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
    points_payments: Annotated[
        bool,
        typer.Option(
            help="Send the generated orders' points payments. Off for a live programme: the "
            "generator's points history is its own, and charging it to the programme's "
            "ledger would reject orders paid with points the programme never awarded.",
        ),
    ] = True,
) -> None:
    """Load a generated data set through the import path (customers, orders, activity).
    Idempotent: loading twice changes nothing."""
    suffix = ".parquet" if (data / "customers.parquet").exists() else ".csv"
    imports.import_customers(data / f"customers{suffix}", source="demo", quiet=quiet)
    # Renaming the column away leaves the orders paid by their other methods only.
    mapping = None if points_payments else ["generated_points_redeemed=points_redeemed"]
    imports.import_orders(data / f"orders{suffix}", source="demo", mapping=mapping, quiet=quiet)
    for name in ACTIVITY_FILES:
        imports.import_events(data / f"{name}{suffix}", kind=name, source="demo", quiet=quiet)


def _ensure_programme(database: Database) -> None:
    """Create the demo loyalty programme once, before the data, so the history earns points."""
    from fidela.demo.programme import DEMO_PROGRAMME
    from fidela.loyalty import programmes

    with database.write() as session:
        if any(p.code == DEMO_PROGRAMME["code"] for p in programmes.list_programmes(session)):
            return
        programmes.create_programme(
            session,
            **DEMO_PROGRAMME,
            now=utc_now(),
            actor="demo",
        )


@app.command("setup")
def setup(
    customers: Annotated[int, typer.Option(min=1)] = 10_000,
    seed: Annotated[int, typer.Option()] = 42,
    out: Annotated[Path, typer.Option()] = Path("var/demo"),
    as_json: JsonOption = False,
) -> None:
    """Migrate the database, generate the demo data once, and issue a fresh demo API key."""
    from fidela.demo import GenerationConfig

    settings = context.settings()
    database = context.database()
    migrate.upgrade(database.bind)
    manifest = out / "manifest.json"
    reuse = (
        manifest.exists()
        and json.loads(manifest.read_text()).get("config", {}).get("seed") == seed
        and json.loads(manifest.read_text()).get("config", {}).get("customers") == customers
    )
    if not reuse:
        _run_generation(
            GenerationConfig(customers=customers, seed=seed, out_dir=out), show_progress=not as_json
        )
    _ensure_programme(database)
    # With --json, stdout carries the one JSON answer: the per-file summaries go to stderr.
    with contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext():
        load(data=out, quiet=as_json, points_payments=False)
    now = utc_now()
    with database.write() as session:
        # One live demo key at a time: the previous one is revoked, a new one printed.
        for key in access.list_api_keys(session):
            if key.name == DEMO_KEY_NAME:
                access.revoke_api_key(session, key_id=key.id, now=now)
        issued = access.create_api_key(session, name=DEMO_KEY_NAME, scopes=DEMO_SCOPES, now=now)
    url = settings.public_url.rstrip("/")
    data = {
        "api_docs": f"{url}/docs",
        "openapi": f"{url}/openapi.json",
        "api_key": issued.token,
        "data": str(out),
    }
    emit(
        data,
        as_json,
        lambda: console.print(
            "\n[bold green]Fidela demo is ready.[/bold green]\n"
            f"  API docs      {url}/docs   (OpenAPI: {url}/openapi.json)\n"
            f"  Health        {url}/health\n"
            f"  Demo data     {out}/ (customers, orders, activity, truth files)\n"
            f"  Demo API key  [bold]{issued.token}[/bold]   (scope: admin)\n"
            f"  Try it        curl -H 'Authorization: Bearer {issued.token}' "
            f"{url}/v1/api-keys/current\n",
            soft_wrap=True,  # never break the key or a URL across lines
        ),
    )
