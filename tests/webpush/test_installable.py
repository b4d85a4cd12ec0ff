"""The inbox as an installable app: manifest and service worker from the inbox's own origin,
and a pending page that works without JavaScript (the switch is rendered hidden)."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.testclient import TestClient

from foureyes.server.service import Service

from ..server.inbox_helpers import Browser, make_person


def test_manifest_and_service_worker_are_served_from_the_inbox(client: TestClient) -> None:
    manifest = client.get("/inbox/manifest.webmanifest")
    assert manifest.status_code == 200
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    body = manifest.json()
    assert body["scope"] == "/inbox"
    assert body["start_url"] == "/inbox"
    assert all(icon["src"].startswith("/inbox/static/") for icon in body["icons"])

    worker = client.get("/inbox/sw.js")
    assert worker.status_code == 200
    assert worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["service-worker-allowed"] == "/inbox"
    assert 'addEventListener("push"' in worker.text
    # nothing from another origin: the page's policy would refuse it anyway
    assert "connect-src 'self'" in worker.headers["content-security-policy"]


def test_the_switch_needs_a_signed_in_reviewer_and_the_csrf_token(
    app: FastAPI, client: TestClient, service: Service
) -> None:
    make_person(service, "ann@example.com", "default", "reviewer", "Ann")
    ann = Browser(app)
    anonymous = ann.post("/inbox/p/default/push", {"action": "check", "endpoint": "x"}, csrf=False)
    assert anonymous.status_code == 303  # to the sign-in page
    assert ann.sign_in("ann@example.com").status_code == 303
    page = ann.get("/inbox/p/default").text
    assert '<link rel="manifest" href="/inbox/manifest.webmanifest">' in page
    assert '<script src="/inbox/static/push.js" defer></script>' in page
    forged = ann.post("/inbox/p/default/push", {"action": "check", "endpoint": "x"}, csrf=False)
    assert forged.status_code == 403
    assert ann.post("/inbox/p/default/push", {"action": "check", "endpoint": "x"}).json() == {
        "on": False,
        "left": None,
    }
