"""``fidela ledger``: prove the points ledger is consistent."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Annotated

import typer

from fidela.api.routes.loyalty import liability_out
from fidela.cli import context
from fidela.cli.loyalty import instant
from fidela.cli.output import JsonOption, console, emit, failures_exit_1, print_table
from fidela.kernel.clock import utc_now
from fidela.ledger import service
from fidela.loyalty import programmes
from fidela.loyalty.liability import programme_liability

app = typer.Typer(help="Points ledger: verify cached balances.", no_args_is_help=True)


@app.command("verify")
def verify(as_json: JsonOption = False) -> None:
    """Check that every account's cached balance equals the sum of its entries (and what its
    lots hold). Exit 0 when all agree, 1 listing the accounts that do not."""
    with failures_exit_1(), context.database().read() as session:
        bad = service.verify(session)
    data = {"ok": not bad, "accounts": [dataclasses.asdict(item) for item in bad]}

    def human() -> None:
        if not bad:
            console.print("ledger verified: every cached balance equals the sum of its entries")
            return
        print_table(
            f"{len(bad)} account(s) whose cache disagrees",
            ["account", "customer", "programme", "cached", "journal", "lots"],
            [
                (
                    item.account_id,
                    item.customer_id,
                    item.programme,
                    f"{item.cached_available} / {item.cached_pending}",
                    f"{item.journal_available} / {item.journal_pending}",
                    f"{item.lots_available} / {item.lots_pending}",
                )
                for item in bad
            ],
        )

    emit(data, as_json, human)
    if bad:
        raise typer.Exit(1)


@app.command("liability")
def liability(
    programme: Annotated[str, typer.Argument(help="Programme code")],
    from_: Annotated[
        str | None, typer.Option("--from", help="Period start, ISO 8601 (default: a year ago)")
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="Period end, ISO 8601 (default: now)")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Outstanding points and their value, expected and realised breakage, and points issued,
    redeemed and expired per month."""
    now = utc_now()
    with failures_exit_1():
        end = instant(to, "/to") if to else now + timedelta(microseconds=1)
        start = instant(from_, "/from") if from_ else end - timedelta(days=365)
        with context.database().read() as session:
            found = programmes.get_programme(session, code=programme)
            report = programme_liability(session, programme=found, now=now, start=start, end=end)
        data = liability_out(report, found.currency).model_dump(mode="json")

    def human() -> None:
        console.print(
            f"{programme}: {data['outstanding_active']} active + {data['outstanding_pending']} "
            f"pending points outstanding, worth {data['value_minor']} {data['currency']} minor "
            f"({data['expected_value_minor']} after expected breakage "
            f"{data['expected_breakage']['rate'] or 'n/a'})"
        )
        print_table(
            "per month",
            ["month", "issued", "clawed back", "redeemed", "restored", "expired"],
            [
                (
                    p["period"],
                    p["issued"],
                    p["clawed_back"],
                    p["redeemed"],
                    p["restored"],
                    p["expired"],
                )
                for p in data["periods"]
            ],
        )

    emit(data, as_json, human)
