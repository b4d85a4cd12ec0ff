"""The service directly: one decision per item under races, channels, events, open_service."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from foureyes.server.domain.errors import ConflictError
from foureyes.server.domain.items import canonical_digest
from foureyes.server.service import Service, open_service
from foureyes.server.settings import Settings
from foureyes.storage import events, keys

from ..db import decisions_of, events_of


@pytest.fixture
def svc(database_url: str) -> Any:
    service = open_service(Settings(database_url=database_url))
    yield service
    service.close()


def _project(svc: Service) -> int:
    created = svc.keys.create_api_key(project="p", scopes=["agent", "respond"])
    return svc.keys.authenticate(created.plaintext).project_id


def test_racing_deciders_get_exactly_one_decision(svc: Service, make_function_call: Any) -> None:
    project_id = _project(svc)
    svc.items.create_function_call(project_id, make_function_call())
    racers = 8
    barrier = threading.Barrier(racers)

    def decide(n: int) -> str:
        barrier.wait()
        try:
            svc.decisions.decide_function_call(
                project_id, "call-1", approved=n % 2 == 0, comment=f"r{n}", channel="api", actor_key_id=None
            )
        except ConflictError:
            return "conflict"
        return "won"

    with ThreadPoolExecutor(max_workers=racers) as pool:
        outcomes = list(pool.map(decide, range(racers)))
    assert outcomes.count("won") == 1
    assert outcomes.count("conflict") == racers - 1
    item = svc.items.get_function_call(project_id, "call-1")
    assert len(decisions_of(svc.db, item.id)) == 1
    assert [e.type for e in events_of(svc.db, item.id)] == ["created", "decided"]
    assert item.decisions[0].comment == f"r{outcomes.index('won')}"


def test_racing_creates_store_one_item(svc: Service, make_function_call: Any) -> None:
    project_id = _project(svc)
    barrier = threading.Barrier(6)

    def create(_n: int) -> int:
        barrier.wait()
        return svc.items.create_function_call(project_id, make_function_call()).id

    with ThreadPoolExecutor(max_workers=6) as pool:
        ids = set(pool.map(create, range(6)))
    assert len(ids) == 1
    assert svc.items.list_pending_function_calls(project_id).total == 1


def test_decision_records_channel_actor_and_digest(svc: Service, make_function_call: Any) -> None:
    created = svc.keys.create_api_key(project="p", scopes=["respond"])
    project_id = svc.keys.authenticate(created.plaintext).project_id
    item = svc.items.create_function_call(project_id, make_function_call())
    assert item.spec_digest == canonical_digest({"fn": "multiply", "kwargs": {"x": 2, "y": 5}})
    decided = svc.decisions.decide_function_call(
        project_id, "call-1", approved=False, comment="no", channel="cli", actor_key_id=created.id
    )
    [decision] = decided.decisions
    assert (decision.verdict, decision.channel, decision.actor_key_id) == ("rejected", "cli", created.id)
    assert decision.spec_digest == item.spec_digest
    assert decided.state == "rejected"
    assert decided.completed_at == decision.decided_at
    [_, event] = events_of(svc.db, item.id)
    assert event.data["verdict"] == "rejected"
    assert event.channel == "cli"


def test_answer_records_an_answered_state(svc: Service, make_human_contact: Any) -> None:
    project_id = _project(svc)
    svc.items.create_human_contact(project_id, make_human_contact())
    answered = svc.decisions.answer_human_contact(
        project_id, "hc-1", response="yes", channel="cli", actor_key_id=None
    )
    assert answered.state == "answered"
    assert answered.decisions[0].response == "yes"
    assert svc.items.list_pending_human_contacts(project_id).total == 0


def test_request_digest_ignores_key_order(svc: Service, make_function_call: Any) -> None:
    project_id = _project(svc)
    first = svc.items.create_function_call(project_id, make_function_call())
    body = make_function_call()
    body["spec"] = dict(reversed(list(body["spec"].items())))
    assert svc.items.create_function_call(project_id, body).id == first.id


def test_open_service_creates_the_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nested' / 'dir' / 'x.db'}"
    service = open_service(Settings(database_url=url))
    try:
        key = service.keys.create_api_key()
        assert key.project == "default"
        assert key.scopes == ("agent",)
    finally:
        service.close()
    assert (tmp_path / "nested" / "dir" / "x.db").exists()


def test_one_info_line_per_state_change(
    svc: Service, make_function_call: Any, caplog: pytest.LogCaptureFixture
) -> None:
    project_id = _project(svc)
    svc.receipts.ensure_key()  # as the server does at start: making it is a change of its own
    with caplog.at_level(logging.INFO, logger="foureyes.server"):
        caplog.clear()
        svc.items.create_function_call(project_id, make_function_call(call_id="logged-1"))
        svc.items.create_function_call(
            project_id, make_function_call(call_id="logged-1")
        )  # no change, no line
        svc.escalations.escalate_function_call(project_id, "logged-1", {"escalation_msg": "hurry"})
        svc.decisions.decide_function_call(
            project_id, "logged-1", approved=True, channel="cli", actor_key_id=None
        )
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("foureyes.server")]
    assert len(lines) == 3
    assert all("'logged-1'" in line for line in lines)
    assert all(r.levelno == logging.INFO for r in caplog.records)


def test_administrative_changes_are_recorded_with_their_project(svc: Service) -> None:
    """Keys, roles and webhook endpoints change through emit too: one change log per project."""
    created = svc.keys.create_api_key(project="admin-log", scopes=["agent"], name="bot")
    endpoint, _ = svc.webhooks.add_webhook("admin-log", "https://hooks.example.com/x", allow_private=True)
    svc.webhooks.set_webhook_enabled(endpoint.id, False)
    user, _ = svc.people.add_user("rev@example.com", "admin-log", "reviewer")
    assert svc.people.remove_user("rev@example.com", "admin-log")
    assert svc.keys.revoke_api_key(created.id)
    with svc.db.read() as conn:
        (project,) = [p for p in [keys.find_project(conn, "admin-log")] if p is not None]
        logged = events.for_project(conn, project.id)
    assert [e.type for e in reversed(logged)] == [
        "key_created",
        "endpoint_added",
        "endpoint_disabled",
        "role_granted",
        # the link that lets the new person set a password is a change of its own
        "invitation_created",
        "role_removed",
        "key_revoked",
    ]
    assert all(e.item_id is None and e.project_id == project.id for e in logged)
    granted = next(e for e in logged if e.type == "role_granted")
    assert granted.data == {"user_id": user.id, "role": "reviewer"}
    assert next(e for e in logged if e.type == "key_created").data["prefix"] == created.prefix
