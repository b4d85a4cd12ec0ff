"""``foureyes groups``: a project's approver groups (add, list, members, remove), on the
database directly. A request's ``required_approvers`` or a policy's ``require:all_of(...)``
names them; docs/policies.md says how approvals from their members are counted."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from foureyes.cli._common import AsJson, DatabaseUrl, admin, fail, out, print_json, stamp, untrusted, when

app = typer.Typer(
    help="Manage approver groups: named sets of people a request may need approvals from.",
    no_args_is_help=True,
)

Name = Annotated[str, typer.Argument(metavar="NAME", help="The group's name, unique in the project.")]
Project = Annotated[str, typer.Option(help="The project whose group this is.")]


def _group_json(project: str, group: Any) -> dict[str, Any]:
    return {
        "project": project,
        "name": group.name,
        "members": list(group.members),
        "created_at": stamp(group.created_at),
    }


@app.command("add")
def groups_add(
    name: Name,
    project: Project = "default",
    member: Annotated[
        list[str] | None, typer.Option("--member", metavar="EMAIL", help="A person (repeat for several).")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Add a group of people (each must be a person already: `foureyes users add`)."""
    with admin(database_url) as (service, _):
        group = service.groups.add(project, name, member or [])
    out.print(
        f"Added group {group.name!r} to project {project!r} with {len(group.members)} people.",
        highlight=False,
    )


@app.command("list")
def groups_list(
    project: Annotated[str | None, typer.Option(help="Only this project's groups.")] = None,
    as_json: AsJson = False,
    database_url: DatabaseUrl = None,
) -> None:
    """List the groups and their members."""
    with admin(database_url) as (service, _):
        found = service.groups.list_groups(project)
    if as_json:
        print_json({"groups": [_group_json(slug, group) for slug, group in found]})
        return
    table = Table(title=f"Approver groups ({len(found)})")
    for column in ("project", "name", "members", "created"):
        table.add_column(column)
    for slug, group in found:
        table.add_row(
            untrusted(slug),
            untrusted(group.name),
            untrusted(", ".join(group.members)),
            when(group.created_at),
        )
    out.print(table)


@app.command("members")
def groups_members(
    name: Name,
    project: Project = "default",
    add: Annotated[list[str] | None, typer.Option("--add", metavar="EMAIL", help="A person to add.")] = None,
    remove: Annotated[
        list[str] | None, typer.Option("--remove", metavar="EMAIL", help="A person to take out.")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Add people to a group or take them out (both at once, too)."""
    if not add and not remove:
        raise fail("name someone to --add or --remove")
    with admin(database_url) as (service, _):
        group = service.groups.change_members(project, name, add=add or [], remove=remove or [])
    shown = ", ".join(group.members) or "nobody"
    out.print(untrusted(f"Group {group.name!r} of project {project!r}: {shown}."), highlight=False)


@app.command("remove")
def groups_remove(name: Name, project: Project = "default", database_url: DatabaseUrl = None) -> None:
    """Remove a group (refused while a policy names it or a pending request needs it)."""
    with admin(database_url) as (service, _):
        service.groups.remove(project, name)
    out.print(f"Removed group {name!r} of project {project!r}.", highlight=False)
