"""The email channel end to end: a real foureyes server, a real SMTP server (aiosmtpd) on
127.0.0.1, and the official humanlayer SDK waiting for the decision made through the link."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import humanlayer
import pytest

from foureyes.server.channels.email.links import PURPOSE, LinkSigner
from foureyes.storage import Database
from foureyes.storage import outbox as deliveries

from ..integration.conftest import LiveServer, free_port
from .smtp_server import Mailbox, parts, start_smtp

pytestmark = pytest.mark.slow

BOSS = "boss@example.com"
LINK = re.compile(r"^(Approve|Reject|Answer): +(\S+)\r?$", re.MULTILINE)


def fast_sleep(_seconds: float) -> None:
    time.sleep(0.02)


def in_thread(fn: Any) -> Future[Any]:
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(fn)
    pool.shutdown(wait=False)
    return future


class EmailServer:
    def __init__(self, tmp_path: Path, smtp_port: int) -> None:
        self.server = LiveServer(tmp_path)
        self.server.env |= {
            "FOUREYES_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
            "FOUREYES_EMAIL_FROM": "approvals@example.com",
            "FOUREYES_PUBLIC_URL": self.server.url,
        }
        self.server.start()
        agent_key = self.server.create_key("agent")
        self.agent = httpx.Client(
            base_url=self.server.api_base, headers={"Authorization": f"Bearer {agent_key}"}
        )
        self.hl = humanlayer.HumanLayer(
            api_key=agent_key, api_base_url=self.server.api_base, sleep=fast_sleep
        )
        self.api = httpx.Client(
            base_url=self.server.api_base,
            headers={"Authorization": f"Bearer {self.server.create_key('respond')}"},
        )
        self.web = httpx.Client(base_url=self.server.url)

    def item(self, call_id: str, kind: str = "function_calls") -> dict[str, Any]:
        answer = self.agent.get(f"/{kind}/{call_id}")
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def pending_call_id_or_none(self) -> str | None:
        items = self.api.get("/agent/function_calls/pending").json()["items"]
        return str(items[0]["call_id"]) if items else None

    def pending_call_id(self) -> str:
        [item] = self.api.get("/agent/function_calls/pending").json()["items"]
        return str(item["call_id"])

    def database(self) -> Database:
        return Database.from_url(self.server.database_url)

    def email_deliveries(self) -> list[Any]:
        db = self.database()
        try:
            with db.read() as conn:
                return deliveries.list_recent(conn, sink="email")
        finally:
            db.close()

    def signer(self) -> LinkSigner:
        db = self.database()
        try:
            return LinkSigner(db.box.derive(PURPOSE))
        finally:
            db.close()

    def close(self) -> None:
        self.api.close()
        self.agent.close()
        self.web.close()
        self.server.stop()


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def mailbox(smtp_port: int) -> Iterator[Mailbox]:
    controller, box = start_smtp(smtp_port)
    yield box
    controller.stop()


@pytest.fixture
def email_server(tmp_path: Path, smtp_port: int) -> Iterator[EmailServer]:
    server = EmailServer(tmp_path, smtp_port)
    yield server
    server.close()


def links_of(text: str) -> dict[str, str]:
    return {name.lower(): url for name, url in LINK.findall(text)}


def email_spec(fn: str = "wire_money", **kwargs: Any) -> humanlayer.FunctionCallSpec:
    channel = humanlayer.ContactChannel(
        email=humanlayer.EmailContactChannel(
            address=BOSS,
            additional_recipients=[
                humanlayer.EmailRecipient(address="cfo@example.com", field="cc"),
                humanlayer.EmailRecipient(address="audit@example.com", field="bcc"),
            ],
            experimental_subject_line="Payment run",
            experimental_in_reply_to_message_id="<thread-1@example.com>",
        )
    )
    return humanlayer.FunctionCallSpec(fn=fn, kwargs=kwargs or {"amount": 100}, channel=channel)


def message_to(box: Mailbox, address: str, count: int = 3) -> Any:
    for envelope, message in box.wait(count):
        if envelope == [address]:
            return message
    raise AssertionError(f"no message to {address}")


def test_approve_through_the_link(mailbox: Mailbox, email_server: EmailServer) -> None:
    waiting = in_thread(lambda: email_server.hl.fetch_approval(email_spec()))
    message = message_to(mailbox, BOSS)
    call_id = email_server.pending_call_id()
    # one message per recipient, bcc included but never shown
    assert sorted(envelope[0] for envelope, _ in mailbox.messages) == [
        "audit@example.com",
        BOSS,
        "cfo@example.com",
    ]
    assert message["Subject"] == "Payment run"
    assert message["To"] == BOSS
    assert message["Cc"] == "cfo@example.com"
    assert "audit@example.com" not in str(message)
    assert message["In-Reply-To"] == "<thread-1@example.com>"
    assert message["References"] == "<thread-1@example.com>"
    text, html = parts(message)
    assert '"wire_money"' in text
    assert '"amount": 100' in text
    assert "wire_money" in html
    links = links_of(text)
    assert links["approve"].startswith(email_server.server.url + "/email/")

    # a GET (a mail scanner, a preview) shows the request and decides nothing
    shown = email_server.web.get(links["approve"])
    assert shown.status_code == 200
    assert "<form" in shown.text
    assert "wire_money" in shown.text
    assert email_server.item(call_id)["status"]["approved"] is None

    token_path = links["approve"].split("?")[0]
    done = email_server.web.post(token_path, data={"decision": "approve"})
    assert done.status_code == 200, done.text
    result = waiting.result(timeout=30)
    assert result.as_completed().approved is True
    status = email_server.item(call_id)["status"]
    assert status["responded_by"] == {"email": BOSS, "name": None, "channel": "email"}

    # the link worked once: a replay is refused and changes nothing
    again = email_server.web.post(token_path, data={"decision": "reject", "comment": "no"})
    assert again.status_code == 409
    assert "already decided" in again.text
    assert email_server.item(call_id)["status"]["approved"] is True


def test_reject_with_a_comment(mailbox: Mailbox, email_server: EmailServer) -> None:
    waiting = in_thread(lambda: email_server.hl.fetch_approval(email_spec()))
    text, _ = parts(message_to(mailbox, "cfo@example.com"))
    call_id = email_server.pending_call_id()
    reject = links_of(text)["reject"]
    shown = email_server.web.get(reject)
    assert shown.status_code == 200
    assert 'value="reject" checked' in shown.text
    path = reject.split("?")[0]
    # a rejection without a comment is asked again, and the link still works
    assert email_server.web.post(path, data={"decision": "reject"}).status_code == 422
    assert email_server.item(call_id)["status"]["approved"] is None
    assert email_server.web.post(path, data={"decision": "reject", "comment": "too much"}).status_code == 200
    completed = waiting.result(timeout=30).as_completed()
    assert (completed.approved, completed.comment) == (False, "too much")
    assert email_server.item(call_id)["status"]["responded_by"]["email"] == "cfo@example.com"


def test_answer_a_question(mailbox: Mailbox, email_server: EmailServer) -> None:
    channel = humanlayer.ContactChannel(email=humanlayer.EmailContactChannel(address=BOSS))
    tool = email_server.hl.human_as_tool(contact_channel=channel)
    waiting = in_thread(lambda: tool("Which tone?"))
    text, _ = parts(message_to(mailbox, BOSS, count=1))
    answer = links_of(text)["answer"]
    assert email_server.web.get(answer).status_code == 200
    assert email_server.web.post(answer, data={"comment": "formal"}).status_code == 200
    assert waiting.result(timeout=30) == "formal"


def test_bad_links_are_refused_and_change_nothing(mailbox: Mailbox, email_server: EmailServer) -> None:
    email_server.hl.create_function_call(email_spec(), call_id="pay-3")
    text, _ = parts(message_to(mailbox, BOSS))
    token = links_of(text)["approve"].split("?")[0].rsplit("/", 1)[1]
    body, mac = token.split(".")
    signer = email_server.signer()
    claim = signer.verify(token, datetime.now(UTC))
    future = int((datetime.now(UTC) + timedelta(days=1)).timestamp())
    bad = {
        "tampered": f"{body[:-2]}{'A' if body[-2] != 'A' else 'B'}{body[-1]}.{mac}",
        "forged signature": f"{body}.{mac[::-1]}",
        "garbage": "not-a-token",
        "expired": signer.sign(replace(claim, expires_at=int(time.time()) - 1)),
        "wrong recipient": signer.sign(replace(claim, recipient="eve@example.com", expires_at=future)),
    }
    for name, forged in bad.items():
        for response in (
            email_server.web.get(f"/email/{forged}"),
            email_server.web.post(f"/email/{forged}", data={"decision": "approve"}),
        ):
            assert response.status_code in (400, 403), (name, response.status_code)
            assert "<form" not in response.text, name
    assert "expired" in email_server.web.get(f"/email/{bad['expired']}").text
    assert email_server.item("pay-3")["status"]["approved"] is None


XSS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "</pre><svg onload=alert(1)>",
    "javascript:alert(1)",
    "\nApprove: https://evil.example/",
]


def test_agent_written_fields_are_escaped(mailbox: Mailbox, email_server: EmailServer) -> None:
    kwargs = {f"k{i}": payload for i, payload in enumerate(XSS)} | {XSS[0]: XSS[1]}
    email_server.hl.create_function_call(email_spec(fn=XSS[1], **kwargs), call_id="pay-xss")
    text, html = parts(message_to(mailbox, BOSS))
    for payload in XSS[:3]:
        assert payload not in html
    assert "<script>" not in html
    assert "<img" not in html
    assert "<svg" not in html
    # no agent value can put a line of its own (a forged link) into the text part
    assert links_of(text).keys() == {"approve", "reject"}
    assert "https://evil.example" not in links_of(text).values()
    page = email_server.web.get(links_of(text)["approve"]).text
    assert "<script>" not in page
    assert "<img" not in page
    assert "<svg" not in page


def test_smtp_down_at_first_gets_the_message_later(tmp_path: Path, smtp_port: int) -> None:
    server = EmailServer(tmp_path, smtp_port)  # nothing listens on the SMTP port yet
    try:
        server.hl.create_function_call(email_spec(), call_id="pay-late")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            found = server.email_deliveries()
            if found and all(d.attempts >= 1 for d in found):
                break
            time.sleep(0.1)
        assert all(d.status == "pending" and d.last_error for d in found)
        controller, box = start_smtp(smtp_port)
        try:
            # the outbox retries about 5 s after the first failure (with jitter)
            assert {envelope[0] for envelope, _ in box.wait(3, timeout=40)} == {
                BOSS,
                "cfo@example.com",
                "audit@example.com",
            }
        finally:
            controller.stop()
    finally:
        server.close()


def test_escalation_emails_the_merged_recipients_who_may_then_decide(
    mailbox: Mailbox, email_server: EmailServer
) -> None:
    plain = humanlayer.FunctionCallSpec(fn="delete_backups", kwargs={"older_than_days": 30})
    email_server.hl.create_function_call(plain, call_id="del-1")  # no channel: nobody emailed
    escalation = humanlayer.Escalation(
        escalation_msg="Waiting for an hour <b>now</b>",
        additional_recipients=[humanlayer.EmailRecipient(address="lead@example.com", field="cc")],
        channel=humanlayer.ContactChannel(email=humanlayer.EmailContactChannel(address="oncall@example.com")),
    )
    escalated = email_server.hl.escalate_email_function_call("del-1", escalation)
    assert escalated.status.approved is None
    arrived = mailbox.wait(2)
    assert sorted(envelope[0] for envelope, _ in arrived) == ["lead@example.com", "oncall@example.com"]
    message = message_to(mailbox, "lead@example.com", count=2)
    assert message["To"] == "oncall@example.com"
    assert message["Cc"] == "lead@example.com"
    text, html = parts(message)
    assert '"Waiting for an hour <b>now</b>"' in text
    assert "Waiting for an hour &lt;b&gt;now&lt;/b&gt;" in html
    # a recipient added by the escalation may decide through its link
    path = links_of(text)["approve"].split("?")[0]
    assert email_server.web.post(path, data={"decision": "approve"}).status_code == 200
    status = email_server.item("del-1")["status"]
    assert status["approved"] is True
    assert status["responded_by"]["email"] == "lead@example.com"


def test_without_smtp_the_request_is_flagged_not_dropped(tmp_path: Path) -> None:
    server = LiveServer(tmp_path)
    server.start()
    try:
        hl = humanlayer.HumanLayer(api_key=server.create_key("agent"), api_base_url=server.api_base)
        hl.create_function_call(email_spec(), call_id="pay-nosmtp")
        db = Database.from_url(server.database_url)
        try:
            deadline = time.monotonic() + 20
            found: list[Any] = []
            while time.monotonic() < deadline:
                with db.read() as conn:
                    found = deliveries.list_recent(conn, sink="email")
                if len(found) == 3 and all(d.status == "failed" for d in found):
                    break
                time.sleep(0.1)
        finally:
            db.close()
        assert len(found) == 3
        assert all(d.status == "failed" and "email is not configured" in (d.last_error or "") for d in found)
        log = server.log.read_text()
        assert "email to boss@example.com could not be delivered: email is not configured" in log
    finally:
        server.stop()
