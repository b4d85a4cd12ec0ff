"""``foureyes audit``: check, export and prove the tamper-evident log, on the database directly."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from foureyes.cli._common import DatabaseUrl, admin, err, fail, out

app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)

PinnedKey = Annotated[
    str | None,
    typer.Option(
        "--key",
        help="The verifier key (name+id+base64, as `audit checkpoint` prints it) that must have "
        "signed the checkpoints, kept apart from the database.",
    ),
]


@app.command("verify")
def audit_verify(key: PinnedKey = None, database_url: DatabaseUrl = None) -> None:
    """Recompute the log's Merkle tree, check every checkpoint and the rows the log describes."""
    from foureyes.server.audit.note import NoteError
    from foureyes.server.audit.verify import verify

    with admin(database_url) as (service, _):
        try:
            report = verify(service.db, pinned_key=key)
        except NoteError as exc:
            raise fail(str(exc)) from None
    first = report.first()
    if first is not None:
        more = len(report.problems) - 1
        err.print(f"[bold red]FAILED:[/] {first.message}", highlight=False)
        for problem in report.problems[1:10]:
            err.print(f"  also: {problem.message}", highlight=False)
        if more >= 10:
            err.print(f"  ... and {more - 9} more", highlight=False)
        raise typer.Exit(1)
    out.print(
        f"OK: {report.entries} entries, {report.checkpoints} checkpoints, {report.rows} rows checked",
        highlight=False,
    )


@app.command("checkpoint")
def audit_checkpoint(database_url: DatabaseUrl = None) -> None:
    """Sign a checkpoint of the log now and print it (and the key that verifies it)."""
    with admin(database_url) as (service, _):
        checkpoint = service.audit.checkpoint(force=True)
        vkey = service.audit.verifier_key()
    if checkpoint is None:
        raise fail("the log is empty")
    err.print(f"verifier key: {vkey}", highlight=False)
    sys.stdout.write(checkpoint.note)


@app.command("export")
def audit_export(
    since: Annotated[
        str | None, typer.Option(help="Only entries from this time on (ISO 8601; UTC if no offset).")
    ] = None,
    format: Annotated[
        str, typer.Option("--format", help="jsonl (each entry's exact bytes) or csv.")
    ] = "jsonl",
    database_url: DatabaseUrl = None,
) -> None:
    """Write the log's entries to stdout."""
    from foureyes.server.audit.export import FORMATS, export

    if format not in FORMATS:
        raise typer.BadParameter(f"use one of {', '.join(FORMATS)}", param_hint="--format")
    start = None
    if since is not None:
        try:
            start = datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            raise typer.BadParameter("not an ISO 8601 time", param_hint="--since") from None
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
    with admin(database_url) as (service, _):
        for line in export(service.db, since=start, format=format):
            sys.stdout.write(line)


@app.command("prove")
def audit_prove(
    call_id: Annotated[str, typer.Argument(metavar="CALL_ID", help="The request's call id.")],
    project: Annotated[str | None, typer.Option(help="Only the request of this project.")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Print, as JSON, inclusion proofs of the request's entries against the latest checkpoint."""
    from foureyes.server.audit.proofs import prove

    with admin(database_url) as (service, _):
        project_id = None
        if project is not None:
            found = service.people.store.find_project(project)
            if found is None:
                raise fail(f"no project {project!r}")
            project_id = found.id
        document = prove(service.db, call_id, project_id)
    if not document["proofs"] and not document["not_checkpointed"]:
        raise fail(f"the log has no entries for {call_id!r}")
    print(json.dumps(document, indent=2, ensure_ascii=False))


@app.command("check-proof")
def audit_check_proof(
    file: Annotated[Path, typer.Argument(help="A document printed by `audit prove` (- for stdin).")],
    key: PinnedKey = None,
) -> None:
    """Check a proof offline: the checkpoint's signature, then each entry's path to its root."""
    from foureyes.server.audit.proofs import check_proof

    text = sys.stdin.read() if str(file) == "-" else file.read_text()
    try:
        document = json.loads(text)
    except ValueError:
        raise fail("not a JSON proof document") from None
    problems = check_proof(document, key)
    if problems:
        for problem in problems:
            err.print(f"[bold red]FAILED:[/] {problem}", highlight=False)
        raise typer.Exit(1)
    trusted = "the pinned key" if key else "the document's own key (pass --key to trust it)"
    out.print(
        f"OK: {len(document['proofs'])} entries are in the signed tree, checked with {trusted}",
        highlight=False,
    )
