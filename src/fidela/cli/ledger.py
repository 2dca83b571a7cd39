"""``fidela ledger``: prove the points ledger is consistent."""

from __future__ import annotations

import dataclasses

import typer

from fidela.cli import context
from fidela.cli.output import JsonOption, console, emit, failures_exit_1, print_table
from fidela.ledger import service

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
