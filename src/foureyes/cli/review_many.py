"""``approve`` and ``reject`` of several function calls: the ids given, or every pending one of
the key's project (``--all-pending --project P``, after a confirmation that lists them).

They go through the bulk respond (``POST /agent/function_calls/respond``): each batch of up to
``MAX_BULK_DECISIONS`` is one request and one transaction on the server, and each call in it is
recorded, audited and pushed to its waiting agent as a single decision would be. What the server
skipped (not found, already decided, a refused verdict) is listed with its reason, and the
command then exits 1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer
from rich.text import Text

from foureyes.cli._common import fail, out, untrusted
from foureyes.models import MAX_BULK_DECISIONS

Request = Callable[..., dict[str, Any]]


def all_pending(request: Request, project: str | None) -> list[dict[str, Any]]:
    """Every pending function call of the key's project, which must be ``project``."""
    if not project:
        raise fail("--all-pending needs --project SLUG: the project whose pending calls you mean")
    found = request("GET", "/project")
    if found.get("slug") != project:
        raise fail(f"this key belongs to project {found.get('slug')!r}, not {project!r}")
    items: list[dict[str, Any]] = []
    while True:
        page = request("GET", f"/agent/function_calls/pending?limit={MAX_BULK_DECISIONS}&offset={len(items)}")
        items += page["items"]
        if not page["has_more"] or not page["items"]:
            return items


def confirm_all(items: list[dict[str, Any]], verb: str, project: str, yes: bool) -> None:
    """List what is about to be decided and ask (unless ``yes``); exit 0 when there is nothing."""
    if not items:
        out.print(f"Nothing is waiting for a decision in {project}.")
        raise typer.Exit(0)
    out.print(f"{len(items)} pending in {project}:")
    for item in items:
        spec = item["spec"]
        out.print(Text.assemble("  ", untrusted(item["call_id"]), "  ", untrusted(spec["fn"])))
    if not yes and not typer.confirm(f"{verb} all {len(items)}?", default=False):
        raise fail("nothing was decided")


def decide_many(request: Request, call_ids: list[str], verdict: dict[str, Any], done: str) -> None:
    """Send ``verdict`` for every call id, in batches; print what became of each."""
    skipped = 0
    for start in range(0, len(call_ids), MAX_BULK_DECISIONS):
        batch = call_ids[start : start + MAX_BULK_DECISIONS]
        body = {"decisions": [{"call_id": call_id, **verdict} for call_id in batch]}
        for result in request("POST", "/agent/function_calls/respond", body)["results"]:
            if result["result"] == "decided":
                out.print(Text.assemble(f"{done} ", untrusted(result["call_id"]), "."))
            else:
                skipped += 1
                out.print(
                    Text.assemble("Skipped ", untrusted(result["call_id"]), ": ", untrusted(result["reason"]))
                )
    if skipped:
        raise fail(f"{skipped} of {len(call_ids)} were not decided")
