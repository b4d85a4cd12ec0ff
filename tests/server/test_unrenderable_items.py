"""What storage already holds cannot break a page: an item stored before the input policy, with
arguments nested 950 levels deep (or a number stored as infinity), renders everywhere with a
placeholder for that value and the rest of the item intact."""

from __future__ import annotations

import html
import json
import threading
from typing import Any

import pytest
from fastapi import FastAPI

from foureyes.server.renderable import MAX_RENDER_DEPTH, PLACEHOLDER, json_text, renderable
from foureyes.server.service import Service
from foureyes.storage import NewItem

from ..db import create_item
from .inbox_helpers import Browser, signed_in_browser

LEVELS = 950


def poison_kwargs() -> dict[str, Any]:
    return {"deep": json.loads("[" * LEVELS + "]" * LEVELS), "huge": float("inf"), "fine": "hello"}


def store_directly(service: Service, project_id: int, call_id: str) -> None:
    """As the server did before the input policy: straight into storage, no outbox. On a thread
    of its own, whose stack is as shallow as a server worker's, so the deep value can be written."""
    spec = {"fn": "poisoned", "kwargs": poison_kwargs(), "channel": None, "reject_options": None}
    new = NewItem(
        project_id=project_id,
        kind="function_call",
        call_id=call_id,
        run_id="run-1",
        spec=spec,
        request_digest="legacy",
        spec_digest="legacy",
        requested_at=service.now(),
        actor_key_id=None,
        channel="api",
    )
    failures: list[BaseException] = []

    def write() -> None:
        try:
            create_item(service.db, new)
        except BaseException as exc:  # reported on the test's own thread below
            failures.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    writer.join()
    assert not failures, failures


def check_rendered_item(item: dict[str, Any]) -> None:
    kwargs = item["spec"]["kwargs"]
    assert kwargs == {"deep": PLACEHOLDER, "huge": PLACEHOLDER, "fine": "hello"}
    assert item["spec"]["fn"] == "poisoned"
    assert item["call_id"] == "poison"


@pytest.fixture
def poisoned(service: Service, agent: Any, make_function_call: Any) -> None:
    store_directly(service, agent.project_id, "poison")
    assert agent.post("/function_calls", make_function_call("healthy")).status_code == 200


def test_the_api_renders_it_with_a_placeholder(poisoned: None, agent: Any, reviewer: Any) -> None:
    response = agent.get("/function_calls/poison")
    assert response.status_code == 200, response.text
    check_rendered_item(response.json())
    page = agent.get("/agent/function_calls/pending")
    assert page.status_code == 200, page.text
    by_id = {item["call_id"]: item for item in page.json()["items"]}
    assert set(by_id) == {"poison", "healthy"}
    check_rendered_item(by_id["poison"])
    assert by_id["healthy"]["spec"]["kwargs"] == {"x": 2, "y": 5}
    # It can still be decided, and its agent learns the decision.
    decided = reviewer.post("/agent/function_calls/poison/respond", {"approved": False, "comment": "no"})
    assert decided.status_code == 200, decided.text
    check_rendered_item(decided.json())
    final = agent.get("/function_calls/poison", params={"wait": 1}).json()
    assert (final["status"]["approved"], final["status"]["comment"]) == (False, "no")


@pytest.fixture
def signed_in(app: FastAPI, client: Any, service: Service) -> Browser:
    return signed_in_browser(app, service, "rev@example.com")


def test_the_inbox_renders_it_with_an_escaped_placeholder(
    poisoned: None, signed_in: Browser, reviewer: Any
) -> None:
    escaped = html.escape(PLACEHOLDER)
    listed = signed_in.get("/inbox/p/default")
    assert listed.status_code == 200, listed.text
    assert "poisoned" in listed.text
    assert "healthy" in listed.text
    assert escaped in listed.text
    page = signed_in.get("/inbox/p/default/function_calls/poison")
    assert page.status_code == 200, page.text
    assert escaped in page.text
    assert "hello" in page.text
    assert page.text.count("[[[[") == 0
    reviewer.post("/agent/function_calls/poison/respond", {"approved": True})
    history = signed_in.get("/inbox/p/default/history")
    assert history.status_code == 200, history.text
    assert "poisoned" in history.text
    assert escaped in history.text
    assert signed_in.get("/inbox/p/default/function_calls/poison").status_code == 200


def test_renderable_leaves_renderable_values_alone() -> None:
    value = {"a": [1, 2.5, "é", None, True, {"b": []}]}
    assert renderable(value) is value
    at_the_limit: Any = []
    for _ in range(MAX_RENDER_DEPTH - 1):
        at_the_limit = [at_the_limit]
    assert renderable(at_the_limit) is at_the_limit
    assert renderable([at_the_limit]) == PLACEHOLDER


def test_renderable_keeps_objects_and_replaces_what_cannot_be_rendered() -> None:
    chain: dict[str, Any] = {}
    cursor = chain
    for _ in range(LEVELS):
        cursor["a"] = {}
        cursor = cursor["a"]
    trimmed = renderable({"chain": chain, "text": "\ud800", "ok": 1})
    assert trimmed["text"] == PLACEHOLDER
    assert trimmed["ok"] == 1
    text = json_text(trimmed)
    # the outer object is level 1, so levels 2..MAX_RENDER_DEPTH of the chain are kept
    assert text.count('{"a":') == MAX_RENDER_DEPTH - 1
    assert '{"a": ' + json.dumps(PLACEHOLDER) + "}" in text
