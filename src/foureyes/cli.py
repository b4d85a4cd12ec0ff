"""The ``foureyes`` command: run the server, manage keys, and decide from the terminal.

Server-side commands (``serve``, ``keys``, ``webhooks``) work on the database directly. Reviewer
commands (``pending``, ``approve``, ``reject``, ``answer``, ``watch``) talk to a running server
over HTTP with a ``respond``-scoped key, through the same API and service path as every other
channel.
"""

from __future__ import annotations

import json
import logging
import re
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

import httpx
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from foureyes._exceptions import APIError, TransportError, api_error_for

if TYPE_CHECKING:
    from foureyes.server.service import Service
    from foureyes.server.settings import Settings

app = typer.Typer(
    help="foureyes: human approval for AI agents' function calls.",
    no_args_is_help=True,
    add_completion=False,
)
keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
webhooks_app = typer.Typer(help="Manage webhook endpoints and their deliveries.", no_args_is_help=True)
app.add_typer(webhooks_app, name="webhooks")
users_app = typer.Typer(
    help="Manage the people who decide, and their roles per project.", no_args_is_help=True
)
app.add_typer(users_app, name="users")

out = Console()
err = Console(stderr=True)

DEFAULT_API_BASE = "http://127.0.0.1:7444/humanlayer/v1"
SCOPES = ("agent", "respond")

ApiBase = Annotated[
    str,
    typer.Option(
        "--api-base",
        envvar=["FOUREYES_API_BASE", "HUMANLAYER_API_BASE"],
        help="Base URL of the server's HumanLayer-compatible API.",
        show_default=True,
    ),
]
ApiKey = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar=["FOUREYES_REVIEWER_KEY", "FOUREYES_API_KEY"],
        help="A key with the 'respond' scope (env FOUREYES_REVIEWER_KEY, then FOUREYES_API_KEY).",
        show_default=False,
    ),
]

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def untrusted(value: str) -> Text:
    """Agent-written text for the terminal: shown literally, control characters made visible."""
    return Text(_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", value))


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(1)


# ---------------------------------------------------------------- server-side commands


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on [default: 127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [default: 7444].")] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            envvar="FOUREYES_DATABASE_URL",
            help="SQLAlchemy URL of the database [default: sqlite:///.foureyes/foureyes.db].",
            show_default=False,
        ),
    ] = None,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            envvar="FOUREYES_FORWARDED_ALLOW_IPS",
            help="Comma-separated addresses of reverse proxies whose X-Forwarded-For is believed "
            "('*' for any) [default: none: the client address is the connection's peer].",
            show_default=False,
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="Log level of the server.")] = "info",
) -> None:
    """Run the foureyes server."""
    import uvicorn

    from foureyes.server.app import create_app, uvicorn_config
    from foureyes.server.settings import Settings

    # The server's own loggers (one INFO line per state change) are shown here, at the edge:
    # library code never installs handlers.
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    overrides: dict[str, Any] = {
        k: v
        for k, v in {
            "host": host,
            "port": port,
            "database_url": database_url,
            "forwarded_allow_ips": forwarded_allow_ips,
        }.items()
        if v is not None
    }
    settings = Settings.from_env(**overrides)
    err.print(
        f"foureyes serving on [bold]http://{settings.host}:{settings.port}[/] "
        f"(API base http://{settings.host}:{settings.port}/humanlayer/v1), "
        f"database {_redact(settings.database_url)}",
        highlight=False,
    )
    app = create_app(settings)

    class Server(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            # uvicorn would close WebSockets with 1012; say "going away" (1001) first, with a reason.
            await app.state.service.subscribers.close_all()
            await super().shutdown(sockets)

    Server(uvicorn_config(app, settings, log_level=log_level)).run()


def _redact(url: str) -> str:
    """A database URL fit to print: any password is hidden."""
    return re.sub(r"(//[^:/@]+:)[^@]*@", r"\1***@", url)


def _parse_scopes(value: str) -> list[str]:
    scopes = [s.strip() for s in value.split(",") if s.strip()]
    unknown = sorted(set(scopes) - set(SCOPES))
    if not scopes or unknown:
        raise typer.BadParameter(f"scopes must be a comma-separated subset of {', '.join(SCOPES)}")
    return scopes


@keys_app.command("create")
def keys_create(
    project: Annotated[str, typer.Option(help="Project the key belongs to (created if new).")] = "default",
    scopes: Annotated[
        str, typer.Option(help="Comma-separated scopes: agent (create/get/escalate), respond (decide).")
    ] = "agent",
    name: Annotated[str | None, typer.Option(help="A label to recognise the key by.")] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            envvar="FOUREYES_DATABASE_URL", help="SQLAlchemy URL of the database.", show_default=False
        ),
    ] = None,
) -> None:
    """Create an API key. It is shown once, as the last line of stdout, and stored hashed."""
    from foureyes.server.service import open_service
    from foureyes.server.settings import Settings

    scope_list = _parse_scopes(scopes)
    overrides = {"database_url": database_url} if database_url else {}
    service = open_service(Settings.from_env(**overrides))
    try:
        created = service.keys.create_api_key(project=project, scopes=scope_list, name=name)
    finally:
        service.close()
    err.print(
        f"Created key {created.prefix}… for project [bold]{created.project}[/] "
        f"with scopes {', '.join(created.scopes)}. It is shown only once:",
        highlight=False,
    )
    print(created.plaintext)


# ---------------------------------------------------------------- webhooks (server-side)

DatabaseUrl = Annotated[
    str | None,
    typer.Option(envvar="FOUREYES_DATABASE_URL", help="SQLAlchemy URL of the database.", show_default=False),
]


@contextmanager
def _admin(database_url: str | None) -> Iterator[tuple[Service, Settings]]:
    """The service on the configured database; its errors become one red line and exit 1."""
    from foureyes.server.domain.errors import DomainError
    from foureyes.server.service import open_service
    from foureyes.server.settings import Settings

    overrides = {"database_url": database_url} if database_url else {}
    settings = Settings.from_env(**overrides)
    service = open_service(settings)
    try:
        yield service, settings
    except DomainError as exc:
        raise _fail(exc.message) from None
    finally:
        service.close()


def _when(value: Any) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


@webhooks_app.command("add")
def webhooks_add(
    url: Annotated[str, typer.Argument(help="The http(s) URL to POST events to.")],
    project: Annotated[str, typer.Option(help="Project whose events are sent (created if new).")] = "default",
    events: Annotated[
        str | None,
        typer.Option(help="Comma-separated event types [default: all four: function_call.created, ...]."),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Add a webhook endpoint. Its signing secret is shown once, as the last line of stdout."""
    wanted = [e.strip() for e in events.split(",") if e.strip()] if events else None
    with _admin(database_url) as (service, settings):
        endpoint, secret = service.webhooks.add_webhook(
            project, url, wanted, allow_private=settings.webhook_allow_private
        )
    err.print(
        Text.assemble(
            f"Added webhook endpoint {endpoint.id} for project ",
            (endpoint.project_slug, "bold"),
            ": ",
            untrusted(endpoint.url),
            f" ({', '.join(endpoint.events)}). Its signing secret is shown only once:",
        )
    )
    print(secret)


@webhooks_app.command("list")
def webhooks_list(
    project: Annotated[str | None, typer.Option(help="Only this project's endpoints.")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List webhook endpoints."""
    with _admin(database_url) as (service, _):
        endpoints = service.webhooks.list_webhooks(project)
    if not endpoints:
        out.print("No webhook endpoints.")
        return
    table = Table(title="Webhook endpoints")
    for column in ("id", "project", "url", "events", "enabled", "old secret signs until"):
        table.add_column(column, overflow="fold")
    for e in endpoints:
        table.add_row(
            str(e.id),
            e.project_slug,
            untrusted(e.url),
            "\n".join(e.events),
            "yes" if e.enabled else "no",
            _when(e.previous_secret_expires_at),
        )
    out.print(table)


def _set_enabled(endpoint_id: int, enabled: bool, database_url: str | None) -> None:
    with _admin(database_url) as (service, _):
        service.webhooks.set_webhook_enabled(endpoint_id, enabled)
    out.print(f"Webhook endpoint {endpoint_id} {'enabled' if enabled else 'disabled'}.")


@webhooks_app.command("disable")
def webhooks_disable(endpoint_id: int, database_url: DatabaseUrl = None) -> None:
    """Stop sending to an endpoint; its queued deliveries wait until it is enabled."""
    _set_enabled(endpoint_id, False, database_url)


@webhooks_app.command("enable")
def webhooks_enable(endpoint_id: int, database_url: DatabaseUrl = None) -> None:
    """Send to an endpoint again."""
    _set_enabled(endpoint_id, True, database_url)


@webhooks_app.command("rotate-secret")
def webhooks_rotate_secret(
    endpoint_id: int,
    overlap: Annotated[
        float | None,
        typer.Option(
            help="Seconds the old secret keeps signing too "
            "[default: FOUREYES_WEBHOOK_ROTATION_OVERLAP_SECONDS, 86400].",
            show_default=False,
        ),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Give an endpoint a new secret, shown once as the last line of stdout."""
    with _admin(database_url) as (service, settings):
        seconds = settings.webhook_rotation_overlap_seconds if overlap is None else overlap
        secret, until = service.webhooks.rotate_webhook_secret(endpoint_id, seconds)
    err.print(
        f"New secret for webhook endpoint {endpoint_id}; the old one also signs until {_when(until)} UTC. "
        "It is shown only once:",
        highlight=False,
    )
    print(secret)


@webhooks_app.command("deliveries")
def webhooks_deliveries(
    failed: Annotated[bool, typer.Option("--failed", help="Only deliveries that gave up.")] = False,
    endpoint: Annotated[int | None, typer.Option(help="Only this endpoint's deliveries.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    database_url: DatabaseUrl = None,
) -> None:
    """List webhook deliveries, newest first, with their last error."""
    with _admin(database_url) as (service, _):
        found = service.webhooks.list_deliveries(failed_only=failed, endpoint_id=endpoint, limit=limit)
    if not found:
        out.print("No failed deliveries." if failed else "No deliveries.")
        return
    table = Table(title="Webhook deliveries")
    for column in ("id", "endpoint", "event", "call id", "status", "attempts", "next attempt", "last error"):
        table.add_column(column, overflow="fold")
    for d in found:
        table.add_row(
            str(d.id),
            d.target,
            d.event_type,
            untrusted(d.call_id or "(test)"),
            d.status,
            str(d.attempts),
            _when(d.next_attempt_at) if d.status == "pending" else "",
            untrusted(d.last_error or ""),
        )
    out.print(table)


@webhooks_app.command("attempts")
def webhooks_attempts(delivery_id: int, database_url: DatabaseUrl = None) -> None:
    """Every attempt of one delivery: when, HTTP status, latency and error."""
    with _admin(database_url) as (service, _):
        attempts = service.webhooks.list_attempts(delivery_id)
    if not attempts:
        out.print(f"Delivery {delivery_id} has not been attempted yet.")
        return
    table = Table(title=f"Attempts of delivery {delivery_id}")
    for column in ("at", "status", "latency ms", "error"):
        table.add_column(column, overflow="fold")
    for a in attempts:
        status = "" if a.status_code is None else str(a.status_code)
        table.add_row(_when(a.attempted_at), status, str(a.latency_ms), untrusted(a.error or ""))
    out.print(table)


@webhooks_app.command("redeliver")
def webhooks_redeliver(delivery_id: int, database_url: DatabaseUrl = None) -> None:
    """Send a delivery again, with the same webhook-id and body."""
    with _admin(database_url) as (service, _):
        delivery = service.webhooks.redeliver(delivery_id)
    out.print(f"Delivery {delivery.id} ({delivery.message_id}) queued again.")


@webhooks_app.command("test")
def webhooks_test(endpoint_id: int, database_url: DatabaseUrl = None) -> None:
    """Queue a test event (is_test: true) for one endpoint."""
    with _admin(database_url) as (service, _):
        delivery = service.webhooks.send_test_webhook(endpoint_id)
    out.print(f"Test delivery {delivery.id} ({delivery.event_type}, {delivery.message_id}) queued.")


@keys_app.command("list")
def keys_list(
    project: Annotated[str | None, typer.Option(help="Only this project's keys.")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List API keys (never the keys themselves: only their prefixes are stored in clear)."""
    with _admin(database_url) as (service, _):
        keys = service.keys.list_api_keys(project)
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
            _when(key.created_at),
            _when(key.revoked_at),
        )
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[int, typer.Argument(metavar="KEY_ID", help="The id shown by `foureyes keys list`.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke an API key: requests made with it are refused from now on."""
    with _admin(database_url) as (service, _):
        revoked = service.keys.revoke_api_key(key_id)
    if not revoked:
        raise _fail(f"no active key has the id {key_id}")
    out.print(f"Revoked key {key_id}.")


# ---------------------------------------------------------------- people (server-side)

Role = Annotated[str, typer.Option(help="admin (decides, invites), reviewer (decides) or viewer (sees).")]
Project = Annotated[str, typer.Option(help="The project (created if new).")]


@users_app.command("add")
def users_add(
    email: Annotated[str, typer.Argument(metavar="EMAIL")],
    project: Project = "default",
    role: Role = "reviewer",
    name: Annotated[str | None, typer.Option(help="Display name (for a new user).")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Give EMAIL a role in a project, creating the user if new. A person without a password
    gets a one-time link to set one, printed as the last line."""
    with _admin(database_url) as (service, _):
        user, link = service.people.add_user(email, project, role, name)
    out.print(f"{user.email} is {role} in project {project}.", highlight=False)
    if link:
        err.print("They choose their password at this one-time link (send it to them privately):")
        print(link)


@users_app.command("invite")
def users_invite(
    email: Annotated[str, typer.Argument(metavar="EMAIL")],
    project: Project = "default",
    role: Role = "reviewer",
    database_url: DatabaseUrl = None,
) -> None:
    """Print a one-time, expiring invitation link for EMAIL. Someone who already has an account
    gets the role at once, without a link."""
    with _admin(database_url) as (service, _):
        link = service.people.invite(email, project, role)
    if link is None:
        out.print(f"{email} already has an account and is now {role} in {project}.", highlight=False)
        return
    err.print(f"Invitation for {email} as {role} in {project}; it works once:", highlight=False)
    print(link)


@users_app.command("reset")
def users_reset(
    email: Annotated[str, typer.Argument(metavar="EMAIL")],
    database_url: DatabaseUrl = None,
) -> None:
    """Void EMAIL's password and sign them out everywhere; print a one-time link to choose a new
    one (for a forgotten password, or a leaked one)."""
    with _admin(database_url) as (service, _):
        link = service.people.reset_password(email)
    err.print(f"Password of {email} voided; they choose a new one at this one-time link:", highlight=False)
    print(link)


@users_app.command("list")
def users_list(database_url: DatabaseUrl = None) -> None:
    """List users and their roles."""
    with _admin(database_url) as (service, _):
        rows = [(u, service.people.memberships_of(u.id)) for u in service.people.store.list_users()]
    table = Table(title=f"Users ({len(rows)})")
    for column in ("id", "email", "name", "roles", "password set"):
        table.add_column(column)
    for user, roles in rows:
        table.add_row(
            str(user.id),
            untrusted(user.email),
            untrusted(user.display_name),
            ", ".join(f"{m.project_slug}:{m.role}" for m in roles),
            "yes" if user.password_hash else "no",
        )
    out.print(table)


@users_app.command("remove")
def users_remove(
    email: Annotated[str, typer.Argument(metavar="EMAIL")],
    project: Annotated[str, typer.Option(help="The project to remove them from.")] = "default",
    database_url: DatabaseUrl = None,
) -> None:
    """Take away EMAIL's role in a project: they no longer see or decide its items."""
    with _admin(database_url) as (service, _):
        removed = service.people.remove_user(email, project)
    if not removed:
        raise _fail(f"{email} has no role in project {project}")
    out.print(f"{email} removed from project {project}.", highlight=False)


@users_app.command("token")
def users_token(
    email: Annotated[str, typer.Argument(metavar="EMAIL")],
    project: Annotated[str, typer.Option(help="The project the token decides in.")] = "default",
    name: Annotated[str | None, typer.Option(help="A label to recognise the token by.")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a personal token (scope respond) for EMAIL: what it decides is attributed to them.
    Shown once, as the last line."""
    from foureyes.server.domain.errors import ForbiddenError

    with _admin(database_url) as (service, _):
        user = service.people.find_user(email)
        try:
            created = service.keys.create_personal_token(user.id, project, name)
        except ForbiddenError as exc:
            raise _fail(exc.message) from None
    err.print(f"Personal token {created.prefix}… for {user.email} in {created.project}:", highlight=False)
    print(created.plaintext)


# ---------------------------------------------------------------- reviewer commands


class _Reviewer:
    """A small HTTP client for the reviewer commands, speaking the same API as the SDK."""

    def __init__(self, api_base: str, api_key: str | None) -> None:
        if not api_key:
            raise _fail(
                "no API key: pass --api-key or set FOUREYES_REVIEWER_KEY to a key with the 'respond' "
                "scope (create one with: foureyes keys create --scopes respond)"
            )
        self.api_base = api_base.rstrip("/")
        self.http = httpx.Client(headers={"Authorization": f"Bearer {api_key}"}, timeout=30)

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        url = f"{self.api_base}{path}"
        try:
            response = self.http.request(method, url, json=body)
        except httpx.HTTPError as exc:
            raise TransportError(f"cannot reach the foureyes server at {self.api_base}: {exc}") from exc
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code >= 400:
            error = data.get("error", {}) if isinstance(data, dict) else {}
            raise api_error_for(
                response.status_code,
                str(error.get("code", "http_error")),
                str(error.get("message", response.text[:200])),
                data,
            )
        if not isinstance(data, dict):
            raise TransportError(f"{url} answered with something that is not a JSON object")
        return data


def _run(fn: Any, not_found_hint: str = "") -> None:
    try:
        fn()
    except APIError as exc:
        hint = f" ({not_found_hint})" if exc.status_code == 404 and not_found_hint else ""
        raise _fail(f"{exc.message}{hint}") from None
    except TransportError as exc:
        raise _fail(str(exc)) from None


def describe_call(spec: dict[str, Any]) -> Text:
    """A function call as a reviewer reads it: name, every argument as JSON, the reject options."""
    body = untrusted(f"{spec['fn']}({json.dumps(spec['kwargs'], indent=2, ensure_ascii=False)})")
    return _with_options(body, "reject options", spec.get("reject_options"))


def describe_question(spec: dict[str, Any]) -> Text:
    body = untrusted(f"[{spec['subject']}] {spec['msg']}" if spec.get("subject") else spec["msg"])
    return _with_options(body, "options", spec.get("response_options"))


def _with_options(body: Text, label: str, options: list[dict[str, Any]] | None) -> Text:
    if options:
        body.append_text(Text(f"\n{label}: ", style="dim"))
        body.append_text(untrusted(", ".join(o["name"] for o in options)))
    return body


def _table(
    title: str, what: str, items: list[dict[str, Any]], describe: Callable[[dict[str, Any]], Text]
) -> Table:
    table = Table(title=f"{title} ({len(items)})", show_lines=True)
    for column in ("call id", what, "run", "requested"):
        table.add_column(column, overflow="fold")
    for item in items:
        table.add_row(
            untrusted(item["call_id"]), describe(item["spec"]), untrusted(item["run_id"]), _age(item)
        )
    return table


@app.command()
def pending(api_base: ApiBase = DEFAULT_API_BASE, api_key: ApiKey = None) -> None:
    """List the approvals and questions waiting for a human."""
    reviewer = _Reviewer(api_base, api_key)

    def go() -> None:
        calls = reviewer.request("GET", "/agent/function_calls/pending")["items"]
        contacts = reviewer.request("GET", "/agent/human_contacts/pending")["items"]
        if not calls and not contacts:
            out.print("Nothing is waiting for a decision.")
            return
        if calls:
            out.print(_table("Approvals waiting", "function and arguments", calls, describe_call))
        if contacts:
            out.print(_table("Questions waiting", "question", contacts, describe_question))

    _run(go)


def _age(item: dict[str, Any]) -> str:
    """How long ago the item was requested, e.g. '42s ago', '3m ago', '2h ago'."""
    stamp = (item.get("status") or {}).get("requested_at")
    if not stamp:
        return ""
    seconds = max(0, int((datetime.now(UTC) - datetime.fromisoformat(stamp)).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def _path_id(call_id: str) -> str:
    return quote(call_id, safe="")


@app.command()
def approve(
    call_id: Annotated[str, typer.Argument(metavar="CALL_ID", help="The call id of the function call.")],
    comment: Annotated[str | None, typer.Option(help="A note for the agent.")] = None,
    api_base: ApiBase = DEFAULT_API_BASE,
    api_key: ApiKey = None,
) -> None:
    """Approve a function call: the agent runs it."""
    reviewer = _Reviewer(api_base, api_key)

    def go() -> None:
        body = {"approved": True, "comment": comment}
        reviewer.request("POST", f"/agent/function_calls/{_path_id(call_id)}/respond", body)
        out.print(Text.assemble("Approved ", untrusted(call_id), "."))

    _run(go, "to answer a question, use: foureyes answer ID TEXT")


@app.command()
def reject(
    call_id: Annotated[str, typer.Argument(metavar="CALL_ID", help="The call id of the function call.")],
    comment: Annotated[str, typer.Option(help="Why: this is handed back to the agent.")],
    option: Annotated[
        str | None, typer.Option(help="The name of one of the request's reject options.")
    ] = None,
    api_base: ApiBase = DEFAULT_API_BASE,
    api_key: ApiKey = None,
) -> None:
    """Reject a function call with a comment for the agent."""
    if not comment.strip():
        raise _fail("a rejection needs a comment: the agent is told why")
    reviewer = _Reviewer(api_base, api_key)

    def go() -> None:
        body = {"approved": False, "comment": comment, "reject_option_name": option}
        reviewer.request("POST", f"/agent/function_calls/{_path_id(call_id)}/respond", body)
        out.print(Text.assemble("Rejected ", untrusted(call_id), "."))

    _run(go, "to answer a question, use: foureyes answer ID TEXT")


@app.command()
def answer(
    call_id: Annotated[str, typer.Argument(metavar="CALL_ID", help="The call id of the question.")],
    text: Annotated[
        str | None, typer.Argument(metavar="TEXT", help="The answer (optional when --option is given).")
    ] = None,
    option: Annotated[str | None, typer.Option(help="The name of one of the question's options.")] = None,
    api_base: ApiBase = DEFAULT_API_BASE,
    api_key: ApiKey = None,
) -> None:
    """Answer a question an agent asked."""
    if text is None and option is None:
        raise _fail("give the answer text, or --option NAME, or both")
    reviewer = _Reviewer(api_base, api_key)

    def go() -> None:
        body = {"response": text, "response_option_name": option}
        reviewer.request("POST", f"/agent/human_contacts/{_path_id(call_id)}/respond", body)
        out.print(Text.assemble("Answered ", untrusted(call_id), "."))

    _run(go, "approvals are decided with: foureyes approve ID / foureyes reject ID --comment TEXT")


@app.command()
def watch(api_base: ApiBase = DEFAULT_API_BASE, api_key: ApiKey = None) -> None:
    """A live inbox in the terminal: see requests as they arrive and decide them by keyboard."""
    from foureyes import watch as inbox

    reviewer = _Reviewer(api_base, api_key)
    _run(lambda: inbox.run(reviewer.request, untrusted, out))


def main() -> None:
    app()


# ---------------------------------------------------------------- Claude Code and MCP
# `foureyes mcp`, `foureyes mcp proxy`, `foureyes hook claude-code`, `foureyes claude ...`: their
# own module; the mcp package itself is imported only when one of them runs.
from foureyes.integrations.commands import claude_app, hook_app, mcp_app  # noqa: E402

app.add_typer(mcp_app, name="mcp")
app.add_typer(hook_app, name="hook")
app.add_typer(claude_app, name="claude")
