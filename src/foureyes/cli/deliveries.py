"""``foureyes deliveries``: every channel's deliveries (email, Slack, Web Push, webhooks) and
their attempts, on the database directly."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from foureyes.cli._common import AsJson, DatabaseUrl, admin, out, print_json, stamp, untrusted, when

if TYPE_CHECKING:
    from foureyes.storage.records import AttemptRecord, DeliveryRecord

app = typer.Typer(help="Deliveries of every channel (email, Slack, Web Push, webhooks) and their attempts.")


@app.callback(invoke_without_command=True)
def deliveries_list(
    ctx: typer.Context,
    sink: Annotated[
        str | None, typer.Option(help="Only this channel's: email, slack, webpush or webhook.")
    ] = None,
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
    out.print(deliveries_table("Deliveries", found))


def deliveries_table(title: str, found: Sequence[DeliveryRecord]) -> Table:
    # Stacked cells, so that in 80 columns the call id (copied into the next command) and the
    # address stay whole and the error keeps the rest of the width.
    table = Table(title=f"{title} ({len(found)})", show_lines=True)
    table.add_column("id, channel, to", overflow="fold", ratio=1)
    table.add_column("call id, event", no_wrap=True, overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("last error", overflow="fold", ratio=2)
    for d in found:
        to = untrusted(d.target)
        to.stylize("dim")
        call = untrusted(d.call_id or "(test)")
        status = f"{d.status}\n{d.attempts} attempt{'' if d.attempts == 1 else 's'}"
        if d.status == "pending":
            status += f"\nnext {d.next_attempt_at:%m-%d %H:%M}"  # the full time is in --json
        table.add_row(
            Text.assemble(f"{d.id} {d.sink}\n", to),
            Text.assemble(call, (f"\n{d.event_type}", "dim")),
            status,
            untrusted(d.last_error or ""),
        )
    return table


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
