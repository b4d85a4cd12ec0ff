"""The inbox's item page shows the emails and Slack messages of a request, and flags those that failed."""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI

from foureyes.server.service import Service

from .conftest import Caller, function_call
from .inbox_helpers import Browser, make_person


def test_an_undeliverable_email_is_flagged_on_the_item_page(
    app: FastAPI, client: Any, service: Service, agent: Caller
) -> None:
    # These settings configure no SMTP server: the email cannot go out.
    channel = {"email": {"address": "boss@example.com", "additional_recipients": None}}
    assert agent.post("/function_calls", function_call("mail-1", channel=channel)).status_code == 200
    make_person(service, "rev@example.com", "default", "reviewer")
    browser = Browser(app)
    browser.sign_in("rev@example.com")
    deadline = time.monotonic() + 10
    text = ""
    while time.monotonic() < deadline:
        text = browser.get("/inbox/p/default/function_calls/mail-1").text
        if "email to <strong>boss@example.com</strong>" in text and "failed" in text:
            break
        time.sleep(0.05)
    assert "could not be delivered" in text
    assert "email is not configured on this server" in text


def test_an_undeliverable_slack_message_is_flagged_on_the_item_page(
    app: FastAPI, client: Any, service: Service, agent: Caller
) -> None:
    # These settings have no Slack bot token and the request gives none: nothing can be posted.
    channel = {"slack": {"channel_or_user_id": "C0OPS"}}
    assert agent.post("/function_calls", function_call("slack-1", channel=channel)).status_code == 200
    make_person(service, "rev@example.com", "default", "reviewer")
    browser = Browser(app)
    browser.sign_in("rev@example.com")
    deadline = time.monotonic() + 10
    text = ""
    while time.monotonic() < deadline:
        text = browser.get("/inbox/p/default/function_calls/slack-1").text
        if "message to <strong>C0OPS</strong>: failed" in text:
            break
        time.sleep(0.05)
    assert "Some Slack messages for this request could not be posted" in text
    assert "Slack is not configured on this server" in text
