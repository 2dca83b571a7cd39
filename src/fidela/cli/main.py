"""The ``fidela`` command."""

from __future__ import annotations

import typer

from fidela import __version__
from fidela.cli import apikey, customer, db, demo, imports, ledger, outbox, serve

app = typer.Typer(
    name="fidela",
    help="Fidela: multichannel loyalty and retention platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.add_typer(apikey.app, name="apikey")
app.add_typer(customer.app, name="customer")
app.add_typer(outbox.app, name="outbox")
app.add_typer(demo.app, name="demo")
app.add_typer(imports.app, name="import")
app.add_typer(ledger.app, name="ledger")
app.command("serve")(serve.serve)
app.command("worker")(serve.worker)


@app.command("version")
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def run() -> None:
    app()
