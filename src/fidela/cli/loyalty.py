"""``fidela loyalty``: programmes, their rule sets and ladders, dry runs and replays, and the
engine's periodic maintenance."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from fidela.api.routes.loyalty import evaluation_out, programme_out, replay_out
from fidela.cli import context
from fidela.cli.output import JsonOption, console, emit, failures_exit_1, print_table
from fidela.kernel.clock import utc_now
from fidela.kernel.errors import FieldProblem, InvalidInput
from fidela.ledger import service as ledger
from fidela.loyalty import dry_run, jobs, programmes
from fidela.loyalty.schemas import ProgrammeCreate
from fidela.platform.validation import problems_from

app = typer.Typer(help="Loyalty programmes: rules, tiers, dry runs.", no_args_is_help=True)

FileArgument = Annotated[Path, typer.Argument(help="A JSON file", exists=False)]


class UnreadableJson(InvalidInput):
    code = "json_unreadable"
    title = "The JSON file cannot be read"


def read_json(path: Path, pointer: str = "/file") -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UnreadableJson(f"{path}: {error}", [FieldProblem(pointer, "unreadable")]) from None
    if not isinstance(data, dict):
        raise UnreadableJson(f"{path}: expected a JSON object", [FieldProblem(pointer, "object")])
    return data


def instant(value: str, pointer: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise InvalidInput(
            f"{pointer}: expected an ISO 8601 instant with offset, e.g. 2026-01-01T00:00:00Z",
            [FieldProblem(pointer, "ISO 8601 with a UTC offset")],
        )
    return parsed


@app.command("list")
def list_programmes(as_json: JsonOption = False) -> None:
    """Every programme with its rule set and ladder versions."""
    with failures_exit_1(), context.database().read() as session:
        found = [
            programme_out(p).model_dump(mode="json") for p in programmes.list_programmes(session)
        ]

    def human() -> None:
        print_table(
            "programmes",
            ["code", "name", "currency", "cost/pt", "returns", "rules v", "ladder v"],
            [
                (
                    p["code"],
                    p["name"],
                    p["currency"],
                    p["cost_per_point_minor"],
                    p["return_policy"],
                    p["rule_set_version"],
                    p["ladder_version"],
                )
                for p in found
            ],
        )

    emit(found, as_json, human)


@app.command("create")
def create(file: FileArgument, as_json: JsonOption = False) -> None:
    """Create a programme from a JSON file shaped like ``POST /v1/loyalty/programmes``."""
    with failures_exit_1():
        body = read_json(file)
        try:
            payload = ProgrammeCreate.model_validate(body)
        except ValidationError as error:
            raise InvalidInput("invalid programme", problems_from(error)) from None
        with context.database().write() as session:
            created = programmes.create_programme(
                session,
                code=payload.code,
                name=payload.name,
                currency=payload.currency,
                cost_per_point_minor=payload.cost_per_point_minor,
                return_policy=payload.return_policy,
                hold=payload.hold,
                expiry=payload.expiry,
                warning_days=payload.warning_days,
                rules=payload.rules,
                ladder=payload.ladder,
                now=utc_now(),
                actor="cli",
            )
            data = programme_out(created).model_dump(mode="json")
    emit(data, as_json, lambda: console.print(f"programme {data['code']} created"))


@app.command("set-rules")
def set_rules(
    code: str,
    file: FileArgument,
    version: Annotated[int, typer.Option(help="The current rule set version (0: none yet)")],
    as_json: JsonOption = False,
) -> None:
    """Save a new rule set version (compare-and-set on ``--version``)."""
    with failures_exit_1():
        rules = read_json(file)
        with context.database().write() as session:
            saved = programmes.set_rule_set(
                session,
                code=code,
                rules=rules,
                expected_version=version,
                now=utc_now(),
                actor="cli",
            )
            data = programme_out(saved).model_dump(mode="json")
    emit(data, as_json, lambda: console.print(f"{code}: rules v{data['rule_set_version']}"))


@app.command("set-ladder")
def set_ladder(
    code: str,
    file: FileArgument,
    version: Annotated[int, typer.Option(help="The current ladder version (0: none yet)")],
    as_json: JsonOption = False,
) -> None:
    """Save a new tier ladder version (compare-and-set on ``--version``)."""
    with failures_exit_1():
        ladder = read_json(file)
        with context.database().write() as session:
            saved = programmes.set_ladder(
                session, code=code, ladder=ladder, expected_version=version, now=utc_now()
            )
            data = programme_out(saved).model_dump(mode="json")
    emit(data, as_json, lambda: console.print(f"{code}: ladder v{data['ladder_version']}"))


@app.command("dry-run")
def dry_run_one(
    code: str,
    file: FileArgument,
    as_json: JsonOption = False,
) -> None:
    """Evaluate one event (a JSON file: type, occurred_at, data, optional customer_id and
    rules) and print the points and cost it would earn. Writes nothing."""
    with failures_exit_1():
        body = read_json(file)
        occurred = instant(str(body.get("occurred_at", "")), "/occurred_at")
        customer = body.get("customer_id")
        with context.database().read() as session:
            programme = programmes.get_programme(session, code=code)
            evaluation = dry_run.dry_run_event(
                session,
                programme=programme,
                event_type=str(body.get("type", "")),
                data=dict(body.get("data") or {}),
                occurred_at=occurred,
                customer_id=customer if isinstance(customer, int) else None,
                rules=body.get("rules"),
            )
        data = evaluation_out(evaluation).model_dump(mode="json")

    def human() -> None:
        print_table(
            f"{data['total_points']} points, cost {data['cost_minor']} {data['currency']} minor",
            ["rule", "points", "uncapped", "reason"],
            [
                (a["rule_id"], a["points"], a["uncapped_points"], a["reason"])
                for a in data["awards"]
            ],
        )

    emit(data, as_json, human)


@app.command("replay")
def replay(
    code: str,
    from_: Annotated[str, typer.Option("--from", help="Start (inclusive), ISO 8601")],
    to: Annotated[str, typer.Option("--to", help="End (exclusive), ISO 8601")],
    rules: Annotated[Path | None, typer.Option(help="A draft rule set to try")] = None,
    as_json: JsonOption = False,
) -> None:
    """Replay the orders recorded in a date range through the rules (or a draft) and report
    the points and cost per rule. Writes nothing."""
    with failures_exit_1():
        start, end = instant(from_, "/from"), instant(to, "/to")
        draft = None if rules is None else read_json(rules, "/rules")
        with context.database().read() as session:
            programme = programmes.get_programme(session, code=code)
            report = dry_run.replay_orders(
                session, programme=programme, start=start, end=end, rules=draft
            )
        data = replay_out(report).model_dump(mode="json")

    def human() -> None:
        print_table(
            f"{data['events']} orders, {data['members']} members: {data['total_points']} points, "
            f"cost {data['cost_minor']} {data['currency']} minor",
            ["rule", "awards", "points", "capped", "cost"],
            [
                (r["rule_id"], r["awards"], r["points"], r["capped"], r["cost_minor"])
                for r in data["rules"]
            ],
        )

    emit(data, as_json, human)


@app.command("maintain")
def maintain(as_json: JsonOption = False) -> None:
    """Run the periodic work now: activate ended holds, expire points, write expiry warnings,
    review tiers (the worker does this hourly)."""
    now = utc_now()
    with failures_exit_1(), context.database().write() as session:
        activated = ledger.activate_due(session, now=now)
        expired = ledger.expire_due(session, now=now)
        warned = jobs.warn_expiring(session, now=now)
        reviewed = jobs.review_tiers(session, now=now)
    data = {
        "activated": dataclasses.asdict(activated),
        "expired": dataclasses.asdict(expired),
        "warnings": dataclasses.asdict(warned),
        "tiers_reviewed": reviewed,
    }
    emit(
        data,
        as_json,
        lambda: console.print(
            f"activated {activated.points} pts, expired {expired.points} pts, "
            f"{warned.created} new warnings, {reviewed} tiers reviewed"
        ),
    )
