"""``fidela db``: schema migrations."""

from __future__ import annotations

import typer

from fidela.cli import context
from fidela.cli.output import JsonOption, console, emit, error_console
from fidela.migrations.metadata import metadata
from fidela.platform import migrate
from fidela.platform.references import orphans, unchecked_references

app = typer.Typer(
    help="Database schema: upgrade, current revision, drift check, references.",
    no_args_is_help=True,
)


@app.command("upgrade")
def upgrade(
    revision: str = typer.Option("head", help="Target revision."), as_json: JsonOption = False
) -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    database = context.database()
    migrate.upgrade(database.bind, revision)
    current = migrate.current_revision(database.bind)
    emit(
        {"revision": current, "database": database.dialect},
        as_json,
        lambda: console.print(f"database ({database.dialect}) at revision [bold]{current}[/bold]"),
    )


@app.command("current")
def current(as_json: JsonOption = False) -> None:
    """Show the database's revision and the latest known one."""
    database = context.database()
    now_at = migrate.current_revision(database.bind)
    head = migrate.head_revision()
    emit(
        {"revision": now_at, "head": head, "up_to_date": now_at == head},
        as_json,
        lambda: console.print(f"revision {now_at} (head {head})"),
    )


@app.command("check")
def check(as_json: JsonOption = False) -> None:
    """Fail (exit 1) if the models and the migrated database differ."""
    database = context.database()
    with database.connection() as connection:
        drift = [repr(item) for item in migrate.pending_drift(connection, metadata)]
    emit({"drift": drift}, as_json, lambda: console.print("no drift" if not drift else ""))
    if drift:
        for item in drift:
            error_console.print(f"drift: {item}")
        raise typer.Exit(1)


@app.command("verify")
def verify(as_json: JsonOption = False) -> None:
    """Fail (exit 1) if a row names a row that does not exist, where PostgreSQL leaves the
    reference unchecked (references to events, order lines' orders, order earnings' orders,
    ledger entries' lots, and the customer and programme of events, orders, identities and
    order earnings)."""
    database = context.database()
    with database.read() as session:
        found = orphans(session, metadata)
        checked = [reference.name for reference in unchecked_references(metadata)]
    emit(
        {"checked": checked, "orphans": found},
        as_json,
        lambda: console.print(
            f"{len(checked)} references checked, "
            + ("none names a missing row" if not found else f"{sum(found.values())} rows orphaned")
        ),
    )
    if found:
        for name, count in found.items():
            error_console.print(f"orphans: {count} rows of {name}")
        raise typer.Exit(1)
