"""The account page: who you are, your projects, and changing your password (the current one
required, argon2, throttled; every other session ends)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from foureyes.server.inbox.security import SESSION_COOKIE
from foureyes.server.service import Service

from .inbox_helpers import PASSWORD, Browser, signed_in_browser

NEW = "a much longer passphrase"


@pytest.fixture
def ivy(app: FastAPI, client: Any, service: Service) -> Browser:
    return signed_in_browser(app, service, "ivy@example.com")


def change(browser: Browser, current: str, new: str = NEW, again: str | None = None) -> Any:
    data = {"current": current, "password": new, "password_again": new if again is None else again}
    return browser.post("/inbox/account/password", data)


def test_the_account_page_shows_who_and_where(ivy: Browser) -> None:
    page = ivy.get("/inbox/account")
    assert page.status_code == 200
    assert "ivy@example.com" in page.text
    assert 'href="/inbox/p/default"' in page.text
    assert 'autocomplete="current-password"' in page.text


def test_changing_the_password_needs_the_current_one_and_ends_other_sessions(
    app: FastAPI, ivy: Browser, service: Service
) -> None:
    elsewhere = Browser(app)
    assert elsewhere.sign_in("ivy@example.com").status_code == 303

    wrong = change(ivy, "not my password")
    assert wrong.status_code == 403
    assert "current password is wrong" in wrong.text
    assert change(ivy, PASSWORD, again="something else entirely").status_code == 422
    short = change(ivy, PASSWORD, new="short")
    assert short.status_code == 422
    assert "at least 10 characters" in short.text
    assert elsewhere.get("/inbox/account").status_code == 200  # nothing changed yet

    done = change(ivy, PASSWORD)
    assert done.status_code == 200
    assert 'id="changed"' in done.text
    # This session goes on; the other one has ended.
    assert ivy.get("/inbox/account").status_code == 200
    assert elsewhere.get("/inbox/account").status_code == 303
    stored = service.people.store.find_user("ivy@example.com")
    assert stored is not None
    assert stored.password_hash is not None
    assert stored.password_hash.startswith("$argon2id$")
    # Signing in takes the new password, not the old one.
    fresh = Browser(app)
    assert fresh.sign_in("ivy@example.com", PASSWORD).status_code == 401
    assert fresh.sign_in("ivy@example.com", NEW).status_code == 303
    assert SESSION_COOKIE in fresh.client.cookies


def test_guessing_the_current_password_is_throttled(ivy: Browser, service: Service) -> None:
    statuses = [change(ivy, f"guess number {n}").status_code for n in range(12)]
    assert 429 in statuses
    assert statuses[0] == 403
    # Locked out, even the right password is refused for now.
    assert change(ivy, PASSWORD).status_code == 429


def test_the_form_needs_its_csrf_token(ivy: Browser) -> None:
    data = {"current": PASSWORD, "password": NEW, "password_again": NEW}
    assert ivy.post("/inbox/account/password", data, csrf=False).status_code == 403
