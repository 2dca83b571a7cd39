"""``fidela customer``: look up a profile; GDPR export, erasure, restriction; merge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from fidela.cli import context
from fidela.cli.output import JsonOption, console, emit, failures_exit_1
from fidela.customer import gdpr, merge, service
from fidela.customer.schemas import Customer, GdprResult, MergeResult
from fidela.kernel.clock import utc_now
from fidela.wiring import build_wiring

app = typer.Typer(
    help="Customers: show, merge, GDPR export / erase / restrict.", no_args_is_help=True
)
ACTOR = "cli"


@app.command("show")
def show(customer_id: Annotated[int, typer.Argument()], as_json: JsonOption = False) -> None:
    """Show a profile (a merged id shows its survivor)."""
    with failures_exit_1(), context.database().read() as session:
        data = Customer.model_validate(
            service.get_customer(session, customer_id=customer_id)
        ).model_dump(mode="json")
    emit(data, as_json, lambda: console.print_json(json.dumps(data)))


@app.command("export")
def export(
    customer_id: Annotated[int, typer.Argument()],
    out: Annotated[Path | None, typer.Option(help="Write the JSON here instead of stdout.")] = None,
) -> None:
    """GDPR export: everything held about the person, as JSON."""
    with failures_exit_1(), context.database().write() as session:
        data = gdpr.export_customer(session, customer_id=customer_id, actor=ACTOR, now=utc_now())
    text = json.dumps(data, indent=2, ensure_ascii=False)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
        console.print(f"wrote {sum(len(rows) for rows in data['tables'].values())} rows to {out}")


@app.command("erase")
def erase(
    customer_id: Annotated[int, typer.Argument()],
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: erasure cannot be undone.")] = False,
    as_json: JsonOption = False,
) -> None:
    """GDPR erasure: pseudonymise the person's data everywhere; amounts are kept."""
    if not yes:
        raise typer.BadParameter("erasure cannot be undone; add --yes to confirm")
    policy = build_wiring(context.settings()).policy
    with failures_exit_1(), context.database().write() as session:
        request = gdpr.erase_customer(
            session, customer_id=customer_id, actor=ACTOR, now=utc_now(), policy=policy
        )
        data = GdprResult.model_validate(request).model_dump(mode="json")
    emit(data, as_json, lambda: console.print(f"customer {customer_id} erased: {data['details']}"))


@app.command("restrict")
def restrict(
    customer_id: Annotated[int, typer.Argument()],
    undo: Annotated[bool, typer.Option("--undo", help="Lift the restriction.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Leave the person out of scoring and personalisation (or lift it with --undo)."""
    with failures_exit_1(), context.database().write() as session:
        request = gdpr.restrict_profiling(
            session, customer_id=customer_id, restricted=not undo, actor=ACTOR, now=utc_now()
        )
        data = GdprResult.model_validate(request).model_dump(mode="json")
    emit(data, as_json, lambda: console.print(f"customer {customer_id}: {data['kind']}"))


@app.command("merge")
def merge_command(
    survivor_id: Annotated[int, typer.Argument(help="The profile that stays.")],
    merged_id: Annotated[int, typer.Argument(help="The profile merged into it.")],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit trail).")] = "",
    as_json: JsonOption = False,
) -> None:
    """Merge two profiles of one person (moves all history; idempotent)."""
    handlers = build_wiring(context.settings()).merge_handlers
    with failures_exit_1(), context.database().write() as session:
        record = merge.merge_customers(
            session,
            survivor_id=survivor_id,
            merged_id=merged_id,
            actor=ACTOR,
            reason=reason,
            now=utc_now(),
            handlers=handlers,
        )
        data = MergeResult.model_validate(record).model_dump(mode="json")
    emit(
        data,
        as_json,
        lambda: console.print(f"merged {merged_id} into {survivor_id}: moved {data['moved']}"),
    )
