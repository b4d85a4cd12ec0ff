"""The navigation names each of the person's projects with how many requests wait there, counted
in one grouped query whatever the number of projects."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from sqlalchemy import event

from foureyes.server.service import Service

from .conftest import function_call
from .inbox_helpers import Browser, make_person

EMAIL = "ned@example.com"


def _selects(service: Service, browser: Browser, path: str) -> tuple[str, int]:
    statements: list[str] = []

    def seen(*args: Any) -> None:
        if str(args[2]).lstrip().upper().startswith("SELECT"):
            statements.append(str(args[2]))

    event.listen(service.db.engine, "before_cursor_execute", seen)
    try:
        page = browser.get(path)
    finally:
        event.remove(service.db.engine, "before_cursor_execute", seen)
    assert page.status_code == 200
    return page.text, len(statements)


def _nav_counts(page: str) -> dict[str, str]:
    found = re.findall(r'data-project="([^"]+)"[^>]*>[^<]*<span class="pill[^"]*">(\d+)<', page)
    return dict(found)


def test_every_project_with_its_pending_count_in_one_query(
    app: FastAPI, client: Any, service: Service
) -> None:
    make_person(service, EMAIL, "default", "reviewer", "Ned")
    browser = Browser(app)
    assert browser.sign_in(EMAIL).status_code == 303
    key = service.keys.create_api_key(project="default", scopes=("agent",)).plaintext
    agent = service.keys.authenticate(key)
    for n in range(3):
        service.items.create_function_call(agent.project_id, function_call(f"d{n}"))
    page, alone = _selects(service, browser, "/inbox/p/default")
    assert _nav_counts(page) == {"default": "3"}

    for slug in ("alpha", "beta", "gamma", "delta"):
        make_person(service, EMAIL, slug, "viewer")
    other = service.keys.authenticate(
        service.keys.create_api_key(project="beta", scopes=("agent",)).plaintext
    )
    service.items.create_function_call(other.project_id, function_call("b1"))
    page, with_five = _selects(service, browser, "/inbox/p/default")
    assert _nav_counts(page) == {"default": "3", "alpha": "0", "beta": "1", "gamma": "0", "delta": "0"}
    # Four more projects, not one more query.
    assert with_five == alone
    assert 'data-project="default" aria-current="true"' in page
