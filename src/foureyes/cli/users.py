"""``foureyes users``: the people who decide and their roles per project, on the database
directly. One-time links, Slack link codes and personal tokens are printed as the last line of
stdout."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from foureyes.cli._common import AsJson, DatabaseUrl, admin, err, fail, out, print_json, stamp, untrusted

app = typer.Typer(help="Manage the people who decide, and their roles per project.", no_args_is_help=True)

Email = Annotated[str, typer.Argument(metavar="EMAIL")]
Role = Annotated[str, typer.Option(help="admin (decides, invites), reviewer (decides) or viewer (sees).")]
Project = Annotated[str, typer.Option(help="The project (created if new).")]


@app.command("add")
def users_add(
    email: Email,
    project: Project = "default",
    role: Role = "reviewer",
    name: Annotated[str | None, typer.Option(help="Display name (for a new user).")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Give EMAIL a role in a project, creating the user if new. A person without a password
    gets a one-time link to set one, printed as the last line."""
    with admin(database_url) as (service, _):
        user, link = service.people.add_user(email, project, role, name)
    out.print(f"{user.email} is {role} in project {project}.", highlight=False)
    if link:
        err.print("They choose their password at this one-time link (send it to them privately):")
        print(link)


@app.command("invite")
def users_invite(
    email: Email,
    project: Project = "default",
    role: Role = "reviewer",
    database_url: DatabaseUrl = None,
) -> None:
    """Print a one-time, expiring invitation link for EMAIL. Someone who already has an account
    gets the role at once, without a link."""
    with admin(database_url) as (service, _):
        link = service.people.invite(email, project, role)
    if link is None:
        out.print(f"{email} already has an account and is now {role} in {project}.", highlight=False)
        return
    err.print(f"Invitation for {email} as {role} in {project}; it works once:", highlight=False)
    print(link)


@app.command("reset")
def users_reset(email: Email, database_url: DatabaseUrl = None) -> None:
    """Void EMAIL's password and sign them out everywhere; print a one-time link to choose a new
    one (for a forgotten password, or a leaked one)."""
    with admin(database_url) as (service, _):
        link = service.people.reset_password(email)
    err.print(f"Password of {email} voided; they choose a new one at this one-time link:", highlight=False)
    print(link)


@app.command("list")
def users_list(as_json: AsJson = False, database_url: DatabaseUrl = None) -> None:
    """List users and their roles."""
    with admin(database_url) as (service, _):
        rows = [(u, service.people.memberships_of(u.id)) for u in service.people.list_users()]
        slack = service.slack_links.slack_ids_by_person()
    if as_json:
        print_json(
            {
                "users": [
                    {
                        "id": user.id,
                        "email": user.email,
                        "name": user.display_name,
                        "roles": [{"project": m.project_slug, "role": m.role} for m in roles],
                        "password_set": user.password_hash is not None,
                        "slack_user_ids": slack.get(user.id, []),
                        "created_at": stamp(user.created_at),
                    }
                    for user, roles in rows
                ]
            }
        )
        return
    table = Table(title=f"Users ({len(rows)})")
    for column in ("id", "email", "name", "roles", "password set", "slack"):
        table.add_column(column)
    for user, roles in rows:
        table.add_row(
            str(user.id),
            untrusted(user.email),
            untrusted(user.display_name),
            ", ".join(f"{m.project_slug}:{m.role}" for m in roles),
            "yes" if user.password_hash else "no",
            ", ".join(slack.get(user.id, [])),
        )
    out.print(table)


@app.command("remove")
def users_remove(
    email: Email,
    project: Annotated[str, typer.Option(help="The project to remove them from.")] = "default",
    database_url: DatabaseUrl = None,
) -> None:
    """Take away EMAIL's role in a project: they no longer see or decide its items."""
    with admin(database_url) as (service, _):
        removed = service.people.remove_user(email, project)
    if not removed:
        raise fail(f"{email} has no role in project {project}")
    out.print(f"{email} removed from project {project}.", highlight=False)


@app.command("token")
def users_token(
    email: Email,
    project: Annotated[str, typer.Option(help="The project the token decides in.")] = "default",
    name: Annotated[str | None, typer.Option(help="A label to recognise the token by.")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a personal token (scope respond) for EMAIL: what it decides is attributed to them.
    Shown once, as the last line."""
    from foureyes.server.domain.errors import ForbiddenError

    with admin(database_url) as (service, _):
        user = service.people.find_user(email)
        try:
            created = service.keys.create_personal_token(user.id, project, name)
        except ForbiddenError as exc:
            raise fail(exc.message) from None
    err.print(f"Personal token {created.prefix}… for {user.email} in {created.project}:", highlight=False)
    print(created.plaintext)


@app.command("slack-link-code")
def users_slack_link_code(email: Email, database_url: DatabaseUrl = None) -> None:
    """Print a one-time code (valid 10 minutes) that EMAIL types in Slack as `/foureyes link CODE`
    to decide from Slack as themselves. A new code voids the one before."""
    with admin(database_url) as (service, _):
        code = service.slack_links.new_code(email)
    err.print(
        f"One-time code for {email}; in Slack they type /foureyes link CODE within 10 minutes:",
        highlight=False,
    )
    print(code)


@app.command("slack-unlink")
def users_slack_unlink(email: Email, database_url: DatabaseUrl = None) -> None:
    """Forget the Slack accounts linked to EMAIL: they no longer decide from Slack by the link."""
    with admin(database_url) as (service, _):
        removed = service.slack_links.unlink(email)
    out.print(f"{email}: {removed} Slack account(s) unlinked.", highlight=False)
