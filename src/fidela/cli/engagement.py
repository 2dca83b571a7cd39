"""``fidela engagement``: brand kit, templates, preview, test send, counts, suppression."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from fidela.cli import context
from fidela.cli.output import JsonOption, console, emit, failures_exit_1, print_table
from fidela.engagement import preview, templates, tracking
from fidela.engagement.config import get_engagement_settings
from fidela.engagement.rules import Channel, SuppressionReason
from fidela.engagement.schemas import BrandKit, BrandKitIn, Template
from fidela.kernel.clock import utc_now

app = typer.Typer(
    help="Engagement: brand kit, templates, preview, test send, counts, suppression.",
    no_args_is_help=True,
)
ChannelOption = Annotated[Channel, typer.Option(help="Channel.")]


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {path}: {exc.strerror}") from None


@app.command("brand-kit")
def brand_kit(
    file: Annotated[
        Path | None,
        typer.Option(help="A JSON brand kit to install (name, logo_url, colours, fonts, ...)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Show the brand kit, or replace it with ``--file``."""
    with failures_exit_1(), context.database().write() as session:
        if file is not None:
            try:
                body = BrandKitIn.model_validate(json.loads(_read(file)))
            except (ValueError, ValidationError) as exc:
                raise typer.BadParameter(f"{file} is not a valid brand kit: {exc}") from None
            templates.save_brand_kit(
                session,
                values=templates.BrandKitInput(**body.model_dump(exclude={"expected_version"})),
                now=utc_now(),
            )
        row = templates.find_brand_kit(session)
        data = None if row is None else BrandKit.model_validate(row).model_dump(mode="json")
    if data is None:
        console.print("no brand kit yet: install one with --file brand.json")
        raise typer.Exit(1)
    emit(data, as_json, lambda: print_table("brand kit", ["field", "value"], list(data.items())))


@app.command("template-set")
def template_set(
    code: Annotated[str, typer.Option(help="Template code, e.g. welcome.")],
    channel: ChannelOption,
    language: Annotated[str, typer.Option(help="fr or en.")],
    body: Annotated[Path, typer.Option(help="File with the body (MJML for email).")],
    subject: Annotated[str, typer.Option(help="Subject (email) or title (push).")] = "",
    text_body: Annotated[
        Path | None, typer.Option(help="File with the plain-text part (email).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create or update a template (checked by the sandbox first)."""
    with failures_exit_1(), context.database().write() as session:
        row = templates.save_template(
            session,
            code=code,
            channel=channel,
            language=language,
            subject=subject,
            body=_read(body),
            text_body=_read(text_body) if text_body else "",
            now=utc_now(),
        )
        data = Template.model_validate(row).model_dump(mode="json")
    emit(data, as_json, lambda: console.print(f"template {code} v{data['version']} saved"))


@app.command("templates")
def template_list(as_json: JsonOption = False) -> None:
    """List templates."""
    with context.database().read() as session:
        rows = [
            Template.model_validate(t).model_dump(mode="json")
            for t in templates.list_templates(session)
        ]
    emit(
        rows,
        as_json,
        lambda: print_table(
            "templates",
            ["id", "code", "channel", "language", "version"],
            [[r["id"], r["code"], r["channel"], r["language"], r["version"]] for r in rows],
        ),
    )


@app.command("preview")
def preview_command(
    template: Annotated[str, typer.Option(help="Template code.")],
    channel: ChannelOption,
    customer: Annotated[int | None, typer.Option(help="Personalise with this customer.")] = None,
    language: Annotated[str | None, typer.Option(help="Force a language.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Render a template for a customer (or sample values)."""
    settings = get_engagement_settings()
    links = tracking.Links(
        settings.tracking_base_url or context.settings().public_url, settings.signing_secret
    )
    with failures_exit_1(), context.database().read() as session:
        rendered, chosen = preview.preview(
            session,
            channel=channel,
            now=utc_now(),
            settings=settings,
            links=links,
            template=template,
            customer_id=customer,
            language=language,
        )
    data: dict[str, Any] = {
        "subject": rendered.subject,
        "text": rendered.text,
        "html": rendered.html,
        "language": chosen,
    }
    emit(
        data, as_json, lambda: console.print(f"[bold]{rendered.subject}[/bold]\n\n{rendered.text}")
    )


@app.command("test-send")
def send_test_message(
    template: Annotated[str, typer.Option(help="Template code.")],
    channel: ChannelOption,
    to: Annotated[str | None, typer.Option(help="Address (default: the customer's).")] = None,
    customer: Annotated[int | None, typer.Option(help="Personalise with this customer.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Queue one real message (the worker sends it)."""
    if to is None and customer is None:
        raise typer.BadParameter("give --to, --customer or both")
    with failures_exit_1(), context.database().write() as session:
        message = preview.send_test(
            session,
            channel=channel,
            address=to,
            now=utc_now(),
            template=template,
            customer_id=customer,
        )
        data = {"id": message.id, "key": message.key, "state": message.state}
    emit(data, as_json, lambda: console.print(f"message {data['id']} queued"))


@app.command("stats")
def stats(
    campaign: Annotated[int | None, typer.Option(help="Only this campaign.")] = None,
    journey: Annotated[int | None, typer.Option(help="Only this journey.")] = None,
    group_by: Annotated[str, typer.Option(help="Comma-separated grouping.")] = "channel",
    as_json: JsonOption = False,
) -> None:
    """Sent, delivered, opened, clicked, unsubscribed, converted... per group."""
    window = timedelta(days=get_engagement_settings().conversion_window_days)
    with failures_exit_1(), context.database().read() as session:
        rows = tracking.message_stats(
            session,
            now=utc_now(),
            conversion_window=window,
            campaign_id=campaign,
            journey_id=journey,
            group_by=[g.strip() for g in group_by.split(",") if g.strip()],
        )
    data = [{"group": r.group, "counts": r.counts} for r in rows]
    columns = ["sent", "delivered", "opened", "clicked", "unsubscribed", "converted"]
    emit(
        data,
        as_json,
        lambda: print_table(
            "engagement",
            ["group", "left", *columns[1:]],
            [
                [
                    json.dumps(r["group"]),
                    r["counts"]["left"],
                    *(r["counts"][c] for c in columns[1:]),
                ]
                for r in data
            ],
        ),
    )


@app.command("suppress")
def suppress(
    channel: ChannelOption,
    address: Annotated[str, typer.Option(help="Address to never send to again.")],
) -> None:
    """Add an address to the suppression list."""
    with failures_exit_1(), context.database().write() as session:
        added = tracking.suppress(
            session,
            channel=channel,
            address=address,
            reason=SuppressionReason.MANUAL,
            now=utc_now(),
            source="cli",
        )
    console.print(f"{address} {'suppressed' if added else 'was already suppressed'}")
