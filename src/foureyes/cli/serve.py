"""``foureyes serve``: run the server under uvicorn, with the server's log lines shown."""

from __future__ import annotations

import logging
import re
import socket
from typing import Annotated, Any

import typer
from rich.markup import escape

from foureyes.cli._common import config_file, err, load_settings


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on \\[default: 127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on \\[default: 7444].")] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            envvar="FOUREYES_DATABASE_URL",
            help="SQLAlchemy URL of the database \\[default: sqlite:///.foureyes/foureyes.db].",
            show_default=False,
        ),
    ] = None,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            envvar="FOUREYES_FORWARDED_ALLOW_IPS",
            help="Comma-separated addresses of reverse proxies whose X-Forwarded-For is believed "
            "('*' for any) \\[default: none: the client address is the connection's peer].",
            show_default=False,
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="Log level of the server.")] = "info",
    log_format: Annotated[
        str | None,
        typer.Option(
            envvar="FOUREYES_LOG_FORMAT",
            help="text (readable lines) or json (one object a line); both carry the request id "
            "\\[default: text].",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the foureyes server."""
    import uvicorn

    from foureyes.server.app import create_app, uvicorn_config
    from foureyes.server.logs import TextFormatter

    # The server's own loggers (one INFO line per state change) are shown here, at the edge:
    # library code never installs handlers. The JSON format, when chosen, replaces this one.
    handler = logging.StreamHandler()
    handler.setFormatter(TextFormatter())
    logging.basicConfig(level=log_level.upper(), handlers=[handler])
    overrides: dict[str, Any] = {
        k: v
        for k, v in {
            "host": host,
            "port": port,
            "database_url": database_url,
            "forwarded_allow_ips": forwarded_allow_ips,
            "log_format": log_format,
        }.items()
        if v is not None
    }
    settings = load_settings(None, overrides, create=True)
    config = config_file().path
    err.print(
        f"foureyes serving on [bold]http://{settings.host}:{settings.port}[/] "
        f"(API base http://{settings.host}:{settings.port}/humanlayer/v1), "
        f"database {redact(settings.database_url)}"
        + (f", configuration {escape(str(config))}" if config else ""),
        highlight=False,
    )
    app = create_app(settings)

    class Server(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            # uvicorn would close WebSockets with 1012; say "going away" (1001) first, with a reason.
            await app.state.service.subscribers.close_all()
            await super().shutdown(sockets)

    Server(uvicorn_config(app, settings, log_level=log_level)).run()


def redact(url: str) -> str:
    """A database URL fit to print: any password is hidden."""
    return re.sub(r"(//[^:/@]+:)[^@]*@", r"\1***@", url)
