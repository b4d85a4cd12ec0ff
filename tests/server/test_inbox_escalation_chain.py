"""The inbox shows a project's escalation chain on its Settings page, and on an item's page the
steps it has had."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from foureyes.server.domain.chains import fired_steps
from foureyes.server.expiry import ExpiryTask
from foureyes.server.service import Service

from .conftest import Caller, function_call
from .inbox_helpers import Browser, make_person


def test_the_chain_on_the_settings_page_and_the_fired_step_on_the_item(
    app: FastAPI, client: Any, service: Service, agent: Caller
) -> None:
    service.projects.add_escalation_step("default", 600, [{"email": {"address": "oncall@example.com"}}])
    service.projects.add_escalation_step("default", 3600, [{"email": {"address": "lead@example.com"}}])
    make_person(service, "admin@example.com", "default", "admin")
    browser = Browser(app)
    browser.sign_in("admin@example.com")
    settings = browser.get("/inbox/p/default/settings").text
    assert "after 10m: email to oncall@example.com" in settings
    assert "after 1h: email to lead@example.com" in settings

    assert agent.post("/function_calls", function_call("chained")).status_code == 200
    assert 'id="escalation-chain"' not in browser.get("/inbox/p/default/function_calls/chained").text
    requested = service.items.get_function_call(agent.project_id, "chained").requested_at
    task = ExpiryTask(
        service.db, service.decisions, service.now, poll_interval_seconds=1, chains=service.chains
    )
    task.run_once(requested + timedelta(minutes=10))
    assert task.escalated == 1
    page = browser.get("/inbox/p/default/function_calls/chained").text
    assert 'id="escalation-chain"' in page
    assert "step 1 (after 10m) fired" in page
    assert "email to oncall@example.com" in page
    assert "step 2" not in page


@pytest.mark.slow
def test_the_running_server_fires_a_step_on_its_own(client: Any, service: Service, agent: Caller) -> None:
    service.projects.add_escalation_step("default", 1, [{"email": {"address": "oncall@example.com"}}])
    assert agent.post("/function_calls", function_call("on-its-own")).status_code == 200
    item_id = service.items.get_function_call(agent.project_id, "on-its-own").id
    deadline = time.monotonic() + 20
    fired: list[Any] = []
    while time.monotonic() < deadline and not fired:
        fired = fired_steps(service.db, item_id)
        time.sleep(0.1)
    assert [(step.number, step.after_seconds) for step in fired] == [(1, 1)]
