"""``foureyes keys``: create, list and revoke API keys, on the database directly."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from foureyes.cli._common import (
    AsJson,
    DatabaseUrl,
    admin,
    err,
    fail,
    out,
    print_json,
    stamp,
    untrusted,
    when,
)

SCOPES = ("agent", "respond")

app = typer.Typer(help="Manage API keys.", no_args_is_help=True)


def _parse_scopes(value: str) -> list[str]:
    scopes = [s.strip() for s in value.split(",") if s.strip()]
    unknown = sorted(set(scopes) - set(SCOPES))
    if not scopes or unknown:
        raise typer.BadParameter(f"scopes must be a comma-separated subset of {', '.join(SCOPES)}")
    return scopes


@app.command("create")
def keys_create(
    project: Annotated[str, typer.Option(help="Project the key belongs to (created if new).")] = "default",
    scopes: Annotated[
        str, typer.Option(help="Comma-separated scopes: agent (create/get/escalate), respond (decide).")
    ] = "agent",
    name: Annotated[str | None, typer.Option(help="A label to recognise the key by.")] = None,
    owner: Annotated[
        str | None,
        typer.Option(help="The person (address) the key acts for: they may not approve what it creates."),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API key. It is shown once, as the last line of stdout, and stored hashed."""
    scope_list = _parse_scopes(scopes)
    with admin(database_url) as (service, _):
        created = service.keys.create_api_key(project=project, scopes=scope_list, name=name, owner=owner)
    err.print(
        f"Created key {created.prefix}… for project [bold]{created.project}[/] "
        f"with scopes {', '.join(created.scopes)}. It is shown only once:",
        highlight=False,
    )
    print(created.plaintext)


@app.command("list")
def keys_list(
    project: Annotated[str | None, typer.Option(help="Only this project's keys.")] = None,
    as_json: AsJson = False,
    database_url: DatabaseUrl = None,
) -> None:
    """List API keys (never the keys themselves: only their prefixes are stored in clear)."""
    with admin(database_url) as (service, _):
        keys = service.keys.list_api_keys(project)
    if as_json:
        print_json(
            {
                "keys": [
                    {
                        "id": key.id,
                        "project": key.project_slug,
                        "prefix": key.prefix,
                        "scopes": list(key.scopes),
                        "name": key.name,
                        "personal": key.user_id is not None,
                        "created_at": stamp(key.created_at),
                        "revoked_at": stamp(key.revoked_at),
                    }
                    for key in keys
                ]
            }
        )
        return
    table = Table(title=f"API keys ({len(keys)})")
    for column in ("id", "project", "prefix", "scopes", "name", "created", "revoked"):
        table.add_column(column)
    for key in keys:
        table.add_row(
            str(key.id),
            key.project_slug,
            f"{key.prefix}…",
            ",".join(key.scopes),
            untrusted(key.name or ""),
            when(key.created_at),
            when(key.revoked_at),
        )
    out.print(table)


@app.command("revoke")
def keys_revoke(
    key_id: Annotated[int, typer.Argument(metavar="KEY_ID", help="The id shown by `foureyes keys list`.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke an API key: requests made with it are refused from now on."""
    with admin(database_url) as (service, _):
        revoked = service.keys.revoke_api_key(key_id)
    if not revoked:
        raise fail(f"no active key has the id {key_id}")
    out.print(f"Revoked key {key_id}.")
