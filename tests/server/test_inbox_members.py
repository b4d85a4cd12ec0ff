"""Admins manage a project's people from the inbox: change a role, remove someone (their tokens
there revoked), and never leave the project without an admin, even when two admins step down at
once."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi import FastAPI

from foureyes.server.domain.errors import ConflictError
from foureyes.server.members import LAST_ADMIN
from foureyes.server.service import Service
from foureyes.storage import events, keys

from .inbox_helpers import Browser, make_person, signed_in_browser

PEOPLE = "/inbox/p/default/people"


@pytest.fixture
def admin(app: FastAPI, service: Service) -> Browser:
    return signed_in_browser(app, service, "ada@example.com", role="admin")


def _user_id(service: Service, email: str) -> int:
    return service.people.find_user(email).id


def _default(service: Service) -> Any:
    found = service.people.store.find_project("default")
    assert found is not None
    return found


def test_an_admin_makes_a_reviewer_a_viewer_who_then_cannot_decide(
    app: FastAPI, admin: Browser, agent: Any, service: Service, make_function_call: Any
) -> None:
    bob = signed_in_browser(app, service, "bob@example.com")
    bob_id = _user_id(service, "bob@example.com")
    listed = admin.get(PEOPLE).text
    assert f'action="{PEOPLE}/{bob_id}/role"' in listed

    changed = admin.post(f"{PEOPLE}/{bob_id}/role", {"role": "viewer"})
    assert changed.status_code == 303
    assert changed.headers["location"] == PEOPLE
    assert service.people.role_in(bob_id, _default(service).id) == "viewer"

    assert agent.post("/function_calls", make_function_call("after-demotion")).status_code == 200
    refused = bob.post("/inbox/p/default/function_calls/after-demotion", {"action": "approve"})
    assert refused.status_code == 403
    assert service.items.get_function_call(agent.project_id, "after-demotion").state == "pending"
    with service.db.read() as conn:
        logged = events.for_project(conn, _default(service).id)
    granted = next(e for e in logged if e.type == "role_granted")  # newest first
    assert granted.data == {"user_id": bob_id, "role": "viewer", "by": _user_id(service, "ada@example.com")}
    assert granted.channel == "inbox"


def test_removing_someone_revokes_their_tokens_and_their_access(
    app: FastAPI, admin: Browser, service: Service
) -> None:
    bob = signed_in_browser(app, service, "bob@example.com")
    bob_id = _user_id(service, "bob@example.com")
    token = service.keys.create_personal_token(bob_id, "default", "laptop")

    removed = admin.post(f"{PEOPLE}/{bob_id}/remove", {})
    assert removed.status_code == 303
    assert service.people.role_in(bob_id, _default(service).id) is None
    assert bob.get("/inbox/p/default").status_code == 404
    with service.db.read() as conn:
        assert (found := keys.get_key(conn, token.id)) is not None
        assert found.revoked_at is not None
    assert "bob@example.com" not in admin.get(PEOPLE).text


def test_the_last_admin_can_neither_step_down_nor_leave(admin: Browser, service: Service) -> None:
    ada_id = _user_id(service, "ada@example.com")
    for path, form in ((f"{PEOPLE}/{ada_id}/role", {"role": "reviewer"}), (f"{PEOPLE}/{ada_id}/remove", {})):
        refused = admin.post(path, form)
        assert refused.status_code == 409
        assert LAST_ADMIN in refused.text
        assert service.people.role_in(ada_id, _default(service).id) == "admin"


def test_an_admin_who_steps_down_lands_on_the_projects_page(
    app: FastAPI, admin: Browser, service: Service
) -> None:
    make_person(service, "cy@example.com", "default", "admin", "Cy")
    ada_id = _user_id(service, "ada@example.com")
    stepped_down = admin.post(f"{PEOPLE}/{ada_id}/role", {"role": "reviewer"})
    assert stepped_down.status_code == 303
    assert stepped_down.headers["location"] == "/inbox"
    assert admin.get(PEOPLE).status_code == 403


def test_only_admins_change_roles_and_only_with_the_form_token(
    app: FastAPI, admin: Browser, service: Service
) -> None:
    bob = signed_in_browser(app, service, "bob@example.com")
    ada_id = _user_id(service, "ada@example.com")
    assert bob.post(f"{PEOPLE}/{ada_id}/role", {"role": "viewer"}).status_code == 403
    assert admin.post(f"{PEOPLE}/{ada_id}/remove", {}, csrf=False).status_code == 403
    assert admin.post(f"{PEOPLE}/{ada_id}/role", {"role": "owner"}).status_code == 422
    assert admin.post(f"{PEOPLE}/999999/remove", {}).status_code == 404
    assert service.people.role_in(ada_id, _default(service).id) == "admin"


def test_two_admins_stepping_down_at_once_leave_one_admin(service: Service) -> None:
    first = make_person(service, "a1@example.com", "two-admins", "admin")
    second = make_person(service, "a2@example.com", "two-admins", "admin")
    project = service.people.store.find_project("two-admins")
    assert project is not None
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def step_down(user_id: int) -> None:
        start.wait()
        try:
            service.members.change_role(project, user_id, "reviewer", by=user_id)
            outcomes.append("changed")
        except ConflictError:
            outcomes.append("refused")

    threads = [threading.Thread(target=step_down, args=(u,)) for u in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["changed", "refused"]
    roles = [role for _, role in service.people.members_of(project.id)]
    assert sorted(roles) == ["admin", "reviewer"]
