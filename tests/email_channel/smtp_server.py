"""A real SMTP server on 127.0.0.1 (aiosmtpd, in a thread) that keeps every message it accepts."""

from __future__ import annotations

import email
import email.policy
import threading
import time
from email.message import EmailMessage
from typing import Any, cast

from aiosmtpd.controller import Controller


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        message = cast(EmailMessage, email.message_from_bytes(envelope.content, policy=email.policy.default))
        with self._lock:
            self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"

    def wait(self, count: int = 1, timeout: float = 30) -> list[tuple[list[str], EmailMessage]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.05)
        raise AssertionError(f"{count} message(s) expected, {len(self.messages)} arrived")


def start_smtp(port: int) -> tuple[Controller, Mailbox]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, mailbox


def parts(message: EmailMessage) -> tuple[str, str]:
    """The text/plain and the text/html part."""
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    return cast(EmailMessage, text).get_content(), cast(EmailMessage, html).get_content()
