"""What every command group shares: the two consoles, safe printing of untrusted text, one way to
fail, and one way to open the service on the configured database.

Server-side modules are imported inside the functions, never at the top: the reviewer commands
(and ``--help``) should not pay for loading FastAPI and SQLAlchemy.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

if TYPE_CHECKING:
    from foureyes.server.config_file import ConfigFile
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

AsJson = Annotated[
    bool,
    typer.Option("--json", help="Print one JSON document instead of the table (its fields: docs/cli.md)."),
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


def stamp(value: Any) -> str | None:
    """A stored timestamp for JSON output: ISO 8601 with its offset, or null."""
    return None if value is None else value.isoformat()


def print_json(document: Mapping[str, Any]) -> None:
    """One JSON document on stdout. ASCII only: agent-written text cannot smuggle a terminal
    control sequence (C1 characters included) into the output even when it is printed raw."""
    sys.stdout.write(json.dumps(document, indent=2) + "\n")


# Set by the root command's ``--config`` (``foureyes --config FILE keys list``).
_config_option: dict[str, str | None] = {"path": None}


def set_config_option(path: str | None) -> None:
    _config_option["path"] = path


def config_option() -> str | None:
    return _config_option["path"]


def config_file() -> ConfigFile:
    """The configuration file in effect (``ConfigFile(None)`` when there is none); a broken one
    is one red line and exit 1."""
    from foureyes.server.config_file import ConfigError, load_config

    try:
        return load_config(_config_option["path"])
    except ConfigError as exc:
        raise fail(str(exc)) from None


def load_settings(
    database_url: str | None = None, overrides: dict[str, Any] | None = None, *, create: bool = False
) -> Settings:
    """The server's settings: defaults, then ``foureyes.toml``, then the environment, then
    options (``--database-url`` and ``overrides``).

    Unless ``create`` (only ``foureyes serve``), a database nobody configured (no option, no
    environment variable, no configuration file) must already exist at the default path: a
    command run from the wrong folder says so instead of starting an empty database there.
    """
    from foureyes.server.settings import Settings

    config = config_file()
    values = dict(overrides or {})
    if database_url:
        values["database_url"] = database_url
    try:
        settings = Settings.from_env(None, config.values, **values)
    except ValueError as exc:
        where = f" (configuration file {config.path})" if config.path else ""
        raise fail(f"{exc}{where}") from None
    configured = "database_url" in values or "database_url" in config.values
    if not create and not configured:
        missing = missing_default_database(settings.database_url)
        if missing is not None:
            raise fail(
                f"no foureyes database at {missing}; run `foureyes serve` here first, or pass "
                "--database-url, or point to a foureyes.toml with --config or FOUREYES_CONFIG "
                "(none was found in this folder or its parents)"
            )
    return settings


def missing_default_database(url: str) -> Path | None:
    """The SQLite file ``url`` names when it does not exist, else None."""
    if not url.startswith("sqlite:///"):
        return None
    path = Path(url[len("sqlite:///") :].partition("?")[0]).absolute()
    return None if path.exists() else path


def configured_api_base(default: str) -> str:
    """The reviewer commands' API base from ``foureyes.toml`` (its ``public_url``, else its host
    and port), else ``default``."""
    values = config_file().values
    if values.get("public_url"):
        return f"{str(values['public_url']).rstrip('/')}/humanlayer/v1"
    if "host" in values or "port" in values:
        host = str(values.get("host", "127.0.0.1"))
        host = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(host, f"[{host}]" if ":" in host else host)  # noqa: S104
        return f"http://{host}:{values.get('port', 7444)}/humanlayer/v1"
    return default


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
