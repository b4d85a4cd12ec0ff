"""``foureyes receipts``: rotate the key that signs decision receipts (on the database), and
check a receipt offline against a saved JWKS (no server needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from foureyes import _receipts
from foureyes._exceptions import ReceiptError
from foureyes.cli._common import DatabaseUrl, admin, err, fail, out
from foureyes.cli.review import json_object

app = typer.Typer(help="Signed decision receipts.", no_args_is_help=True)


@app.command("rotate-key")
def rotate_key(database_url: DatabaseUrl = None) -> None:
    """Sign receipts with a new key from now on. The old keys stay in the JWKS, so the receipts
    they signed still verify; running servers switch within 30 seconds."""
    with admin(database_url) as (service, _):
        kid = service.receipts.rotate()
    err.print("A new key signs decision receipts from now on; its kid:")
    out.print(kid, highlight=False)


@app.command("verify")
def verify(
    receipt: Annotated[
        str, typer.Argument(metavar="RECEIPT", help="The receipt (status.receipt), or - for stdin.")
    ],
    jwks: Annotated[
        Path, typer.Option(help="The server's JWKS, saved from /.well-known/foureyes/jwks.json.")
    ],
    args: Annotated[
        str | None,
        typer.Option(
            "--args", metavar="JSON", help="Also check the receipt was signed over these arguments."
        ),
    ] = None,
) -> None:
    """Check a receipt's signature (and, with --args, its arguments) offline; print its claims."""
    token = typer.get_text_stream("stdin").read().strip() if receipt == "-" else receipt.strip()
    try:
        claims = _receipts.verify(token, _receipts.load_jwks(jwks))
        if args is not None and claims.get("args_sha256") != _receipts.arguments_digest(
            json_object(args, "--args")
        ):
            raise ReceiptError("wrong_arguments", "the receipt was signed over other arguments")
    except (ReceiptError, ValueError) as exc:
        raise fail(str(exc)) from None
    out.print_json(json.dumps(claims))
    err.print(f"OK: {claims.get('outcome')} {claims.get('kind')} {claims.get('call_id')!r}, signed")
