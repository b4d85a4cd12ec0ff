"""People: users and roles, invitation and setup links, sign-in throttling, personal tokens and
who-decided attribution on the wire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from foureyes.server.domain.errors import ForbiddenError, NotFoundError, UnauthorizedError
from foureyes.server.people import InvitationError, LockedOutError, hash_secret
from foureyes.server.push import InProcessNotifier
from foureyes.server.service import Service
from foureyes.server.settings import Settings
from foureyes.storage import Database

from ..db import events_of
from ..fast_hashing import FAST_HASHING

PASSWORD = "correct horse battery"


def _token(link: str) -> str:
    return link.rsplit("/", 1)[1]


def test_a_new_user_joins_through_a_one_time_link(service: Service) -> None:
    user, link = service.people.add_user("Ana@Example.com", "default", "reviewer", "Ana")
    assert user.email == "ana@example.com"
    assert user.password_hash is None
    assert link is not None
    assert link.startswith("http://127.0.0.1:7444/inbox/invite/")
    # Only the hash of the link's token is stored.
    assert service.people.store.find_invitation(hash_secret(_token(link))) is not None

    joined = service.people.accept_invitation(_token(link), None, "Ana B.", PASSWORD)
    assert joined.display_name == "Ana B."
    assert joined.password_hash is not None
    assert joined.password_hash.startswith("$argon2id$")
    assert PASSWORD not in joined.password_hash
    with pytest.raises(InvitationError):
        service.people.accept_invitation(_token(link), None, "Mallory", "another password")
    session = service.people.sign_in("ANA@example.com", PASSWORD, "10.0.0.1")
    assert service.people.session(session.token) is not None
    assert service.people.role_in(joined.id, service.people.project_for(joined.id, "default")[0].id) == (
        "reviewer"
    )
    # A person who has a password gets no new link when given another role.
    _, again = service.people.add_user("ana@example.com", "other", "viewer")
    assert again is None


def test_invitations_expire(tmp_path: Path) -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    storage = Database.from_url(f"sqlite:///{tmp_path / 'p.db'}")
    storage.migrate()
    service = Service(
        storage,
        InProcessNotifier(),
        clock=lambda: now[0],
        settings=Settings(invitation_max_age_seconds=60, **FAST_HASHING),
    )
    try:
        link = service.people.invite("bo@example.com", "default", "viewer")
        now[0] += timedelta(seconds=61)
        with pytest.raises(InvitationError):
            service.people.accept_invitation(_token(link), None, "Bo", PASSWORD)
    finally:
        service.close()


def test_setup_link_exists_only_while_there_are_no_users(service: Service) -> None:
    first = service.people.setup_link_if_needed()
    second = service.people.setup_link_if_needed()
    assert first
    assert second
    assert first != second
    # Only the newest setup link works.
    with pytest.raises(InvitationError):
        service.people.open_invitation(_token(first))
    admin = service.people.accept_invitation(_token(second), "root@example.com", "Root", PASSWORD)
    project, role = service.people.project_for(admin.id, "default")
    assert (project.slug, role) == ("default", "admin")
    assert service.people.setup_link_if_needed() is None


def test_passwords_must_be_long_enough(service: Service) -> None:
    link = service.people.invite("cy@example.com", "default", "reviewer")
    with pytest.raises(ValueError, match="at least"):
        service.people.accept_invitation(_token(link), None, "Cy", "short")


def test_wrong_passwords_lock_out_one_account_from_one_address(service: Service) -> None:
    _, link = service.people.add_user("dee@example.com", "default", "reviewer")
    assert link
    service.people.accept_invitation(_token(link), None, "Dee", PASSWORD)
    for _ in range(Settings().login_max_failures):
        with pytest.raises(UnauthorizedError):
            service.people.sign_in("dee@example.com", "wrong password", "10.0.0.9")
    with pytest.raises(LockedOutError):
        service.people.sign_in("dee@example.com", PASSWORD, "10.0.0.9")
    # The same account from another address, and unknown accounts, are not locked by it.
    assert service.people.sign_in("dee@example.com", PASSWORD, "10.0.0.10").user.email == "dee@example.com"
    with pytest.raises(UnauthorizedError):
        service.people.sign_in("nobody@example.com", PASSWORD, "10.0.0.9")


def _person(service: Service, email: str, project: str, role: str) -> int:
    user, link = service.people.add_user(email, project, role)
    assert link
    service.people.accept_invitation(_token(link), None, email.split("@")[0].title(), PASSWORD)
    return user.id


def test_a_personal_token_decides_as_its_owner(
    service: Service, agent: Any, make_function_call: Any, make_human_contact: Any
) -> None:
    user_id = _person(service, "eve@example.com", "default", "reviewer")
    token = service.keys.create_personal_token(user_id, "default", "eve's laptop")
    assert token.scopes == ("respond",)
    headers = {"Authorization": f"Bearer {token.plaintext}"}
    agent.post("/function_calls", make_function_call())
    decided = agent.client.post(
        "/humanlayer/v1/agent/function_calls/call-1/respond", json={"approved": True}, headers=headers
    )
    assert decided.status_code == 200, decided.text
    expected = {"email": "eve@example.com", "name": "Eve", "channel": "api"}
    assert decided.json()["status"]["responded_by"] == expected
    assert agent.get("/function_calls/call-1").json()["status"]["responded_by"] == expected
    item = service.items.get_function_call(agent.project_id, "call-1")
    assert item.decisions[0].actor_user_id == user_id
    assert events_of(service.db, item.id)[-1].data["user_id"] == user_id

    agent.post("/human_contacts", make_human_contact())
    answered = agent.client.post(
        "/humanlayer/v1/agent/human_contacts/hc-1/respond", json={"response": "formal"}, headers=headers
    )
    assert answered.json()["status"]["responded_by"] == expected


def test_a_token_stops_deciding_when_its_owner_loses_the_role(
    service: Service, agent: Any, make_function_call: Any
) -> None:
    user_id = _person(service, "fay@example.com", "default", "reviewer")
    token = service.keys.create_personal_token(user_id, "default")
    service.people.add_user("fay@example.com", "default", "viewer")
    agent.post("/function_calls", make_function_call())
    refused = agent.client.post(
        "/humanlayer/v1/agent/function_calls/call-1/respond",
        json={"approved": True},
        headers={"Authorization": f"Bearer {token.plaintext}"},
    )
    assert refused.status_code == 403
    assert service.items.get_function_call(agent.project_id, "call-1").state == "pending"


def test_viewers_and_outsiders_get_no_deciding_tokens(service: Service) -> None:
    viewer = _person(service, "gus@example.com", "default", "viewer")
    with pytest.raises(ForbiddenError):
        service.keys.create_personal_token(viewer, "default")
    with pytest.raises(NotFoundError):
        service.keys.create_personal_token(viewer, "other")


def test_personal_tokens_are_listed_and_revoked_by_their_owner_only(service: Service) -> None:
    a = _person(service, "hal@example.com", "default", "reviewer")
    b = _person(service, "ida@example.com", "default", "admin")
    token = service.keys.create_personal_token(a, "default")
    assert [t.id for t in service.keys.list_personal_tokens(a)] == [token.id]
    assert service.keys.list_personal_tokens(b) == []
    with pytest.raises(NotFoundError):
        service.keys.revoke_personal_token(b, token.id)
    assert service.keys.revoke_personal_token(a, token.id)
    with pytest.raises(UnauthorizedError):
        service.keys.authenticate(token.plaintext)


def test_a_password_reset_voids_it_and_every_session(service: Service) -> None:
    _person(service, "jo@example.com", "default", "reviewer")
    session = service.people.sign_in("jo@example.com", PASSWORD, "10.0.0.1")
    link = service.people.reset_password("jo@example.com")
    assert service.people.session(session.token) is None
    with pytest.raises(UnauthorizedError):
        service.people.sign_in("jo@example.com", PASSWORD, "10.0.0.1")
    service.people.accept_invitation(_token(link), None, "Jo", "a brand new password")
    assert service.people.sign_in("jo@example.com", "a brand new password", "10.0.0.1").user.email == (
        "jo@example.com"
    )
