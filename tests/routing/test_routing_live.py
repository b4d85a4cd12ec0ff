"""End to end on a real server and a real SMTP server (aiosmtpd): a request the official
humanlayer SDK makes without a channel reaches the project's default recipients, who decide it
through the link; and an email owed while SMTP is down survives a restart of foureyes and is
delivered once SMTP is back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import humanlayer
import pytest

from foureyes.storage import Database
from foureyes.storage import outbox as deliveries

from ..email_channel.smtp_server import Mailbox, parts, start_smtp
from ..email_channel.test_email_live import EmailServer, in_thread, links_of
from ..integration.conftest import free_port

pytestmark = pytest.mark.slow

LEAD = "lead@example.com"


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def mailbox(smtp_port: int) -> Iterator[Mailbox]:
    controller, box = start_smtp(smtp_port)
    yield box
    controller.stop()


def email_rows(url: str) -> list[Any]:
    db = Database.from_url(url)
    try:
        with db.read() as conn:
            return deliveries.list_recent(conn, sink="email")
    finally:
        db.close()


def test_a_request_without_a_channel_reaches_the_project_defaults(
    tmp_path: Path, smtp_port: int, mailbox: Mailbox
) -> None:
    server = EmailServer(tmp_path, smtp_port)
    try:
        done = server.server.foureyes("projects", "channels", "set", "default", "--email", LEAD)
        assert done.returncode == 0, done.stderr
        spec = humanlayer.FunctionCallSpec(fn="deploy", kwargs={"env": "prod"})
        waiting = in_thread(lambda: server.hl.fetch_approval(spec))
        [(envelope, message)] = mailbox.wait(1)
        assert envelope == [LEAD]
        text, _ = parts(message)
        assert '"deploy"' in text
        approve = links_of(text)["approve"].split("?")[0]
        assert server.web.post(approve, data={"decision": "approve"}).status_code == 200
        assert waiting.result(timeout=30).as_completed().approved is True
        call_id = server.pending_call_id_or_none()
        assert call_id is None  # nothing left pending
        [row] = email_rows(server.server.database_url)
        assert (row.target, row.status) == (LEAD, "succeeded")
        status = server.item(row.call_id)["status"]
        assert status["responded_by"] == {"email": LEAD, "name": None, "channel": "email"}
        # the request is shown as the agent sent it: no channel was written into it
        assert server.item(row.call_id)["spec"].get("channel") is None
    finally:
        server.close()


def test_smtp_down_at_create_then_a_restart_then_smtp_back(tmp_path: Path, smtp_port: int) -> None:
    server = EmailServer(tmp_path, smtp_port)  # nothing listens on smtp_port yet
    controller = None
    try:
        channel = humanlayer.ContactChannel(email=humanlayer.EmailContactChannel(address=LEAD))
        server.hl.create_function_call(
            humanlayer.FunctionCallSpec(fn="deploy", kwargs={}, channel=channel), call_id="down-1"
        )
        deadline = time.monotonic() + 30
        rows: list[Any] = []
        while time.monotonic() < deadline:
            rows = email_rows(server.server.database_url)
            if rows and rows[0].attempts >= 1:
                break
            time.sleep(0.1)
        [row] = rows
        assert row.status == "pending"  # refused connection: retried, not failed
        assert row.last_error

        server.server.stop()
        controller, box = start_smtp(smtp_port)
        server.server.start()

        [(envelope, message)] = box.wait(1, timeout=90)
        assert envelope == [LEAD]
        assert message["Subject"] == "Approval needed: deploy"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            [row] = email_rows(server.server.database_url)
            if row.status == "succeeded":
                break
            time.sleep(0.1)
        assert row.status == "succeeded"
        assert row.attempts >= 2
        assert len(box.messages) == 1
    finally:
        if controller is not None:
            controller.stop()
        server.close()
