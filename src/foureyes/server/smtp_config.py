"""``SmtpConfig``: where and how the email channel sends, parsed from ``FOUREYES_SMTP_URL``.

``smtp://[user:password@]host[:port]`` talks plain SMTP and upgrades with STARTTLS when the
server offers it; ``?starttls=required`` refuses to send without it; ``smtps://`` is implicit
TLS (port 465 unless given). User and password are percent-decoded.

Apart from the email channel, so that the settings can check the URL at start without
importing a channel (the domain reads the settings).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

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
