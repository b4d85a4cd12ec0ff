"""``foureyes doctor``: check the configuration and everything it points at, in plain words."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from rich.text import Text

from foureyes.cli._common import DatabaseUrl, config_option, out

if TYPE_CHECKING:
    from foureyes.server.doctor import Finding


def doctor(database_url: DatabaseUrl = None) -> None:
    """Check the configuration, the database, the SMTP server, webhook hosts and the public URL.

    Exits 1 when something is wrong, after saying what."""
    from foureyes.server.config_file import ConfigError, load_config
    from foureyes.server.doctor import (
        Finding,
        check_database,
        check_public_url,
        check_smtp,
        check_webhook_hosts,
    )
    from foureyes.server.settings import Settings

    findings: list[Finding] = []
    try:
        config = load_config(config_option())
    except ConfigError as exc:
        _report([Finding("configuration", False, str(exc))])
        raise typer.Exit(1) from None
    if config.path is None:
        found = "no foureyes.toml here or in a parent folder: defaults and environment variables only"
    else:
        found = f"{config.path} (found by {config.found_by})"
    findings.append(Finding("configuration", True, found))
    overrides: dict[str, Any] = {"database_url": database_url} if database_url else {}
    try:
        settings = Settings.from_env(None, config.values, **overrides)
    except ValueError as exc:
        findings.append(Finding("configuration", False, f"invalid setting: {exc}"))
        _report(findings)
        raise typer.Exit(1) from None
    database, endpoints = check_database(settings)
    findings += database
    findings += check_smtp(settings)
    if all(f.ok for f in database):
        findings += check_webhook_hosts(endpoints)
    findings += check_public_url(settings)
    _report(findings)
    if not all(f.ok for f in findings):
        raise typer.Exit(1)


def _report(findings: list[Finding]) -> None:
    for finding in findings:
        mark = Text("ok     ", style="green") if finding.ok else Text("PROBLEM", style="bold red")
        out.print(Text.assemble(mark, " ", (f"{finding.check:<14}", "bold"), finding.message), soft_wrap=True)
    problems = sum(not f.ok for f in findings)
    out.print("No problems found." if not problems else f"{problems} problem(s) found.")
