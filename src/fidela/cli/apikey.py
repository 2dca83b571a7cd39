"""``fidela apikey``: issue, list and revoke API keys."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import typer

from fidela.access import service
from fidela.access.models import ApiKey
from fidela.access.schemas import ApiKey as ApiKeySchema
from fidela.cli import context
from fidela.cli.output import JsonOption, console, emit, failures_exit_1, print_table
from fidela.kernel.clock import utc_now

app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)


def _as_dict(key: ApiKey) -> dict[str, Any]:
    return ApiKeySchema.model_validate(key).model_dump(mode="json")


@app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="What the key is for, e.g. pos-store-12.")],
    scope: Annotated[
        list[str], typer.Option("--scope", help="A scope to grant (repeat for several).")
    ],
    expires_in_days: Annotated[
        int | None, typer.Option(min=1, help="Expire the key after this many days.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Issue a key. The secret is printed once; only its hash is stored."""
    now = utc_now()
    expires_at = now + timedelta(days=expires_in_days) if expires_in_days else None
    with failures_exit_1(), context.database().write() as session:
        issued = service.create_api_key(
            session, name=name, scopes=scope, now=now, expires_at=expires_at
        )
        data = {**_as_dict(issued.key), "token": issued.token}
    emit(
        data,
        as_json,
        lambda: console.print(
            f"API key [bold]{data['name']}[/bold] (id {data['id']}, scopes "
            f"{', '.join(scope)})\n{issued.token}\nStore it now: it is not shown again."
        ),
    )


@app.command("list")
def list_keys(
    include_revoked: Annotated[bool, typer.Option(help="Show revoked keys too.")] = False,
    as_json: JsonOption = False,
) -> None:
    """List API keys (never their secrets)."""
    with context.database().read() as session:
        rows = [
            _as_dict(key) for key in service.list_api_keys(session, include_revoked=include_revoked)
        ]
    emit(
        rows,
        as_json,
        lambda: print_table(
            "API keys",
            ["id", "name", "prefix", "scopes", "created", "expires", "revoked", "last used"],
            [
                [
                    r["id"],
                    r["name"],
                    r["prefix"],
                    " ".join(r["scopes"]),
                    r["created_at"],
                    r["expires_at"],
                    r["revoked_at"],
                    r["last_used_at"],
                ]
                for r in rows
            ],
        ),
    )


@app.command("revoke")
def revoke(
    key_id: Annotated[int, typer.Argument(help="The key's id.")], as_json: JsonOption = False
) -> None:
    """Revoke a key at once."""
    with failures_exit_1(), context.database().write() as session:
        data = _as_dict(service.revoke_api_key(session, key_id=key_id, now=utc_now()))
    emit(data, as_json, lambda: console.print(f"revoked API key {key_id}"))
