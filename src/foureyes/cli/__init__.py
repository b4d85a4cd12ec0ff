"""The ``foureyes`` command: run the server, manage keys, and decide from the terminal.

Server-side commands (``serve`` in ``serve.py``, ``doctor``, ``backup``; ``keys``, ``webhooks``, ``users``,
``projects``, ``deliveries``, ``receipts``, ``policies``, ``groups``, ``audit`` in their own modules) work on
the database directly. Reviewer commands (``pending``, ``approve``, ``reject``, ``answer``,
``watch``, in ``review.py``) talk to a running server over HTTP with a ``respond``-scoped key,
through the same API and service path as every other channel. The Claude Code and MCP commands
come from ``foureyes.integrations.commands``. What the groups share (consoles, errors, opening
the service, the configuration file) is in ``_common.py``. Nothing imports this package but the
entry point.
"""

from __future__ import annotations

import inspect
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

try:
    import rich  # noqa: F401 (the commands use it; checked here to say which extra is missing)
    import typer
except ModuleNotFoundError as missing:  # `pip install foureyes` is the SDK alone
    raise SystemExit(
        f"error: the foureyes command needs {missing.name}, which the SDK alone does not install: "
        "pip install 'foureyes[cli]' for the reviewer commands, 'foureyes[server]' for everything"
    ) from None

from foureyes.cli import (
    audit,
    deliveries,
    groups,
    keys,
    policies,
    projects,
    receipts,
    review,
    users,
    webhooks,
)
from foureyes.cli._common import set_config_option, untrusted
from foureyes.cli.backup import backup
from foureyes.cli.doctor import doctor
from foureyes.cli.serve import serve
from foureyes.integrations.commands import claude_app, hook_app, mcp_app

__all__ = ["app", "main", "untrusted"]

app = typer.Typer(
    help="foureyes: human approval for AI agents' function calls.",
    no_args_is_help=True,
    add_completion=False,
)


def _version() -> str:
    try:
        return version("foureyes")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"foureyes {_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            metavar="FILE",
            help="The foureyes.toml to read \\[default: $FOUREYES_CONFIG, else foureyes.toml in "
            "this folder or the nearest parent that has one].",
            show_default=False,
        ),
    ] = None,
    _version_flag: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Show the version and exit."),
    ] = False,
) -> None:
    """foureyes: human approval for AI agents' function calls."""
    set_config_option(config)


app.command()(serve)
app.command()(doctor)
app.command()(backup)
app.add_typer(keys.app, name="keys")
app.add_typer(webhooks.app, name="webhooks")
app.add_typer(users.app, name="users")
app.add_typer(receipts.app, name="receipts")
app.add_typer(projects.app, name="projects")
app.add_typer(deliveries.app, name="deliveries")
app.add_typer(policies.app, name="policies")
app.add_typer(groups.app, name="groups")
app.add_typer(audit.app, name="audit")
for command in (review.pending, review.approve, review.reject, review.answer, review.watch):
    app.command()(command)
# `foureyes mcp`, `foureyes mcp proxy`, `foureyes hook claude-code`, `foureyes claude ...` live
# with their integration; the mcp package itself is imported only when one of them runs.
app.add_typer(mcp_app, name="mcp")
app.add_typer(hook_app, name="hook")
app.add_typer(claude_app, name="claude")


def _one_line_summaries(group: typer.Typer) -> None:
    """A command list shows each command's first paragraph, and in Typer's Rich markup mode it
    keeps the docstring's line breaks, cutting a summary wrapped in the source mid-sentence:
    each listed summary is set to that paragraph on one line (the wrapping is the terminal's)."""
    for info in group.registered_commands:
        if info.short_help is None:
            text = info.help or inspect.getdoc(info.callback) or ""
            info.short_help = " ".join(text.split("\n\n")[0].split()) or None
    for sub in group.registered_groups:
        if sub.typer_instance is not None:
            _one_line_summaries(sub.typer_instance)


_one_line_summaries(app)


# Installed by the server extra only: a server-side command run without them says which extra.
SERVER_ONLY = frozenset({"fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "psycopg", "jinja2"})


def main() -> None:
    try:
        app()
    except ModuleNotFoundError as missing:
        if (missing.name or "").split(".")[0] not in SERVER_ONLY:
            raise
        print(
            f"error: this command needs the server ({missing.name} is not installed): "
            "pip install 'foureyes[server]'",
            file=sys.stderr,
        )
        raise SystemExit(1) from None
