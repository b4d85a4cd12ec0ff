"""Who may decide through an email link, what a link to a closed request says, and the project
settings page (default channels, deadline, email deciders) with the pending list's mark."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI

from foureyes.server.channels.email.links import PURPOSE, LinkClaim, LinkSigner
from foureyes.server.service import Service

from .conftest import Caller, function_call
from .inbox_helpers import Browser, make_person

BOSS = "boss@example.com"


def link_for(service: Service, project_id: int, call_id: str, recipient: str) -> str:
    expires = int((datetime.now(UTC) + timedelta(days=1)).timestamp())
    signer = LinkSigner(service.db.box.derive(PURPOSE))
    return "/email/" + signer.sign(LinkClaim(project_id, "function_call", call_id, recipient, expires))


def create(agent: Caller, call_id: str, *addresses: str) -> None:
    channel = {
        "email": {
            "address": addresses[0],
            "additional_recipients": [{"address": a, "field": "cc"} for a in addresses[1:]],
        }
    }
    assert agent.post("/function_calls", function_call(call_id, channel=channel)).status_code == 200


def test_members_only_refuses_recipients_who_are_not_deciding_members(
    client: Any, service: Service, agent: Caller
) -> None:
    service.projects.set_email_deciders_members_only("default", True)
    make_person(service, "viewer@example.com", "default", "viewer")
    make_person(service, "rev@example.com", "default", "reviewer")
    create(agent, "pay", BOSS, "viewer@example.com", "rev@example.com")

    for outsider in (BOSS, "viewer@example.com"):
        link = link_for(service, agent.project_id, "pay", outsider)
        shown = client.get(link)
        assert shown.status_code == 403
        assert "only its members may decide by email" in shown.text
        posted = client.post(link, data={"decision": "approve"})
        assert posted.status_code == 403
        assert service.items.get_function_call(agent.project_id, "pay").state == "pending"

    member = link_for(service, agent.project_id, "pay", "rev@example.com")
    assert client.get(member).status_code == 200
    assert client.post(member, data={"decision": "approve"}).status_code == 200
    item = service.items.get_function_call(agent.project_id, "pay")
    assert item.state == "approved"
    assert item.decisions[-1].actor_email == "rev@example.com"


def test_without_the_restriction_any_recipient_decides(client: Any, service: Service, agent: Caller) -> None:
    create(agent, "pay", BOSS)
    link = link_for(service, agent.project_id, "pay", BOSS)
    assert client.post(link, data={"decision": "reject", "comment": "no"}).status_code == 200
    assert service.items.get_function_call(agent.project_id, "pay").state == "rejected"


def test_a_routed_recipient_may_decide(client: Any, service: Service, agent: Caller) -> None:
    service.projects.set_default_channels("default", [{"email": {"address": "lead@example.com"}}])
    assert agent.post("/function_calls", function_call("routed")).status_code == 200
    assert client.get(link_for(service, agent.project_id, "routed", "lead@example.com")).status_code == 200
    assert client.get(link_for(service, agent.project_id, "routed", BOSS)).status_code == 403


def test_a_link_to_an_expired_request_says_it_expired(client: Any, service: Service, agent: Caller) -> None:
    create(agent, "late", BOSS)
    item = service.items.get_function_call(agent.project_id, "late")
    assert service.decisions.expire(item) is not None
    link = link_for(service, agent.project_id, "late", BOSS)
    shown = client.get(link)
    assert shown.status_code == 409
    assert "This request expired" in shown.text
    posted = client.post(link, data={"decision": "approve"})
    assert posted.status_code == 409
    assert "expired" in posted.text
    assert service.items.get_function_call(agent.project_id, "late").state == "expired"


def test_the_settings_page_sets_channels_deadline_and_email_deciders(
    app: FastAPI, service: Service, agent: Caller
) -> None:
    make_person(service, "admin@example.com", "default", "admin")
    make_person(service, "rev@example.com", "default", "reviewer")
    admin = Browser(app)
    admin.sign_in("admin@example.com")
    page = admin.get("/inbox/p/default/settings")
    assert page.status_code == 200
    assert 'href="/inbox/p/default/settings"' in page.text

    saved = admin.post(
        "/inbox/p/default/settings",
        {"addresses": "a@example.com\nb@example.com", "deadline": "2h", "members_only": "on"},
    )
    assert saved.status_code == 303
    project = service.projects.get("default")
    assert project.default_channels == (
        {"email": {"address": "a@example.com"}},
        {"email": {"address": "b@example.com"}},
    )
    assert project.expires_after_seconds == 7200
    assert project.email_deciders_members_only is True
    shown = admin.get("/inbox/p/default/settings").text
    assert "a@example.com\nb@example.com" in shown
    assert 'value="2h"' in shown
    assert re.search(r'name="members_only"\s+checked', shown)

    refused = admin.post("/inbox/p/default/settings", {"addresses": "nope", "deadline": "soon"})
    assert refused.status_code == 422
    assert service.projects.get("default").expires_after_seconds == 7200

    reviewer = Browser(app)
    reviewer.sign_in("rev@example.com")
    assert reviewer.get("/inbox/p/default/settings").status_code == 403
    assert 'href="/inbox/p/default/settings"' not in reviewer.get("/inbox/p/default").text


def test_the_pending_list_marks_a_request_whose_email_failed(
    app: FastAPI, service: Service, agent: Caller
) -> None:
    create(agent, "unsent", BOSS)  # no SMTP configured: failed at create
    assert agent.post("/function_calls", function_call("quiet")).status_code == 200
    make_person(service, "rev@example.com", "default", "reviewer")
    browser = Browser(app)
    browser.sign_in("rev@example.com")
    listing = browser.get("/inbox/p/default").text
    marks = re.findall(r'data-call-id="([^"]+)".*?(?=<li class="item"|</ul>)', listing, re.S)
    assert set(marks) == {"unsent", "quiet"}
    unsent = listing[listing.index('data-call-id="unsent"') :]
    unsent = unsent[: unsent.index("</li>")]
    quiet = listing[listing.index('data-call-id="quiet"') :]
    quiet = quiet[: quiet.index("</li>")]
    assert "Not delivered" in unsent
    assert "Not delivered" not in quiet
    item = browser.get("/inbox/p/default/function_calls/unsent").text
    assert 'id="delivery-failed"' in item
    assert "email is not configured" in item  # the attempt itself is listed
