"""``fidela campaign``: create, schedule, plan and measure campaigns."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from fidela.api.routes.campaigns import spec_of
from fidela.cli import context
from fidela.cli.output import JsonOption, console, emit, failures_exit_1, print_table
from fidela.engagement.campaigns import service
from fidela.engagement.campaigns.rules import InvalidCampaign
from fidela.engagement.campaigns.schemas import Campaign, CampaignCreate
from fidela.kernel.clock import utc_now
from fidela.kernel.errors import FieldProblem
from fidela.platform.validation import problems_from, summary

app = typer.Typer(
    help="Campaigns: one-off or scheduled sends with A/B/n and holdouts.", no_args_is_help=True
)
FileArgument = Annotated[Path, typer.Argument(help="A JSON file")]


def read_json(path: Path) -> Any:
    """The JSON document in ``path``; a missing or malformed file is a domain error (one
    line, exit 1), not a traceback."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InvalidCampaign(
            f"{path}: {error.strerror}", [FieldProblem("/file", "cannot be read")]
        ) from None
    except json.JSONDecodeError as error:
        raise InvalidCampaign(
            f"{path}: not JSON ({error.msg} line {error.lineno})",
            [FieldProblem("/file", "not JSON")],
        ) from None


def _out(campaign: Any) -> dict[str, Any]:
    return Campaign.model_validate(campaign).model_dump(mode="json")


@app.command("create")
def create(file: FileArgument, as_json: JsonOption = False) -> None:
    """Create a draft campaign from a JSON file (the body of ``POST /v1/campaigns``)."""
    with failures_exit_1():
        try:
            payload = CampaignCreate.model_validate(read_json(file))
        except ValidationError as exc:
            problems = problems_from(exc)
            raise InvalidCampaign(summary(problems), problems) from None
        with context.database().write() as session:
            data = _out(service.create_campaign(session, spec=spec_of(payload), now=utc_now()))
    emit(data, as_json, lambda: console.print(f"campaign {data['code']} created (draft)"))


@app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """The latest campaigns."""
    with context.database().read() as session:
        rows = [_out(c) for c in service.list_campaigns(session)]
    emit(
        rows,
        as_json,
        lambda: print_table(
            "campaigns",
            ["code", "name", "status", "send at", "planned at", "winner"],
            [
                (
                    r["code"],
                    r["name"],
                    r["status"],
                    r["send_at"] or r["local_date"],
                    r["planned_at"],
                    r["winner"],
                )
                for r in rows
            ],
        ),
    )


@app.command("show")
def show(code: str, as_json: JsonOption = False) -> None:
    """One campaign with its planning figures."""
    with failures_exit_1(), context.database().read() as session:
        data = _out(service.get_campaign(session, code))
    emit(data, as_json, lambda: console.print_json(json.dumps(data)))


@app.command("schedule")
def schedule(code: str, as_json: JsonOption = False) -> None:
    """Let the worker plan the campaign when its send time comes."""
    with failures_exit_1(), context.database().write() as session:
        data = _out(service.schedule_campaign(session, code=code, now=utc_now()))
    emit(data, as_json, lambda: console.print(f"campaign {code} scheduled"))


@app.command("cancel")
def cancel(code: str, as_json: JsonOption = False) -> None:
    """Cancel a draft or scheduled campaign."""
    with failures_exit_1(), context.database().write() as session:
        data = _out(service.cancel_campaign(session, code=code, now=utc_now()))
    emit(data, as_json, lambda: console.print(f"campaign {code} cancelled"))


@app.command("plan")
def plan(code: str, as_json: JsonOption = False) -> None:
    """Queue the campaign's messages now (each waits for its recipient's send time)."""
    with failures_exit_1(), context.database().write() as session:
        data = service.plan_campaign(session, code=code, now=utc_now()).as_dict()
    emit(
        data,
        as_json,
        lambda: console.print(
            f"campaign {code}: {data['audience']} in the audience; {data['outcomes']}"
        ),
    )


@app.command("results")
def results(
    code: str,
    declare_winner: Annotated[bool, typer.Option(help="Record a clear winner")] = False,
    as_json: JsonOption = False,
) -> None:
    """Conversion and revenue per arm against the control, with the statistics."""
    with failures_exit_1(), context.database().write() as session:
        found = service.campaign_results(session, code=code, declare_winner=declare_winner)
    data = dataclasses.asdict(found)

    def human() -> None:
        print_table(
            f"{code}: control {found.control}"
            + (" — SAMPLE RATIO MISMATCH" if found.ratio.mismatch else ""),
            ["arm", "recipients", "conversion", "revenue/recipient", "lift", "p", "P(beats)"],
            [
                (
                    arm.name,
                    arm.recipients,
                    f"{arm.conversion_rate:.2%}",
                    f"{arm.revenue_per_recipient:.0f}",
                    f"{arm.conversion.absolute_lift:+.2%}" if arm.conversion else "",
                    f"{arm.conversion.p_value:.4f}" if arm.conversion else "",
                    f"{arm.chance_to_beat_control:.1%}"
                    if arm.chance_to_beat_control is not None
                    else "",
                )
                for arm in found.arms
            ],
        )
        if found.winner:
            console.print(f"winner: {found.winner}")

    emit(data, as_json, human)
