"""``foureyes webhooks``: endpoints, secrets and the deliveries of the outbox, on the database
directly. Secrets are shown once, as the last line of stdout."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from foureyes.cli._common import AsJson, DatabaseUrl, admin, err, out, print_json, stamp, untrusted, when
from foureyes.cli.deliveries import attempt_json, deliveries_table, delivery_json

app = typer.Typer(help="Manage webhook endpoints and their deliveries.", no_args_is_help=True)


@app.command("add")
def webhooks_add(
    url: Annotated[str, typer.Argument(help="The http(s) URL to POST events to.")],
    project: Annotated[str, typer.Option(help="Project whose events are sent (created if new).")] = "default",
    events: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated event types \\[default: all of them: function_call.created, ...]."
        ),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Add a webhook endpoint. Its signing secret is shown once, as the last line of stdout."""
    wanted = [e.strip() for e in events.split(",") if e.strip()] if events else None
    with admin(database_url) as (service, settings):
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


@app.command("list")
def webhooks_list(
    project: Annotated[str | None, typer.Option(help="Only this project's endpoints.")] = None,
    as_json: AsJson = False,
    database_url: DatabaseUrl = None,
) -> None:
    """List webhook endpoints."""
    with admin(database_url) as (service, _):
        endpoints = service.webhooks.list_webhooks(project)
    if as_json:
        print_json(
            {
                "endpoints": [
                    {
                        "id": e.id,
                        "project": e.project_slug,
                        "url": e.url,
                        "events": list(e.events),
                        "enabled": e.enabled,
                        "previous_secret_expires_at": stamp(e.previous_secret_expires_at),
                        "created_at": stamp(e.created_at),
                    }
                    for e in endpoints
                ]
            }
        )
        return
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
            when(e.previous_secret_expires_at),
        )
    out.print(table)


def _set_enabled(endpoint_id: int, enabled: bool, database_url: str | None) -> None:
    with admin(database_url) as (service, _):
        service.webhooks.set_webhook_enabled(endpoint_id, enabled)
    out.print(f"Webhook endpoint {endpoint_id} {'enabled' if enabled else 'disabled'}.")


@app.command("disable")
def webhooks_disable(endpoint_id: int, database_url: DatabaseUrl = None) -> None:
    """Stop sending to an endpoint; its queued deliveries wait until it is enabled."""
    _set_enabled(endpoint_id, False, database_url)


@app.command("enable")
def webhooks_enable(endpoint_id: int, database_url: DatabaseUrl = None) -> None:
    """Send to an endpoint again."""
    _set_enabled(endpoint_id, True, database_url)


@app.command("rotate-secret")
def webhooks_rotate_secret(
    endpoint_id: int,
    overlap: Annotated[
        float | None,
        typer.Option(
            help="Seconds the old secret keeps signing too "
            "\\[default: FOUREYES_WEBHOOK_ROTATION_OVERLAP_SECONDS, 86400].",
            show_default=False,
        ),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Give an endpoint a new secret, shown once as the last line of stdout."""
    with admin(database_url) as (service, settings):
        seconds = settings.webhook_rotation_overlap_seconds if overlap is None else overlap
        secret, until = service.webhooks.rotate_webhook_secret(endpoint_id, seconds)
    err.print(
        f"New secret for webhook endpoint {endpoint_id}; the old one also signs until {when(until)} UTC. "
        "It is shown only once:",
        highlight=False,
    )
    print(secret)


@app.command("deliveries")
def webhooks_deliveries(
    failed: Annotated[bool, typer.Option("--failed", help="Only deliveries that gave up.")] = False,
    endpoint: Annotated[int | None, typer.Option(help="Only this endpoint's deliveries.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    as_json: AsJson = False,
    database_url: DatabaseUrl = None,
) -> None:
    """List webhook deliveries, newest first, with their last error."""
    with admin(database_url) as (service, _):
        found = service.webhooks.list_deliveries(failed_only=failed, endpoint_id=endpoint, limit=limit)
    if as_json:
        print_json({"deliveries": [delivery_json(d) for d in found]})
        return
    if not found:
        out.print("No failed deliveries." if failed else "No deliveries.")
        return
    out.print(deliveries_table("Webhook deliveries", found))


@app.command("attempts")
def webhooks_attempts(delivery_id: int, as_json: AsJson = False, database_url: DatabaseUrl = None) -> None:
    """Every attempt of one delivery: when, HTTP status, latency and error."""
    with admin(database_url) as (service, _):
        attempts = service.webhooks.list_attempts(delivery_id)
    if as_json:
        print_json({"delivery_id": delivery_id, "attempts": [attempt_json(a) for a in attempts]})
        return
    if not attempts:
        out.print(f"Delivery {delivery_id} has not been attempted yet.")
        return
    table = Table(title=f"Attempts of delivery {delivery_id}")
    for column in ("at", "status", "latency ms", "error"):
        table.add_column(column, overflow="fold")
    for a in attempts:
        status = "" if a.status_code is None else str(a.status_code)
        table.add_row(when(a.attempted_at), status, str(a.latency_ms), untrusted(a.error or ""))
    out.print(table)


@app.command("redeliver")
def webhooks_redeliver(delivery_id: int, database_url: DatabaseUrl = None) -> None:
    """Send a delivery again, with the same webhook-id and body."""
    with admin(database_url) as (service, _):
        delivery = service.webhooks.redeliver(delivery_id)
    out.print(f"Delivery {delivery.id} ({delivery.message_id}) queued again.")


@app.command("test")
def webhooks_test(endpoint_id: int, database_url: DatabaseUrl = None) -> None:
    """Queue a test event (is_test: true) for one endpoint."""
    with admin(database_url) as (service, _):
        delivery = service.webhooks.send_test_webhook(endpoint_id)
    out.print(f"Test delivery {delivery.id} ({delivery.event_type}, {delivery.message_id}) queued.")
