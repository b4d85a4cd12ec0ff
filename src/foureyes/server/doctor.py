"""``foureyes doctor``'s checks: the database, the email channel's SMTP server, the webhook
endpoints' hosts and the public URL, each said in plain words.

Each check returns ``Finding``s; a finding that is not ``ok`` is a problem (the command exits
non-zero). Nothing here changes anything: the database is not migrated, no mail is sent (the
SMTP check stops after EHLO and STARTTLS), no webhook is delivered.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import Connection, select
from sqlalchemy.exc import SQLAlchemyError

from foureyes.server.settings import Settings
from foureyes.server.smtp_config import SmtpConfig
from foureyes.storage.database import inspect_database
from foureyes.storage.schema import webhook_endpoints

# Longest any one network check waits: doctor answers quickly even when something is down.
CHECK_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    message: str


def check_database(settings: Settings) -> tuple[list[Finding], list[tuple[int, str]]]:
    """Reachable, at the newest migration; with it, the enabled webhook endpoints (id, url)."""
    url = settings.database_url
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") :].partition("?")[0]).absolute()
        if not path.exists():
            return [
                Finding("database", False, f"there is no database at {path} (`foureyes serve` creates it)")
            ], []
    try:
        current, heads, endpoints = inspect_database(url, _enabled_endpoints)
    except (SQLAlchemyError, OSError, ValueError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return [Finding("database", False, f"cannot reach the database: {reason}")], []
    if current != heads:
        have = ", ".join(sorted(current)) or "none"
        return [
            Finding(
                "database",
                False,
                f"the database schema is at migration {have}, this version needs "
                f"{', '.join(sorted(heads))}: start `foureyes serve` once to upgrade it",
            )
        ], []
    return [
        Finding("database", True, f"reachable, at migration {', '.join(sorted(current))}")
    ], endpoints or []


def _enabled_endpoints(conn: Connection) -> list[tuple[int, str]]:
    rows = conn.execute(
        select(webhook_endpoints.c.id, webhook_endpoints.c.url)
        .where(webhook_endpoints.c.enabled.is_(True))
        .order_by(webhook_endpoints.c.id)
    )
    return [(int(row.id), str(row.url)) for row in rows]


def check_smtp(settings: Settings, timeout: float = CHECK_TIMEOUT_SECONDS) -> list[Finding]:
    """Connect to the SMTP server, greet it (EHLO) and, when asked or offered, start TLS."""
    if not settings.smtp_url:
        return [Finding("smtp", True, "email is not configured (smtp_url is empty)")]
    config = SmtpConfig.parse(settings.smtp_url)  # Settings already checked it
    where = f"{config.host}:{config.port}"
    timeout = min(timeout, settings.email_timeout_seconds)
    client: smtplib.SMTP | None = None
    try:
        if config.implicit_tls:
            client = smtplib.SMTP_SSL(
                config.host, config.port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(config.host, config.port, timeout=timeout)
        code, _ = client.ehlo()
        if code != 250:
            return [Finding("smtp", False, f"the SMTP server at {where} refused EHLO (code {code})")]
        tls = config.implicit_tls
        if not tls and client.has_extn("starttls"):
            client.starttls(context=ssl.create_default_context())
            client.ehlo()
            tls = True
        elif config.require_starttls:
            return [
                Finding(
                    "smtp",
                    False,
                    f"the SMTP server at {where} does not offer STARTTLS, which smtp_url requires",
                )
            ]
        if config.username and not client.has_extn("auth"):
            return [Finding("smtp", False, f"smtp_url has a user, but {where} offers no AUTH")]
    except (OSError, smtplib.SMTPException) as exc:
        return [Finding("smtp", False, f"cannot talk to the SMTP server at {where}: {_reason(exc)}")]
    finally:
        if client is not None:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()
    return [Finding("smtp", True, f"{where} answers EHLO{' over TLS' if tls else ''}")]


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "no answer in time"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is it running, on that port?)"
    if isinstance(exc, socket.gaierror):
        return "the host name does not resolve"
    return str(exc) or type(exc).__name__


def check_webhook_hosts(
    endpoints: list[tuple[int, str]], timeout: float = CHECK_TIMEOUT_SECONDS
) -> list[Finding]:
    """Every enabled endpoint's host resolves (delivery's own address checks apply later)."""
    if not endpoints:
        return [Finding("webhooks", True, "no enabled webhook endpoints")]
    findings: list[Finding] = []
    with ThreadPoolExecutor(max_workers=min(8, len(endpoints))) as pool:
        futures = [(eid, url, pool.submit(_resolve, url)) for eid, url in endpoints]
        for eid, url, future in futures:
            host = urlsplit(url).hostname or url
            try:
                future.result(timeout=timeout)
            except FutureTimeout:
                findings.append(Finding("webhooks", False, f"endpoint {eid}: {host} did not resolve in time"))
            except OSError as exc:
                findings.append(
                    Finding("webhooks", False, f"endpoint {eid}: {host} does not resolve ({_reason(exc)})")
                )
            else:
                findings.append(Finding("webhooks", True, f"endpoint {eid}: {host} resolves"))
    return findings


def _resolve(url: str) -> None:
    parts = urlsplit(url)
    if not parts.hostname:
        raise OSError("the URL names no host")
    socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))


def check_public_url(settings: Settings) -> list[Finding]:
    """A public URL that links can use, when a channel sends links (email)."""
    if settings.public_url:
        parts = urlsplit(settings.public_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return [Finding("public_url", False, f"public_url {settings.public_url!r} is not an http(s) URL")]
        return [Finding("public_url", True, f"links point to {settings.base_url}")]
    if settings.smtp_url:  # Settings refuses this already; kept for a clear word if that changes
        return [Finding("public_url", False, "public_url must be set: email carries links to this server")]
    return [
        Finding(
            "public_url",
            True,
            f"not set: setup and invitation links use {settings.base_url}, which only works "
            "for reviewers who reach the server at that address",
        )
    ]
