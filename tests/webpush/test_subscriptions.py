"""The VAPID key (made once, kept sealed), what a subscription must be to be stored, the
installable inbox's manifest and service worker, and what a notification says."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from foureyes.server.channels.webpush.message import notification
from foureyes.server.domain.errors import InvalidParameterError
from foureyes.server.service import Service, open_service
from foureyes.server.settings import Settings
from foureyes.server.ssrf import UnsafeURLError
from foureyes.storage import ItemRecord
from foureyes.storage.schema import server_keys

from ..fast_hashing import FAST_HASHING
from .push_service import BrowserKeys

NOW = datetime(2026, 12, 3, tzinfo=UTC)


def test_the_vapid_key_is_made_once_kept_sealed_and_the_same_after_a_restart(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'f.db'}", **FAST_HASHING)
    first = open_service(settings)
    try:
        key = first.push.public_key()
        with first.db.read() as conn:
            [row] = conn.execute(select(server_keys)).all()
    finally:
        first.close()
    assert row.public_key == key
    assert row.sealed_private_key.startswith("sealed:v1:")
    assert "PRIVATE KEY" not in row.sealed_private_key
    again = open_service(settings)
    try:
        assert again.push.public_key() == key
    finally:
        again.close()


def _member(tmp_path: Path, **settings: Any) -> tuple[Service, int, int]:
    service = open_service(
        Settings(database_url=f"sqlite:///{tmp_path / 'f.db'}", **FAST_HASHING, **settings)
    )
    user, _ = service.people.add_user("ann@example.com", "default", "reviewer", "Ann")
    project, _ = service.people.project_for(user.id, "default")
    return service, user.id, project.id


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://127.0.0.1/push/1",  # loopback
        "https://169.254.169.254/latest",  # link-local: cloud metadata
        "https://10.0.0.8/push",  # private
        "http://push.example.com/plain",  # not https
        "file:///etc/passwd",
        "https://push.example.com/" + "x" * 2100,  # too long
    ],
)
def test_an_endpoint_the_ssrf_guard_refuses_is_not_stored(tmp_path: Path, endpoint: str) -> None:
    service, user_id, project_id = _member(tmp_path)
    keys = BrowserKeys()
    try:
        with pytest.raises((UnsafeURLError, InvalidParameterError)):
            service.push.turn_on(user_id, project_id, endpoint, keys.p256dh, keys.auth)
        assert service.push.of() == []
    finally:
        service.close()


@pytest.mark.parametrize(
    ("p256dh", "auth", "why"),
    [
        ("not-a-key", BrowserKeys().auth, "p256dh"),
        ("BA" + "A" * 85, BrowserKeys().auth, "P-256"),  # 65 bytes, but not a point on the curve
        (BrowserKeys().p256dh, "c2hvcnQ", "16 bytes"),
        (BrowserKeys().p256dh, "%%%", "base64url"),
    ],
)
def test_keys_that_cannot_be_encrypted_for_are_refused(
    tmp_path: Path, p256dh: str, auth: str, why: str
) -> None:
    service, user_id, project_id = _member(tmp_path, push_allow_private=True)
    try:
        with pytest.raises(InvalidParameterError, match=why):
            service.push.turn_on(user_id, project_id, "http://127.0.0.1:9/p", p256dh, auth)
    finally:
        service.close()


def test_one_browser_belongs_to_the_last_person_who_turned_it_on(tmp_path: Path) -> None:
    service, ann, project_id = _member(tmp_path, push_allow_private=True)
    try:
        bob, _ = service.people.add_user("bob@example.com", "default", "reviewer", "Bob")
        keys = BrowserKeys()
        endpoint = "http://127.0.0.1:9/shared-laptop"
        service.push.turn_on(ann, project_id, endpoint, keys.p256dh, keys.auth)
        service.push.turn_on(bob.id, project_id, endpoint, keys.p256dh, keys.auth)
        assert [s.user_id for s in service.push.of()] == [bob.id]
    finally:
        service.close()


def _item(kind: str, spec: dict[str, object], call_id: str = "c/1") -> ItemRecord:
    return ItemRecord(
        id=7,
        project_id=1,
        kind=kind,
        call_id=call_id,
        run_id="r",
        spec=spec,
        request_digest="",
        spec_digest="",
        state="pending",
        requested_at=NOW,
        completed_at=None,
        decisions=(),
    )


def test_a_notification_says_the_function_the_agent_and_a_short_summary_only() -> None:
    call = _item("function_call", {"fn": "deploy", "kwargs": {"diff": "x" * 5000, "env": "prod"}})
    message = notification(call, project_slug="ops", agent="ci-bot", escalated=False)
    assert message["title"] == "deploy · ci-bot"
    assert len(message["body"]) == 240
    assert message["body"].endswith("…")
    assert message["data"] == {"url": "/inbox/p/ops/function_calls/c/1"}
    question = _item("human_contact", {"msg": "Which\n\nregion?", "subject": None})
    asked = notification(question, project_slug="ops", agent=None, escalated=True)
    assert asked["title"] == "Escalated: Question · an unknown agent"
    assert asked["body"] == "Which region?"
    assert asked["data"] == {"url": "/inbox/p/ops/human_contacts/c/1"}
