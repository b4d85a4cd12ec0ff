"""``SmtpConfig``: where and how the email channel sends, parsed from ``FOUREYES_SMTP_URL``.

``smtp://[user:password@]host[:port]`` talks plain SMTP and upgrades with STARTTLS when the
server offers it; ``?starttls=required`` refuses to send without it; ``smtps://`` is implicit
TLS (port 465 unless given). User and password are percent-decoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

DEFAULT_PORTS = {"smtp": 25, "smtps": 465}


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    implicit_tls: bool
    require_starttls: bool
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> SmtpConfig:
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS:
            raise ValueError(
                f"FOUREYES_SMTP_URL must start with smtp:// or smtps://, not {url.split(':')[0]!r}"
            )
        if not parts.hostname:
            raise ValueError("FOUREYES_SMTP_URL names no host")
        try:
            port = parts.port or DEFAULT_PORTS[parts.scheme]
        except ValueError:
            raise ValueError("FOUREYES_SMTP_URL has an invalid port") from None
        query = parse_qs(parts.query)
        unknown = sorted(set(query) - {"starttls"})
        if unknown:
            raise ValueError(f"FOUREYES_SMTP_URL: unknown option {unknown[0]!r} (only starttls=required)")
        starttls = query.get("starttls", ["auto"])[-1]
        if starttls not in ("auto", "required"):
            raise ValueError(f"FOUREYES_SMTP_URL: starttls must be 'required', not {starttls!r}")
        if parts.scheme == "smtps" and starttls == "required":
            raise ValueError(
                "FOUREYES_SMTP_URL: smtps:// is already TLS; starttls=required applies to smtp://"
            )
        return cls(
            host=parts.hostname,
            port=port,
            implicit_tls=parts.scheme == "smtps",
            require_starttls=starttls == "required",
            username=None if parts.username is None else unquote(parts.username),
            password=None if parts.password is None else unquote(parts.password),
        )


async def send(
    config: SmtpConfig, message: EmailMessage, sender: str, recipient: str, socket_timeout: float
) -> str:
    """Hand ``message`` to the server for ``recipient`` alone; the server's answer. The whole
    attempt is bounded by the outbox worker; ``socket_timeout`` bounds each network step."""
    _errors, answer = await aiosmtplib.send(
        message,
        sender=sender,
        recipients=[recipient],
        hostname=config.host,
        port=config.port,
        username=config.username,
        password=config.password,
        use_tls=config.implicit_tls,
        # None: upgrade when the server offers STARTTLS; True: refuse to go on without it
        start_tls=True if config.require_starttls else None,
        timeout=socket_timeout,
    )
    return answer
