"""``fidela outbox``: inspect the outbox and retry dead letters."""

from __future__ import annotations

from typing import Annotated

import typer

from fidela.cli import context
from fidela.cli.output import JsonOption, console, emit, failures_exit_1, print_table
from fidela.kernel.clock import utc_now
from fidela.platform.outbox import service as outbox
from fidela.platform.outbox.rules import MessageStatus
from fidela.platform.schemas import OutboxMessage

app = typer.Typer(help="The outbox: counts, messages, dead-letter retry.", no_args_is_help=True)


@app.command("counts")
def counts(as_json: JsonOption = False) -> None:
    """Messages per status."""
    with context.database().read() as session:
        data = outbox.outbox_counts(session)
    emit(data, as_json, lambda: print_table("outbox", ["status", "messages"], list(data.items())))


@app.command("list")
def list_messages(
    status: Annotated[MessageStatus | None, typer.Option(help="Only this status.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: JsonOption = False,
) -> None:
    """List messages, oldest first."""
    with context.database().read() as session:
        rows = [
            OutboxMessage.model_validate(row).model_dump(mode="json")
            for row in outbox.list_outbox(session, status=status, limit=limit)
        ]
    emit(
        rows,
        as_json,
        lambda: print_table(
            "outbox messages",
            ["id", "topic", "status", "attempts", "available at", "last error"],
            [
                [
                    r["id"],
                    r["topic"],
                    r["status"],
                    r["attempts"],
                    r["available_at"],
                    r["last_error"],
                ]
                for r in rows
            ],
        ),
    )


@app.command("retry")
def retry(message_id: Annotated[int, typer.Argument(help="A dead message's id.")]) -> None:
    """Send a dead-lettered message again."""
    with failures_exit_1(), context.database().write() as session:
        outbox.retry_dead_message(session, message_id=message_id, now=utc_now())
    console.print(f"message {message_id} is pending again")
