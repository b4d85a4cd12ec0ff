"""The inbox shows a project's escalation chain on its Settings page, and on an item's page the
steps it has had; a request a policy escalated shows its own steps, those ahead too."""

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
@pytest.mark.parametrize("policy", [None, "chase"], ids=["chain", "policy"])
def test_the_running_server_fires_a_step_on_its_own(
    client: Any, service: Service, agent: Caller, policy: str | None
) -> None:
    if policy is None:
        service.projects.add_escalation_step("default", 1, [{"email": {"address": "oncall@example.com"}}])
    else:  # the deadline task is woken for the request's own first step
        service.policies.add("default", policy, "true", "escalate:1s>email:boss@example.com")
    assert agent.post("/function_calls", function_call("on-its-own")).status_code == 200
    item_id = service.items.get_function_call(agent.project_id, "on-its-own").id
    deadline = time.monotonic() + 20
    fired: list[Any] = []
    while time.monotonic() < deadline and not fired:
        fired = fired_steps(service.db, item_id)
        time.sleep(0.1)
    assert [(step.number, step.after_seconds, step.policy) for step in fired] == [(1, 1, policy)]


def test_a_policys_steps_on_the_item_page_ahead_then_fired_and_in_the_audit_log(
    app: FastAPI, client: Any, service: Service, agent: Caller
) -> None:
    service.projects.add_escalation_step("default", 600, [{"email": {"address": "oncall@example.com"}}])
    service.policies.add(
        "default", "chase", "true", "escalate:30m>email:boss@example.com;2h>slack:C0FIN,email"
    )
    make_person(service, "admin@example.com", "default", "admin")
    browser = Browser(app)
    browser.sign_in("admin@example.com")
    assert agent.post("/function_calls", function_call("chased")).status_code == 200
    url = "/inbox/p/default/function_calls/chased"
    page = browser.get(url).text
    assert "Escalation steps of policy chase" in page
    assert "step 1 (after 30m) due" in page
    assert "step 2 (after 2h) due" in page
    # "email" is the project's default email channels: it has none, so only Slack is left
    assert "Slack to C0FIN</li>" in page
    assert "oncall@example.com" not in page  # the project's chain is not this request's

    requested = service.items.get_function_call(agent.project_id, "chased").requested_at
    task = ExpiryTask(
        service.db, service.decisions, service.now, poll_interval_seconds=1, chains=service.chains
    )
    task.run_once(requested + timedelta(minutes=30))
    assert task.escalated == 1
    page = browser.get(url).text
    assert "step 1 (after 30m) fired" in page
    assert "email to boss@example.com" in page
    assert "step 2 (after 2h) due" in page
    # in the item's audit log, attributed to the rule's channel
    assert "<td>escalated</td><td>policy</td>" in page.split('id="audit-h"', 1)[1]

    service.decisions.decide_function_call(
        agent.project_id, "chased", approved=True, channel="api", actor_key_id=None
    )
    assert "step 2 (after 2h) not needed" in browser.get(url).text
