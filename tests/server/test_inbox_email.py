"""The inbox's item page shows the emails of a request, and flags those that failed."""

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
