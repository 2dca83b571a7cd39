"""How commands speak: Rich tables for people, ``--json`` for machines, errors to stderr, exit
codes 0 (ok), 1 (failure), 2 (usage)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from fidela.kernel.errors import DomainError

console = Console()
error_console = Console(stderr=True, soft_wrap=True)  # never break an error line

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=_default, indent=2, ensure_ascii=False) + "\n")


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if value is None else str(value) for value in row))
    console.print(table)


def emit(data: Any, as_json: bool, human: Callable[[], None]) -> None:
    if as_json:
        print_json(data)
    else:
        human()


@contextmanager
def failures_exit_1() -> Iterator[None]:
    """Turn a domain error into a clear message on stderr and exit code 1."""
    try:
        yield
    except DomainError as exc:
        error_console.print(f"[red]error[/red] ({exc.code}): {exc.detail}")
        for problem in exc.problems:
            error_console.print(f"  {problem.pointer}: {problem.message}")
        raise typer.Exit(1) from None
