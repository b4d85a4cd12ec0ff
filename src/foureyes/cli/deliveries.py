"""``foureyes deliveries``: every channel's deliveries (webhooks and email) and their attempts,
on the database directly."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from foureyes.cli._common import AsJson, DatabaseUrl, admin, out, print_json, stamp, untrusted, when

if TYPE_CHECKING:
    from foureyes.storage.records import AttemptRecord, DeliveryRecord

app = typer.Typer(help="Deliveries of every channel (email, webhooks) and their attempts.")


@app.callback(invoke_without_command=True)
def deliveries_list(
    ctx: typer.Context,
    sink: Annotated[str | None, typer.Option(help="Only this channel's: email or webhook.")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Only deliveries that failed for good.")] = False,
    target: Annotated[str | None, typer.Option(help="Only to this address (or webhook endpoint id).")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    as_json: AsJson = False,
    database_url: DatabaseUrl = None,
) -> None:
    """List deliveries, newest first, with their result and last error."""
    if ctx.invoked_subcommand is not None:
        return
    with admin(database_url) as (service, _):
        found = service.deliveries.recent(sink=sink, failed_only=failed, target=target, limit=limit)
    if as_json:
        print_json({"deliveries": [delivery_json(d) for d in found]})
        return
    if not found:
        out.print("No failed deliveries." if failed else "No deliveries.")
        return
    table = Table(title="Deliveries")
    for column in (
        "id",
        "channel",
        "to",
        "event",
        "call id",
        "status",
        "attempts",
        "next attempt",
        "last error",
    ):
        table.add_column(column, overflow="fold")
    for d in found:
        table.add_row(
            str(d.id),
            d.sink,
            untrusted(d.target),
            d.event_type,
            untrusted(d.call_id or "(test)"),
            d.status,
            str(d.attempts),
            when(d.next_attempt_at) if d.status == "pending" else "",
            untrusted(d.last_error or ""),
        )
    out.print(table)


def delivery_json(d: DeliveryRecord) -> dict[str, Any]:
    """A delivery in ``--json`` output (the webhook commands use it too)."""
    return {
        "id": d.id,
        "channel": d.sink,
        "target": d.target,
        "event": d.event_type,
        "call_id": d.call_id,
        "message_id": d.message_id,
        "status": d.status,
        "attempts": d.attempts,
        "next_attempt_at": stamp(d.next_attempt_at) if d.status == "pending" else None,
        "last_error": d.last_error,
        "created_at": stamp(d.created_at),
        "completed_at": stamp(d.completed_at),
    }


def attempt_json(a: AttemptRecord) -> dict[str, Any]:
    return {
        "attempted_at": stamp(a.attempted_at),
        "status_code": a.status_code,
        "latency_ms": a.latency_ms,
        "error": a.error,
    }


@app.command("attempts")
def deliveries_attempts(delivery_id: int, as_json: AsJson = False, database_url: DatabaseUrl = None) -> None:
    """Every attempt of one delivery: when, the receiver's answer, latency and error."""
    with admin(database_url) as (service, _):
        attempts = service.deliveries.attempts(delivery_id)
    if as_json:
        print_json({"delivery_id": delivery_id, "attempts": [attempt_json(a) for a in attempts]})
        return
    if not attempts:
        out.print(f"Delivery {delivery_id} has not been attempted yet.")
        return
    table = Table(title=f"Attempts of delivery {delivery_id}")
    for column in ("at", "answer", "latency ms", "error"):
        table.add_column(column, overflow="fold")
    for a in attempts:
        answer = "" if a.status_code is None else str(a.status_code)
        table.add_row(when(a.attempted_at), answer, str(a.latency_ms), untrusted(a.error or ""))
    out.print(table)
