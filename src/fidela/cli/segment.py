"""``fidela segment``: define segments, preview them, refresh and read their members."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from fidela.cli import context
from fidela.cli.output import JsonOption, console, emit, failures_exit_1, print_table
from fidela.kernel.clock import utc_now
from fidela.segment import service
from fidela.segment.schemas import Membership, Segment

app = typer.Typer(
    help="Segments: rule-builder definitions and their members.", no_args_is_help=True
)

DefinitionOption = Annotated[
    str,
    typer.Option(
        "--definition",
        help="The JSON definition, inline or @FILE (e.g. @young-buyers.json).",
    ),
]


def _definition(raw: str) -> Any:
    """The parsed JSON of ``--definition``; a usage error (exit 2) when it is not JSON."""
    text = raw
    if raw.startswith("@"):
        path = Path(raw[1:])
        if not path.is_file():
            raise typer.BadParameter(f"{path} does not exist", param_hint="--definition")
        text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise typer.BadParameter(
            f"not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})",
            param_hint="--definition",
        ) from None


def _segment(row: Any) -> dict[str, Any]:
    return Segment.model_validate(row).model_dump(mode="json")


@app.command("create")
def create(
    key: Annotated[str, typer.Option(help="Stable key, e.g. young-email-buyers.")],
    name: Annotated[str, typer.Option(help="Display name.")],
    definition: DefinitionOption,
    description: Annotated[str, typer.Option(help="What the segment is for.")] = "",
    as_json: JsonOption = False,
) -> None:
    """Define a segment (members appear at the next refresh)."""
    document = _definition(definition)
    with failures_exit_1(), context.database().write() as session:
        data = _segment(
            service.create_segment(
                session,
                key=key,
                name=name,
                description=description,
                definition=document,
                now=utc_now(),
            )
        )
    emit(data, as_json, lambda: console.print(f"segment {data['id']} '{data['key']}' created"))


@app.command("list")
def list_command(as_json: JsonOption = False) -> None:
    """Every segment with its member count and last refresh."""
    with failures_exit_1(), context.database().read() as session:
        data: list[dict[str, Any]] = []
        after = 0
        while page := service.list_segments(session, after_id=after, limit=500):
            data.extend(_segment(row) for row in page)
            after = page[-1].id
    emit(
        data,
        as_json,
        lambda: print_table(
            "segments",
            ["id", "key", "name", "version", "members", "refreshed"],
            [
                (s["id"], s["key"], s["name"], s["version"], s["member_count"], s["refreshed_at"])
                for s in data
            ],
        ),
    )


@app.command("preview")
def preview(definition: DefinitionOption, as_json: JsonOption = False) -> None:
    """Count the active customers a definition selects now (nothing is stored)."""
    document = _definition(definition)
    now = utc_now()
    with failures_exit_1(), context.database().read() as session:
        count = service.preview_count(session, definition=document, now=now)
    data = {"count": count, "as_of": now.isoformat()}
    emit(data, as_json, lambda: console.print(f"{count} customer(s) match"))


@app.command("refresh")
def refresh(
    segment_id: Annotated[int | None, typer.Argument(help="One segment; default: all.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Recompute membership now, recording who entered and who left."""
    now = utc_now()
    with failures_exit_1(), context.database().write() as session:
        results = (
            [service.refresh_segment(session, segment_id=segment_id, now=now)]
            if segment_id is not None
            else service.refresh_all_segments(session, now=now)
        )
    data = [
        {"segment_id": r.segment_id, "members": r.members, "entered": r.entered, "exited": r.exited}
        for r in results
    ]
    emit(
        data,
        as_json,
        lambda: print_table(
            "refreshed",
            ["segment", "members", "entered", "exited"],
            [(r["segment_id"], r["members"], r["entered"], r["exited"]) for r in data],
        ),
    )


@app.command("members")
def members(
    segment_id: Annotated[int, typer.Argument()],
    history: Annotated[bool, typer.Option("--history", help="Every entry and exit.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    as_json: JsonOption = False,
) -> None:
    """Current members (or, with --history, every stay with entered/exited times)."""
    with failures_exit_1(), context.database().read() as session:
        rows = (
            service.membership_history(session, segment_id=segment_id, limit=limit)
            if history
            else service.list_members(session, segment_id=segment_id, limit=limit)
        )
        data = [Membership.model_validate(row).model_dump(mode="json") for row in rows]
    emit(
        data,
        as_json,
        lambda: print_table(
            f"segment {segment_id}",
            ["customer", "entered", "exited"],
            [(m["customer_id"], m["entered_at"], m["exited_at"]) for m in data],
        ),
    )
