"""The inbox over HTTP: signing in, security headers and cookies, CSRF, pages, deciding, and the
permission matrix (project x role x action)."""

from __future__ import annotations

import html
from typing import Any

import pytest
from fastapi import FastAPI

from foureyes.server.inbox.security import CSP
from foureyes.server.service import Service

from ..fast_hashing import FAST_HASHING
from .inbox_helpers import PASSWORD, Browser, csrf_of, make_person


@pytest.fixture
def browser(app: FastAPI, client: Any) -> Browser:
    return Browser(app)


def test_pages_need_a_sign_in(browser: Browser) -> None:
    for path in ("/inbox", "/inbox/p/default", "/inbox/tokens", "/inbox/p/default/function_calls/x"):
        response = browser.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/inbox/login?next=")
    assert browser.get("/").headers["location"] == "/inbox"


def test_security_headers_on_every_page(browser: Browser) -> None:
    for path in ("/inbox/login", "/inbox/static/inbox.js", "/healthz"):
        headers = browser.get(path).headers
        assert headers["content-security-policy"] == CSP
        directives = {d.strip() for d in CSP.split(";")}
        for wanted in (
            "default-src 'self'",
            "script-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ):
            assert wanted in directives
        assert "unsafe-inline" not in CSP
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-content-type-options"] == "nosniff"
    assert browser.get("/inbox/static/inbox.js").headers["content-type"].startswith("text/javascript")
    assert browser.get("/inbox/login").headers["cache-control"] == "no-store"


def test_sign_in_sets_a_locked_down_session_cookie(service: Service, browser: Browser) -> None:
    make_person(service, "ann@example.com", "default", "reviewer")
    response = browser.sign_in("ann@example.com")
    assert response.status_code == 303
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie")
    assert cookie.startswith("foureyes_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie
    assert "Path=/inbox" in cookie
    assert browser.get("/inbox").headers["location"] == "/inbox/p/default"


def test_cookies_are_secure_when_configured(tmp_path: Any) -> None:
    from starlette.testclient import TestClient

    from foureyes.server.app import create_app
    from foureyes.server.settings import Settings

    app = create_app(
        Settings(database_url=f"sqlite:///{tmp_path / 's.db'}", cookie_secure=True, **FAST_HASHING)
    )
    with TestClient(app, base_url="https://testserver") as client:
        make_person(app.state.service, "sec@example.com", "default", "reviewer")
        form = client.get("/inbox/login")
        assert "Secure" in form.headers["set-cookie"]
        assert "SameSite=strict" in form.headers["set-cookie"]
        signed = client.post(
            "/inbox/login",
            data={"email": "sec@example.com", "password": PASSWORD, "csrf": csrf_of(form.text)},
            follow_redirects=False,
        )
        assert "Secure" in signed.headers["set-cookie"]


def test_wrong_password_and_lockout(service: Service, browser: Browser) -> None:
    make_person(service, "bob@example.com", "default", "reviewer")
    for _ in range(5):
        wrong = browser.sign_in("bob@example.com", "not the password")
        assert wrong.status_code == 401
        assert "wrong email address or password" in wrong.text
    locked = browser.sign_in("bob@example.com")
    assert locked.status_code == 429
    assert "too many failed sign-ins" in locked.text
    assert "foureyes_session" not in locked.headers.get("set-cookie", "")


def test_login_form_needs_its_csrf_token(service: Service, browser: Browser) -> None:
    make_person(service, "cat@example.com", "default", "reviewer")
    browser.get("/inbox/login")
    response = browser.client.post("/inbox/login", data={"email": "cat@example.com", "password": PASSWORD})
    assert response.status_code == 403
    assert "security token" in response.text


def test_state_changing_forms_need_the_session_token_and_same_origin(
    service: Service, browser: Browser, agent: Any, make_function_call: Any
) -> None:
    make_person(service, "dan@example.com", "default", "reviewer")
    browser.sign_in("dan@example.com")
    agent.post("/function_calls", make_function_call())
    url = "/inbox/p/default/function_calls/call-1"
    assert browser.post(url, {"action": "approve"}, csrf=False).status_code == 403
    assert browser.post(url, {"action": "approve", "csrf": "forged"}, csrf=False).status_code == 403
    cross = browser.post(url, {"action": "approve"}, headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403
    assert "another site" in cross.text
    assert service.items.get_function_call(agent.project_id, "call-1").state == "pending"
    assert browser.post(url, {"action": "approve"}).status_code == 303
    assert service.items.get_function_call(agent.project_id, "call-1").state == "approved"


def test_setup_link_creates_the_first_admin(app: FastAPI, service: Service, browser: Browser) -> None:
    link = service.people.setup_link_if_needed()
    assert link
    path = link.split("7444", 1)[1]
    form = browser.get(path)
    assert form.status_code == 200
    assert "Create the first admin" in form.text
    data = {
        "csrf": csrf_of(form.text),
        "email": "root@example.com",
        "display_name": "Root",
        "password": PASSWORD,
        "password_again": PASSWORD,
    }
    created = browser.client.post(path, data=data)
    assert created.status_code == 303
    assert created.headers["location"] == "/inbox/p/default"
    assert "People" in browser.get("/inbox/p/default").text  # an admin's tab
    # The link worked once.
    assert browser.get(path).status_code == 404
    again = Browser(app).client.post(path, data=data)
    assert again.status_code in (403, 404)


def test_detail_page_shows_everything_escaped(
    service: Service, browser: Browser, agent: Any, make_function_call: Any
) -> None:
    make_person(service, "eve@example.com", "default", "viewer")
    browser.sign_in("eve@example.com")
    long_text = "x" * 1000
    agent.post(
        "/function_calls",
        make_function_call(
            fn="<b>drop</b>",
            kwargs={"<i>k</i>": "<script>alert(1)</script>", "long": long_text, "n": {"a": [1, 2]}},
            reject_options=[{"name": "too_big", "title": "Too big", "description": "<u>d</u>"}],
        ),
    )
    page = browser.get("/inbox/p/default/function_calls/call-1")
    assert page.status_code == 200
    text = page.text
    assert "<b>drop</b>" not in text
    assert "&lt;b&gt;drop&lt;/b&gt;" in text
    assert "&lt;i&gt;k&lt;/i&gt;" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<script>alert" not in text
    assert '<details class="fold">' in text
    assert long_text in text  # folded, never cut
    # pretty-printed, each token coloured by its class
    assert (
        '<span class="k">"a"</span><span class="p">:</span> <span class="p">[</span>\n'
        '    <span class="n">1</span>' in text
    )
    assert "run-1" in text
    assert "you can see requests but not decide them" in text


def test_pending_list_filters_and_history(
    service: Service, browser: Browser, agent: Any, make_function_call: Any, make_human_contact: Any
) -> None:
    make_person(service, "fay@example.com", "default", "reviewer")
    browser.sign_in("fay@example.com")
    agent.post("/function_calls", make_function_call("a", fn="send_email"))
    agent.post("/function_calls", {**make_function_call("b", fn="delete_repo"), "run_id": "run-2"})
    agent.post("/human_contacts", make_human_contact("q", msg="Formal or casual?"))
    page = browser.get("/inbox/p/default").text.split('id="items"', 1)[1]
    # newest first (the decoy below is created after this)
    assert page.index("Formal or casual?") < page.index("delete_repo") < page.index("send_email")

    def listed(query: str) -> str:
        return str(browser.get(f"/inbox/p/default{query}").text.split('id="items"', 1)[1])

    assert "send_email" not in listed("?fn=delete_repo")
    # An argument that looks like the name does not match: only the function's own name does.
    agent.post("/function_calls", make_function_call("d", fn="decoy", kwargs={"x": {"fn": "delete_repo"}}))
    assert "decoy" not in listed("?fn=delete_repo")
    assert "delete_repo" in listed("?fn=delete_repo")
    only_run = listed("?run=run-2")
    assert "delete_repo" in only_run
    assert "send_email" not in only_run
    assert "Formal or casual?" not in listed("?kind=function_calls")
    assert "delete_repo" not in listed("?q=casual")
    assert "Nothing is waiting" in listed("?age=gt1h")
    assert "send_email" in listed("?age=lt1h")
    # The agent is the key that created the item: its name, else its prefix.
    assert "send_email" in listed(f"?agent={agent.key[:10]}")
    assert "Nothing is waiting" in listed("?agent=someone-else")

    browser.post("/inbox/p/default/function_calls/b", {"action": "reject", "comment": "not today"})
    history = browser.get("/inbox/p/default/history").text.split('id="items"', 1)[1]
    assert "delete_repo" in history
    assert "not today" in history
    assert "fay" in history
    assert "via inbox" in history
    assert '<code class="fn">delete_repo</code>' not in listed("")


def test_deciding_in_the_inbox(
    service: Service, browser: Browser, agent: Any, make_function_call: Any, make_human_contact: Any
) -> None:
    make_person(service, "gil@example.com", "default", "reviewer", "Gil")
    browser.sign_in("gil@example.com")
    options = [{"name": "too_big", "title": "Too big"}]
    agent.post("/function_calls", make_function_call("c1", reject_options=options))
    agent.post("/function_calls", make_function_call("c2"))
    agent.post("/function_calls", make_function_call("c3"))
    question = make_human_contact("h1", response_options=[{"name": "formal"}])
    agent.post("/human_contacts", question)
    agent.post("/human_contacts", make_human_contact("h2"))
    base = "/inbox/p/default"

    no_comment = browser.post(f"{base}/function_calls/c2", {"action": "reject", "comment": "  "})
    assert no_comment.status_code == 422
    assert "needs a comment" in no_comment.text
    assert (
        browser.post(f"{base}/function_calls/c1", {"action": "reject", "option": "too_big"}).status_code
        == 303
    )
    assert browser.post(f"{base}/function_calls/c2", {"action": "reject", "comment": "no"}).status_code == 303
    assert (
        browser.post(f"{base}/function_calls/c3", {"action": "approve", "comment": "ok"}).status_code == 303
    )
    assert browser.post(f"{base}/human_contacts/h1", {"option": "formal"}).status_code == 303
    assert browser.post(f"{base}/human_contacts/h2", {"response": "tomorrow"}).status_code == 303

    c1 = agent.get("/function_calls/c1").json()["status"]
    assert (c1["approved"], c1["reject_option_name"], c1["comment"]) == (False, "too_big", "Too big")
    assert c1["responded_by"] == {"email": "gil@example.com", "name": "Gil", "channel": "inbox"}
    assert agent.get("/function_calls/c2").json()["status"]["comment"] == "no"
    assert agent.get("/function_calls/c3").json()["status"]["approved"] is True
    h1 = agent.get("/human_contacts/h1").json()["status"]
    assert (h1["response"], h1["response_option_name"]) == ("formal", "formal")
    assert agent.get("/human_contacts/h2").json()["status"]["response"] == "tomorrow"

    twice = browser.post(f"{base}/function_calls/c3", {"action": "reject", "comment": "changed my mind"})
    assert twice.status_code == 409
    assert "already decided" in twice.text
    assert "Gil" in twice.text
    assert agent.get("/function_calls/c3").json()["status"]["approved"] is True


def test_personal_tokens_in_the_inbox(service: Service, browser: Browser, agent: Any) -> None:
    make_person(service, "hal@example.com", "default", "reviewer")
    browser.sign_in("hal@example.com")
    created = browser.post("/inbox/tokens", {"project": "default", "name": "laptop"})
    assert created.status_code == 200
    token = html.unescape(created.text.split('id="new-token" readonly value="', 1)[1].split('"', 1)[0])
    assert token.startswith("fe_")
    principal = service.keys.authenticate(token)
    assert principal.user_id is not None
    key_id = principal.key_id
    assert browser.post(f"/inbox/tokens/{key_id}/revoke", {}).status_code == 303
    assert "revoked" in browser.get("/inbox/tokens").text


def test_admins_invite_from_the_inbox(service: Service, browser: Browser, app: FastAPI) -> None:
    make_person(service, "ida@example.com", "default", "admin")
    browser.sign_in("ida@example.com")
    invited = browser.post("/inbox/p/default/people", {"email": "joe@example.com", "role": "viewer"})
    assert invited.status_code == 200
    link = html.unescape(invited.text.split('id="invite-link" readonly value="', 1)[1].split('"', 1)[0])
    joe = Browser(app)
    path = link.split("7444", 1)[1]
    form = joe.get(path)
    assert "joe@example.com" in form.text
    data = {
        "csrf": csrf_of(form.text),
        "display_name": "Joe",
        "password": PASSWORD,
        "password_again": PASSWORD,
    }
    assert joe.client.post(path, data=data).status_code == 303
    assert "viewer" in joe.get("/inbox/p/default").text
    people = browser.get("/inbox/p/default/people").text
    assert "joe@example.com" in people
    assert "ida@example.com" in people
    # Only admins manage people.
    assert joe.get("/inbox/p/default/people").status_code == 403


def test_the_live_stream_is_an_event_stream(service: Service, browser: Browser) -> None:
    make_person(service, "kim@example.com", "default", "viewer")
    browser.sign_in("kim@example.com")
    # Outsiders do not learn the project exists.
    assert browser.get("/inbox/p/nope/events").status_code == 404


# ---------------------------------------------------------------- the permission matrix

ROLES = ("admin", "reviewer", "viewer", None)
ACTIONS = ("list", "history", "view", "approve", "reject", "answer", "events", "invite")
# What each role gets for each action; None is "not a member of the project".
EXPECTED = {
    "admin": {"list": 200, "history": 200, "view": 200, "approve": 303, "reject": 303, "answer": 303,
              "events": 200, "invite": 200},
    "reviewer": {"list": 200, "history": 200, "view": 200, "approve": 303, "reject": 303, "answer": 303,
                 "events": 200, "invite": 403},
    "viewer": {"list": 200, "history": 200, "view": 200, "approve": 403, "reject": 403, "answer": 403,
               "events": 200, "invite": 403},
    None: dict.fromkeys(ACTIONS, 404),
}  # fmt: skip


@pytest.mark.parametrize("project", ["alpha", "beta"])
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ACTIONS)
def test_permission_matrix(
    service: Service,
    browser: Browser,
    make_function_call: Any,
    make_human_contact: Any,
    project: str,
    role: str | None,
    action: str,
) -> None:
    """One person with ``role`` in ``project`` (and another role elsewhere, which must not leak)."""
    other = "beta" if project == "alpha" else "alpha"
    if role is not None:
        make_person(service, "pat@example.com", project, role)
    make_person(service, "pat@example.com", other, "admin")
    keys = {}
    for slug in ("alpha", "beta"):
        created = service.keys.create_api_key(project=slug, scopes=("agent",))
        keys[slug] = service.keys.authenticate(created.plaintext).project_id
        service.items.create_function_call(keys[slug], make_function_call("fc"))
        service.items.create_human_contact(keys[slug], make_human_contact("hc"))
    browser.sign_in("pat@example.com")
    base = f"/inbox/p/{project}"
    if action == "events":
        # The stream never ends; only its refusals are answered at once.
        if EXPECTED[role][action] != 200:
            assert browser.get(f"{base}/events").status_code == EXPECTED[role][action]
        return
    response = {
        "list": lambda: browser.get(base),
        "history": lambda: browser.get(f"{base}/history"),
        "view": lambda: browser.get(f"{base}/function_calls/fc"),
        "approve": lambda: browser.post(f"{base}/function_calls/fc", {"action": "approve"}),
        "reject": lambda: browser.post(f"{base}/function_calls/fc", {"action": "reject", "comment": "no"}),
        "answer": lambda: browser.post(f"{base}/human_contacts/hc", {"response": "yes"}),
        "invite": lambda: browser.post(f"{base}/people", {"email": "new@example.com", "role": "viewer"}),
    }[action]()
    assert response.status_code == EXPECTED[role][action], response.text
    if response.status_code != 303:
        assert response.headers["content-type"].startswith("text/html")
    project_id = keys[project]
    fc = service.items.get_function_call(project_id, "fc").state
    hc = service.items.get_human_contact(project_id, "hc").state
    after = {
        "approve": ("approved", "pending"),
        "reject": ("rejected", "pending"),
        "answer": ("pending", "answered"),
    }
    if response.status_code == 303:
        assert (fc, hc) == after[action]
    else:
        assert (fc, hc) == ("pending", "pending")
    if response.status_code == 403 and action != "invite":
        assert "viewers can see but not decide" in response.text
    # The other project's items are never touched.
    assert service.items.get_function_call(keys[other], "fc").state == "pending"
