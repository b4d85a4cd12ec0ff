"""The ``foureyes`` command: run the server, manage keys, and decide from the terminal.

Server-side commands (``serve`` in ``serve.py``; ``keys``, ``webhooks``, ``users``, ``audit`` in their own
modules) work on the database directly. Reviewer commands (``pending``, ``approve``, ``reject``,
``answer``, ``watch``, in ``review.py``) talk to a running server over HTTP with a
``respond``-scoped key, through the same API and service path as every other channel. The Claude
Code and MCP commands come from ``foureyes.integrations.commands``. What the groups share
(consoles, errors, opening the service) is in ``_common.py``. Nothing imports this
package but the entry point.
"""

from __future__ import annotations

import typer

from foureyes.cli import audit, keys, review, users, webhooks
from foureyes.cli._common import untrusted
from foureyes.cli.serve import serve
from foureyes.integrations.commands import claude_app, hook_app, mcp_app

__all__ = ["app", "main", "untrusted"]

app = typer.Typer(
    help="foureyes: human approval for AI agents' function calls.",
    no_args_is_help=True,
    add_completion=False,
)
app.command()(serve)
app.add_typer(keys.app, name="keys")
app.add_typer(webhooks.app, name="webhooks")
app.add_typer(users.app, name="users")
app.add_typer(audit.app, name="audit")
for command in (review.pending, review.approve, review.reject, review.answer, review.watch):
    app.command()(command)
# `foureyes mcp`, `foureyes mcp proxy`, `foureyes hook claude-code`, `foureyes claude ...` live
# with their integration; the mcp package itself is imported only when one of them runs.
app.add_typer(mcp_app, name="mcp")
app.add_typer(hook_app, name="hook")
app.add_typer(claude_app, name="claude")


def main() -> None:
    app()
