"""Sending one message through the SMTP server ``FOUREYES_SMTP_URL`` names (``SmtpConfig``)."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from foureyes.server.smtp_config import SmtpConfig

__all__ = ["SmtpConfig", "send"]


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
