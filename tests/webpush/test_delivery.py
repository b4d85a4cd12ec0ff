"""Web Push end to end in one process: a reviewer turns notifications on through the inbox with
a browser's own keys, an agent creates a request, and the local push service receives a message
signed with the server's VAPID key that decrypts to the function, the agent and the item page.
A 410 removes the subscription; a removed member is not notified."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from foureyes.server.service import Service
from foureyes.storage import DELIVERY_FAILED, DELIVERY_PENDING
from foureyes.storage import outbox as deliveries

from ..server.inbox_helpers import Browser, make_person
from .push_service import HANG_GUARD_SECONDS, BrowserKeys, PushService, vapid_claims

pytestmark = pytest.mark.slow

API = "/humanlayer/v1"
BASE = "/inbox/p/default"


def signed_in(app: FastAPI, service: Service, email: str, project: str = "default") -> Browser:
    make_person(service, email, project, "reviewer", email.split("@")[0].title())
    browser = Browser(app)
    assert browser.sign_in(email).status_code == 303
    return browser


def turn_on(browser: Browser, keys: BrowserKeys, endpoint: str, project: str = "default") -> Any:
    form = {"action": "on", "endpoint": endpoint, "p256dh": keys.p256dh, "auth": keys.auth}
    return browser.post(f"/inbox/p/{project}/push", form)


def agent_client(client: TestClient, service: Service, name: str) -> dict[str, str]:
    key = service.keys.create_api_key(project="default", scopes=("agent",), name=name).plaintext
    return {"Authorization": f"Bearer {key}"}


def create_call(client: TestClient, headers: dict[str, str], call_id: str, **kwargs: Any) -> None:
    body = {"run_id": "run-1", "call_id": call_id, "spec": {"fn": "wire_money", "kwargs": kwargs}}
    answer = client.post(f"{API}/function_calls", json=body, headers=headers)
    assert answer.status_code == 200, answer.text


def webpush_deliveries(service: Service) -> list[Any]:
    with service.db.read() as conn:
        return deliveries.list_recent(conn, sink="webpush")


def wait_until_settled(service: Service) -> list[Any]:
    deadline = time.monotonic() + HANG_GUARD_SECONDS
    while True:
        found = webpush_deliveries(service)
        if found and all(d.status != DELIVERY_PENDING for d in found):
            return found
        assert time.monotonic() < deadline, f"deliveries still pending: {found}"
        time.sleep(0.02)


def test_a_new_request_reaches_the_subscribed_reviewer_encrypted_and_signed(
    app: FastAPI, client: TestClient, service: Service, push: PushService
) -> None:
    ann = signed_in(app, service, "ann@example.com")
    page = ann.get(BASE).text
    public_key = service.push.public_key()
    # rendered hidden: it only shows once the script finds Web Push in the browser
    assert f'data-key="{public_key}"' in page
    assert 'id="push-switch" class="push-switch" hidden' in page

    keys = BrowserKeys()
    endpoint = f"{push.url}/sub/ann"
    answer = turn_on(ann, keys, endpoint)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"on": True, "left": 1}
    assert ann.post(f"{BASE}/push", {"action": "check", "endpoint": endpoint}).json()["on"] is True

    headers = agent_client(client, service, "billing-bot")
    create_call(client, headers, "pay-1", usd=5, to="bob")
    [received] = push.wait_for(1)

    assert received.path == "/sub/ann"
    assert int(received.headers["ttl"]) > 0
    claims, k = vapid_claims(received)
    assert k == public_key
    assert claims["aud"] == push.url
    assert claims["exp"] > time.time()
    assert claims["sub"].startswith(("mailto:", "https://"))

    message = keys.decrypt(received)
    assert message["title"] == "wire_money · billing-bot"
    assert message["body"] == '{"usd": 5, "to": "bob"}'
    assert message["data"]["url"] == f"{BASE}/function_calls/pay-1"
    item_page = ann.get(message["data"]["url"])
    assert item_page.status_code == 200
    assert "wire_money" in item_page.text

    # an escalation step notifies again, saying so
    escalated = client.post(
        f"{API}/agent/function_calls/pay-1/escalate_email",
        json={"escalation_msg": "still waiting"},
        headers=headers,
    )
    assert escalated.status_code == 200, escalated.text
    second = push.wait_for(2)[1]
    assert keys.decrypt(second)["title"] == "Escalated: wire_money · billing-bot"

    # turned off: the next request notifies nobody
    off = ann.post(f"{BASE}/push", {"action": "off", "endpoint": endpoint})
    assert off.json() == {"on": False, "left": 0}
    create_call(client, headers, "pay-2", usd=6)
    assert [d.call_id for d in webpush_deliveries(service)] == ["pay-1", "pay-1"]


def test_a_410_removes_the_subscription_and_is_not_retried(
    app: FastAPI, client: TestClient, service: Service, push: PushService
) -> None:
    bea = signed_in(app, service, "bea@example.com")
    push.status["/sub/gone"] = 410
    assert turn_on(bea, BrowserKeys(), f"{push.url}/sub/gone").status_code == 200
    assert len(service.push.of()) == 1

    create_call(client, agent_client(client, service, "bot"), "gone-1", usd=1)
    push.wait_for(1)
    [delivery] = wait_until_settled(service)
    assert delivery.status == DELIVERY_FAILED
    assert delivery.attempts == 1
    assert "410" in (delivery.last_error or "")
    assert service.push.of() == []


def test_only_current_members_of_the_project_are_notified(
    app: FastAPI, client: TestClient, service: Service, push: PushService
) -> None:
    cal = signed_in(app, service, "cal@example.com")
    dan = signed_in(app, service, "dan@example.com")
    eve = signed_in(app, service, "eve@example.com", project="other")
    for browser, name in ((cal, "cal"), (dan, "dan")):
        assert turn_on(browser, BrowserKeys(), f"{push.url}/sub/{name}").status_code == 200
    # a project eve is not a member of is refused, and hers notifies only her
    assert turn_on(eve, BrowserKeys(), f"{push.url}/sub/eve").status_code == 404
    assert turn_on(eve, BrowserKeys(), f"{push.url}/sub/eve", project="other").status_code == 200
    assert service.people.remove_user("dan@example.com", "default")

    create_call(client, agent_client(client, service, "bot"), "members-1", usd=2)
    push.wait_for(1)
    settled = wait_until_settled(service)
    assert [r.path for r in push.received] == ["/sub/cal"]
    assert len(settled) == 1
