"""``fidela journey``: publish, validate and run journeys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from fidela.cli import context
from fidela.cli.campaign import read_json
from fidela.cli.output import JsonOption, console, emit, failures_exit_1, print_table
from fidela.engagement.journeys import service
from fidela.engagement.journeys.schemas import Journey
from fidela.kernel.clock import utc_now

app = typer.Typer(help="Journeys: event-triggered automations.", no_args_is_help=True)
FileArgument = Annotated[Path, typer.Argument(help="A JSON journey definition")]


def _out(journey: Any) -> dict[str, Any]:
    return Journey.model_validate(journey).model_dump(mode="json")


@app.command("validate")
def validate(file: FileArgument, as_json: JsonOption = False) -> None:
    """Check a definition; every problem is listed with its JSON pointer (exit 1)."""
    with failures_exit_1():
        definition = service.validate(read_json(file))
    data = {"valid": True, "code": definition.code, "steps": list(definition.steps)}
    emit(
        data,
        as_json,
        lambda: console.print(f"{definition.code}: valid, {len(definition.steps)} steps"),
    )


@app.command("publish")
def publish(
    file: FileArgument,
    expected_version: Annotated[
        int | None, typer.Option(help="The version being replaced (omit to create)")
    ] = None,
    inactive: Annotated[bool, typer.Option(help="Publish without letting anyone in")] = False,
    as_json: JsonOption = False,
) -> None:
    """Publish a journey or a new version of it (compare-and-set on the version)."""
    with failures_exit_1():
        raw = read_json(file)
        with context.database().write() as session:
            data = _out(
                service.publish_journey(
                    session,
                    definition=raw,
                    expected_version=expected_version,
                    now=utc_now(),
                    active=not inactive,
                )
            )
    emit(data, as_json, lambda: console.print(f"{data['code']} is at version {data['version']}"))


@app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """Every journey."""
    with context.database().read() as session:
        rows = [_out(j) for j in service.list_journeys(session)]
    emit(
        rows,
        as_json,
        lambda: print_table(
            "journeys",
            ["code", "name", "version", "active"],
            [(r["code"], r["name"], r["version"], "yes" if r["active"] else "no") for r in rows],
        ),
    )


@app.command("show")
def show(code: str, as_json: JsonOption = False) -> None:
    """One journey and its definition."""
    with failures_exit_1(), context.database().read() as session:
        data = _out(service.get_journey(session, code))
    emit(data, as_json, lambda: console.print_json(json.dumps(data)))


@app.command("install-library")
def install_library(as_json: JsonOption = False) -> None:
    """Install the ready-made journeys (inactive until their templates exist)."""
    with context.database().write() as session:
        installed = service.install_library(session, now=utc_now())
    emit(
        {"installed": installed},
        as_json,
        lambda: console.print(f"installed: {', '.join(installed) or 'nothing new'}"),
    )


def _switch(code: str, active: bool, as_json: bool) -> None:
    with failures_exit_1(), context.database().write() as session:
        data = _out(service.set_active(session, code=code, active=active, now=utc_now()))
    emit(data, as_json, lambda: console.print(f"{code}: {'active' if active else 'inactive'}"))


@app.command("activate")
def activate(code: str, as_json: JsonOption = False) -> None:
    """Let customers enter the journey."""
    _switch(code, True, as_json)


@app.command("deactivate")
def deactivate(code: str, as_json: JsonOption = False) -> None:
    """Stop new entries (runs under way finish)."""
    _switch(code, False, as_json)


@app.command("run-due")
def run_due(as_json: JsonOption = False) -> None:
    """Advance the runs whose wake-up time has come (what the worker does every minute)."""
    total = 0
    while True:
        with context.database().write() as session:
            advanced = service.run_due(session, now=utc_now())
        total += advanced
        if advanced < 500:
            break
    emit({"advanced": total}, as_json, lambda: console.print(f"{total} run(s) advanced"))
