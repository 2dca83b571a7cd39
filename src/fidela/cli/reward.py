"""``fidela reward``: the catalogue, stock, voucher look-ups and charity totals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from fidela.cli import context
from fidela.cli.output import JsonOption, console, emit, failures_exit_1, print_table
from fidela.kernel.clock import utc_now
from fidela.reward import charity as charity_service
from fidela.reward import service
from fidela.reward.models import Reward

app = typer.Typer(help="Rewards: catalogue, stock, vouchers, charities.", no_args_is_help=True)


def _reward(row: Reward) -> dict[str, Any]:
    return {
        "code": row.code,
        "programme": row.programme,
        "name": row.name,
        "kind": row.kind,
        "cost_points": row.cost_points,
        "stock": row.stock,
        "active": row.active,
        "version": row.version,
    }


def _table(title: str, rows: list[dict[str, Any]]) -> None:
    print_table(
        title,
        ["code", "programme", "kind", "cost", "stock", "active", "version"],
        [
            (
                r["code"],
                r["programme"],
                r["kind"],
                r["cost_points"],
                "unlimited" if r["stock"] is None else r["stock"],
                r["active"],
                r["version"],
            )
            for r in rows
        ],
    )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise typer.BadParameter(f"{path}: {exc}") from None
    if not isinstance(data, dict):
        raise typer.BadParameter(f"{path}: expected one JSON object")
    return data


@app.command("add")
def add(
    path: Annotated[Path, typer.Argument(help="The reward's JSON form")],
    programme: Annotated[str, typer.Option(help="The points programme it is paid from")] = "main",
    inactive: Annotated[bool, typer.Option("--inactive", help="Add it withdrawn")] = False,
    as_json: JsonOption = False,
) -> None:
    """Add a catalogue entry from a JSON file; every invalid field is listed (exit 1)."""
    data = _read_json(path)
    with failures_exit_1(), context.database().write() as session:
        row = service.create_reward(
            session, programme=programme, data=data, active=not inactive, now=utc_now()
        )
        shown = _reward(row)
    emit(shown, as_json, lambda: _table(f"reward {shown['code']} added", [shown]))


@app.command("list")
def list_command(
    programme: Annotated[str | None, typer.Option(help="Only this programme")] = None,
    active_only: Annotated[bool, typer.Option("--active-only")] = False,
    as_json: JsonOption = False,
) -> None:
    """The catalogue with its live stock."""
    with failures_exit_1(), context.database().read() as session:
        rows = [
            _reward(row)
            for row in service.list_rewards(session, programme=programme, active_only=active_only)
        ]
    emit(rows, as_json, lambda: _table("rewards", rows))


@app.command("stock")
def stock(
    code: Annotated[str, typer.Argument(help="The reward's code")],
    delta: Annotated[int, typer.Argument(help="Items or seats to add; negative to withdraw")],
    as_json: JsonOption = False,
) -> None:
    """Add or withdraw stock (never below 0)."""
    with failures_exit_1(), context.database().write() as session:
        shown = _reward(service.adjust_stock(session, code=code, delta=delta, now=utc_now()))
    emit(shown, as_json, lambda: _table(f"reward {code}", [shown]))


@app.command("voucher")
def voucher(
    code: Annotated[str, typer.Argument(help="The code as printed or typed")],
    as_json: JsonOption = False,
) -> None:
    """Look a voucher code up: its reward, member and status."""
    now = utc_now()
    with failures_exit_1(), context.database().read() as session:
        found, reward_code = service.find_voucher(session, code=code)
        data = {
            "code": found.code,
            "reward_code": reward_code,
            "customer_id": found.customer_id,
            "status": service.voucher_status(found, now),
            "issued_at": found.issued_at,
            "expires_at": found.expires_at,
            "used_at": found.used_at,
        }
    emit(
        data,
        as_json,
        lambda: console.print(
            f"{data['code']}: {data['status']} ({data['reward_code']}, "
            f"customer {data['customer_id']}, expires {data['expires_at'] or 'never'})"
        ),
    )


@app.command("charities")
def charities(as_json: JsonOption = False) -> None:
    """Charities with their donations and pledges, summed."""
    with failures_exit_1(), context.database().read() as session:
        rows = [
            {
                "code": t.charity.code,
                "currency": t.charity.currency,
                "donations": t.donations,
                "points_donated": t.points,
                "value_donated_minor": t.value_minor,
                "pledged_minor": t.pledged_minor,
            }
            for t in charity_service.charities(session)
        ]
    emit(
        rows,
        as_json,
        lambda: print_table(
            "charities",
            ["code", "currency", "donations", "points", "value (minor)", "pledged (minor)"],
            [
                (
                    r["code"],
                    r["currency"],
                    r["donations"],
                    r["points_donated"],
                    r["value_donated_minor"],
                    r["pledged_minor"],
                )
                for r in rows
            ],
        ),
    )
