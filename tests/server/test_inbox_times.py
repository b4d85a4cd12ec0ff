"""How long a request has waited and its deadline, as the server renders them (the browser test
checks the ticking)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from foureyes.server.inbox.views import deadline
from foureyes.server.service import Service

from .inbox_helpers import Browser, signed_in_browser

BASE = "/inbox/p/default"
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def uma(app: FastAPI, client: Any, service: Service) -> Browser:
    return signed_in_browser(app, service, "uma@example.com")


@pytest.mark.parametrize(
    ("left", "said"),
    [
        (timedelta(seconds=30), "in 30 s"),
        (timedelta(minutes=90), "in 1 h 30 min"),
        (timedelta(days=2, hours=3), "in 2 d 3 h"),
        (timedelta(0), "expired"),
        (timedelta(minutes=-5), "expired"),
    ],
)
def test_the_deadline_in_words(left: timedelta, said: str) -> None:
    assert deadline(NOW + left, NOW) == said
    assert deadline(None, NOW) == ""


def test_waiting_and_the_deadline_on_the_list_the_item_and_the_run(
    uma: Browser, agent: Any, make_function_call: Any
) -> None:
    due = datetime.now(UTC) + timedelta(hours=3)
    body = {**make_function_call("due"), "expires_at": due.isoformat()}
    assert agent.post("/function_calls", body).status_code == 200
    assert agent.post("/function_calls", make_function_call("open-ended")).status_code == 200
    ticking = re.compile(r'<time class="deadline" data-deadline="[^"]+" [^>]*>in 2 h 59 min</time>')
    for path in ("", "/function_calls/due", "/runs/run-1"):
        page = uma.get(BASE + path).text
        assert ticking.search(page), path
        assert re.search(r'<time class="since" data-since="[^"]+" [^>]*>\d+ s</time>', page), path
        assert 'data-now="' in page
    assert "none: it waits until someone decides" in uma.get(f"{BASE}/function_calls/open-ended").text
