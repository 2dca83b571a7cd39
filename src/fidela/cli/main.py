"""The ``fidela`` command.

Command groups are imported only when used: the analytics, engagement and API modules pull in
pandas, scikit-learn, scipy and FastAPI, and importing every group made each ``fidela``
invocation (a cron job, a deploy hook, ``fidela db upgrade``) pay seconds of start-up for code
it never runs. ``fidela --help`` still loads them all to list them.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from functools import cache

import typer

from fidela import __version__

# name -> module holding a Typer ``app``, in the order ``--help`` lists them.
GROUPS: dict[str, str] = {
    "db": "fidela.cli.db",
    "apikey": "fidela.cli.apikey",
    "customer": "fidela.cli.customer",
    "outbox": "fidela.cli.outbox",
    "engagement": "fidela.cli.engagement",
    "campaign": "fidela.cli.campaign",
    "journey": "fidela.cli.journey",
    "demo": "fidela.cli.demo",
    "import": "fidela.cli.imports",
    "ledger": "fidela.cli.ledger",
    "loyalty": "fidela.cli.loyalty",
    "reward": "fidela.cli.reward",
    "clv": "fidela.cli.clv",
    "analytics": "fidela.cli.analytics",
    "segment": "fidela.cli.segment",
}
# name -> (module, function) of top-level commands.
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("fidela.cli.serve", "serve"),
    "worker": ("fidela.cli.serve", "worker"),
}


def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def build_app(only: str | None = None) -> typer.Typer:
    """The command tree; with ``only``, just that group or command (plus ``version``)."""
    app = typer.Typer(
        name="fidela",
        help="Fidela: multichannel loyalty and retention platform.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
    )
    for name, module in GROUPS.items():
        if only is None or only == name:
            app.add_typer(importlib.import_module(module).app, name=name)
    for name, (module, function) in COMMANDS.items():
        if only is None or only == name:
            app.command(name)(getattr(importlib.import_module(module), function))
    app.command("version")(version)
    # A callback keeps ``fidela`` a group even when only one command was loaded (Typer would
    # otherwise run a lone command without its name).
    app.callback()(_root)
    return app


def _root() -> None:
    """Fidela: multichannel loyalty and retention platform."""


@cache
def full_app() -> typer.Typer:
    return build_app()


def requested(argv: Sequence[str]) -> str | None:
    """The group or command named on the command line, if it is one we know."""
    for arg in argv:
        if arg.startswith("-"):
            return None  # a top-level option (--help): show everything
        return arg if arg in GROUPS or arg in COMMANDS or arg == "version" else None
    return None


def __getattr__(name: str) -> typer.Typer:
    # ``from fidela.cli.main import app`` (tests, embedding) gets the whole tree.
    if name == "app":
        return full_app()
    raise AttributeError(name)


def run() -> None:
    only = requested(sys.argv[1:])
    (full_app() if only is None else build_app(only))()
