"""What every command group shares: the two consoles, safe printing of untrusted text, one way to
fail, and one way to open the service on the configured database.

Server-side modules are imported inside the functions, never at the top: the reviewer commands
(and ``--help``) should not pay for loading FastAPI and SQLAlchemy.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

if TYPE_CHECKING:
    from foureyes.server.service import Service
    from foureyes.server.settings import Settings

# Results go to stdout; messages, and the line before a secret shown once, go to stderr, so a
# script can capture the secret as the last line of stdout.
out = Console()
err = Console(stderr=True)

DatabaseUrl = Annotated[
    str | None,
    typer.Option(envvar="FOUREYES_DATABASE_URL", help="SQLAlchemy URL of the database.", show_default=False),
]

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def untrusted(value: str) -> Text:
    """Agent-written text for the terminal: shown literally, control characters made visible."""
    return Text(_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", value))


def fail(message: str) -> typer.Exit:
    """Print one red error line; the caller raises what this returns, so the command exits 1."""
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(1)


def when(value: Any) -> str:
    """A stored timestamp for a table cell (empty when there is none)."""
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def load_settings(database_url: str | None) -> Settings:
    """The server's settings from the environment, with ``--database-url`` taking precedence."""
    from foureyes.server.settings import Settings

    overrides = {"database_url": database_url} if database_url else {}
    return Settings.from_env(**overrides)


@contextmanager
def admin(database_url: str | None) -> Iterator[tuple[Service, Settings]]:
    """The service on the configured database; its errors become one red line and exit 1."""
    from foureyes.server.domain.errors import DomainError
    from foureyes.server.service import open_service

    settings = load_settings(database_url)
    service = open_service(settings)
    try:
        yield service, settings
    except DomainError as exc:
        raise fail(exc.message) from None
    finally:
        service.close()
