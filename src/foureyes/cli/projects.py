"""``foureyes projects``: where a project's requests go and how long they wait, on the database
directly. ``channels`` are the default channels of a request that names none; ``deadline`` its
default deadline; ``escalation`` the steps of its escalation chain; ``email-deciders`` who may
decide through an email link; ``slack-token`` the project's own Slack bot token (read from a
prompt or stdin, never from the command line, where other users and the shell history see it)."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from foureyes.cli._common import AsJson, DatabaseUrl, admin, fail, out, print_json, untrusted

if TYPE_CHECKING:
    from foureyes.storage import ProjectRecord

app = typer.Typer(
    help="Project settings: default channels, default deadline, escalation chain, email deciders, "
    "Slack token.",
    no_args_is_help=True,
)
channels_app = typer.Typer(help="Where a request that names no channel goes.", no_args_is_help=True)
deadline_app = typer.Typer(help="The deadline of a request that names none.", no_args_is_help=True)
app.add_typer(channels_app, name="channels")
escalation_app = typer.Typer(
    help="Escalation chain: after a delay without a decision, also notify these.", no_args_is_help=True
)
app.add_typer(deadline_app, name="deadline")
app.add_typer(escalation_app, name="escalation")

Project = Annotated[str, typer.Argument(help="The project's slug.")]


def _words(channels: list[dict[str, object]]) -> str:
    found = []
    for channel in channels:
        email, slack = channel.get("email"), channel.get("slack")
        if isinstance(email, dict):
            found.append(f"email to {email['address']}")
        elif isinstance(slack, dict):
            found.append(f"Slack to {slack['channel_or_user_id']}")
        else:
            found.append(json.dumps(channel))
    return ", ".join(found)


def _describe(project: ProjectRecord, has_slack_token: bool | None = None) -> None:
    from foureyes.server.domain.deadlines import duration_text

    out.print(f"Project {project.slug}:", highlight=False)
    if project.default_channels:
        out.print("  default channels:", highlight=False)
        for channel in project.default_channels:
            out.print("    ", untrusted(_words([channel])))
    else:
        out.print("  default channels: none (a request that names no channel is in the inbox only)")
    seconds = project.expires_after_seconds
    out.print(f"  default deadline: {'none' if seconds is None else duration_text(seconds)}", highlight=False)
    if project.escalation_steps:
        out.print("  escalation chain:", highlight=False)
        for number, step in enumerate(project.escalation_steps, 1):
            after = duration_text(int(step["after_seconds"]))
            out.print(f"    {number}. after {after}:", untrusted(_words(step["channels"])), highlight=False)
    else:
        out.print("  escalation chain: none")
    who = "only its reviewers and admins" if project.email_deciders_members_only else "any recipient"
    out.print(f"  email deciders: {who}", highlight=False)
    step_up = "on (deciding a request needs a passkey, in the inbox)" if project.step_up else "off"
    out.print(f"  step-up: {step_up}", highlight=False)
    if has_slack_token is not None:
        token = "the project's own" if has_slack_token else "the server's (FOUREYES_SLACK_BOT_TOKEN)"
        out.print(f"  Slack bot token: {token}", highlight=False)


def project_json(project: ProjectRecord, has_slack_token: bool) -> dict[str, Any]:
    return {
        "slug": project.slug,
        "name": project.name,
        "default_channels": list(project.default_channels),
        "deadline_seconds": project.expires_after_seconds,
        "escalation_steps": list(project.escalation_steps),
        "email_deciders_members_only": project.email_deciders_members_only,
        "step_up": project.step_up,
        "has_slack_token": has_slack_token,
    }


@app.command("list")
def projects_list(as_json: AsJson = False, database_url: DatabaseUrl = None) -> None:
    """List the projects and their settings."""
    with admin(database_url) as (service, _):
        found = service.projects.list_projects()
        tokens = service.projects.with_slack_token()
    if as_json:
        print_json({"projects": [project_json(p, p.id in tokens) for p in found]})
        return
    if not found:
        out.print("No projects.")
    for project in found:
        _describe(project, project.id in tokens)


@app.command("show")
def projects_show(project: Project, as_json: AsJson = False, database_url: DatabaseUrl = None) -> None:
    """Show a project's routing and deadline settings."""
    with admin(database_url) as (service, _):
        found = service.projects.get(project)
        has_token = found.id in service.projects.with_slack_token()
    if as_json:
        print_json(project_json(found, has_token))
    else:
        _describe(found, has_token)


@channels_app.command("set")
def channels_set(
    project: Project,
    email: Annotated[list[str] | None, typer.Option("--email", help="An address (repeat for more).")] = None,
    slack: Annotated[
        str | None, typer.Option("--slack", help="A Slack channel (C...) or user (U...) id to post to.")
    ] = None,
    json_channels: Annotated[
        str | None,
        typer.Option(
            "--json", help='A JSON list of ContactChannel objects, e.g. [{"email": {"address": "a@x"}}].'
        ),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Set the default channels (replacing the old ones); the project is created if new."""
    from foureyes.server.domain.projects import email_channels

    channels = email_channels(email or []) + _json_channels(json_channels)
    if slack:
        channels.insert(len(email or []), {"slack": {"channel_or_user_id": slack.strip()}})
    if not channels:
        raise fail("name at least one --email or --slack (or --json); `clear` removes them")
    with admin(database_url) as (service, _):
        _describe(service.projects.set_default_channels(project, channels))


def _json_channels(text: str | None) -> list[dict[str, object]]:
    if text is None:
        return []
    try:
        given = json.loads(text)
    except json.JSONDecodeError as exc:
        raise fail(f"--json is not JSON: {exc}") from None
    if not isinstance(given, list) or not all(isinstance(c, dict) for c in given):
        raise fail("--json must be a list of objects")
    return given


@channels_app.command("show")
def channels_show(project: Project, database_url: DatabaseUrl = None) -> None:
    """Show the default channels (and the other settings)."""
    projects_show(project, database_url=database_url)


@channels_app.command("clear")
def channels_clear(project: Project, database_url: DatabaseUrl = None) -> None:
    """Remove the default channels: a request that names none is in the inbox only."""
    with admin(database_url) as (service, _):
        _describe(service.projects.set_default_channels(project, []))


@deadline_app.command("set")
def deadline_set(
    project: Project,
    duration: Annotated[str, typer.Argument(help="e.g. 90s, 30m, 2h, 7d, 1h30m.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Give the project's requests that name no deadline this one."""
    from foureyes.server.domain.deadlines import parse_duration

    try:
        seconds = parse_duration(duration)
    except ValueError as exc:
        raise fail(str(exc)) from None
    with admin(database_url) as (service, _):
        _describe(service.projects.set_deadline(project, seconds))


@deadline_app.command("clear")
def deadline_clear(project: Project, database_url: DatabaseUrl = None) -> None:
    """Requests that name no deadline wait indefinitely again."""
    with admin(database_url) as (service, _):
        _describe(service.projects.set_deadline(project, None))


@escalation_app.command("add")
def escalation_add(
    project: Project,
    after: Annotated[str, typer.Option("--after", help="Delay without a decision: 90s, 10m, 1h, 1h30m.")],
    email: Annotated[list[str] | None, typer.Option("--email", help="An address (repeat for more).")] = None,
    slack: Annotated[
        str | None,
        typer.Option(
            "--slack",
            help="A Slack channel (C...) or user (U...) id: a reply in the thread of the request's "
            "message when it is that channel, else a new message there.",
        ),
    ] = None,
    json_channels: Annotated[
        str | None, typer.Option("--json", help="A JSON list of ContactChannel objects.")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Add a step: after --after without a decision, also notify these channels."""
    from foureyes.server.domain.deadlines import parse_duration
    from foureyes.server.domain.projects import email_channels

    try:
        seconds = parse_duration(after)
    except ValueError as exc:
        raise fail(str(exc)) from None
    channels = email_channels(email or []) + _json_channels(json_channels)
    if slack:
        channels.insert(len(email or []), {"slack": {"channel_or_user_id": slack.strip()}})
    if not channels:
        raise fail("name at least one --email or --slack (or --json)")
    with admin(database_url) as (service, _):
        _describe(service.projects.add_escalation_step(project, seconds, channels))


@escalation_app.command("list")
def escalation_list(project: Project, database_url: DatabaseUrl = None) -> None:
    """Show the escalation chain (and the other settings)."""
    projects_show(project, database_url=database_url)


@escalation_app.command("clear")
def escalation_clear(project: Project, database_url: DatabaseUrl = None) -> None:
    """Remove every step: pending requests get no further escalations."""
    with admin(database_url) as (service, _):
        _describe(service.projects.clear_escalation_steps(project))


@app.command("email-deciders")
def email_deciders(
    project: Project,
    members_only: Annotated[
        bool,
        typer.Option(
            "--members-only/--anyone",
            help="Only the project's reviewers and admins may decide by email, or any recipient.",
        ),
    ],
    database_url: DatabaseUrl = None,
) -> None:
    """Choose who may decide through an email link."""
    with admin(database_url) as (service, _):
        _describe(service.projects.set_email_deciders_members_only(project, members_only))


class OnOff(StrEnum):
    on = "on"
    off = "off"


@app.command("step-up")
def step_up(
    project: Project,
    state: Annotated[OnOff, typer.Argument(help="on or off.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Require step-up for the project's new requests: each is decided only in the inbox, with
    a fresh passkey assertion of the person deciding (requests already waiting keep their own)."""
    with admin(database_url) as (service, _):
        _describe(service.projects.set_step_up(project, state == OnOff.on))


@app.command("slack-token")
def slack_token(
    project: Project,
    clear: Annotated[
        bool, typer.Option("--clear", help="Forget the project's token: the server's is used again.")
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Set the project's own Slack bot token, read from a prompt (or the first line of stdin),
    kept sealed; it posts the project's messages unless a request brings its own."""
    token: str | None = None
    if not clear:
        if sys.stdin.isatty():
            token = typer.prompt("Slack bot token (xoxb-...)", hide_input=True)
        else:
            token = sys.stdin.readline()
        token = (token or "").strip()
        if not token:
            raise fail("no token given (type it at the prompt, or pipe it in); --clear removes it")
    with admin(database_url) as (service, _):
        found = service.projects.set_slack_token(project, token)
        _describe(found, token is not None)
