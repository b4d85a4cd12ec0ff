"""Helpers for the browser tests: Debian's Chromium driven by Playwright, people and agents on a
real server."""

from __future__ import annotations

import re
import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from foureyes.server.service import Service, open_service
from foureyes.server.settings import Settings

from ..fast_hashing import FAST_HASHING

if TYPE_CHECKING:
    from .conftest import LiveServer


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct horse battery"
# Generous hang guards (milliseconds), never a measure of speed.
HANG_GUARD_MS = 20_000
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def chromium_path() -> str:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does)")
    return CHROMIUM


class Site:
    """One live server, with direct access to its database for setting up people and agents."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.service: Service = open_service(Settings(database_url=server.database_url, **FAST_HASHING))
        self._clients: list[httpx.Client] = []

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self.service.close()

    def person(self, email: str, project: str, role: str, name: str) -> None:
        """A person who has joined through their invitation link (over HTTP, as a browser does)."""
        _, link = self.service.people.add_user(email, project, role, name)
        assert link is not None
        path = "/inbox/invite/" + link.rsplit("/", 1)[1]
        with httpx.Client(base_url=self.server.url) as http:
            form = http.get(path)
            found = _CSRF.search(form.text)
            assert found, form.text
            data = {
                "csrf": found.group(1),
                "display_name": name,
                "password": PASSWORD,
                "password_again": PASSWORD,
            }
            joined = http.post(path, data=data)
            assert joined.status_code == 303, joined.text

    def invitation(self, email: str, project: str, role: str = "reviewer") -> str:
        """The token of a fresh invitation link (the last part of its path)."""
        link = self.service.people.invite(email, project, role)
        assert link is not None
        return link.rsplit("/", 1)[1]

    def key(self, project: str, scopes: tuple[str, ...] = ("agent",), name: str | None = None) -> str:
        return self.service.keys.create_api_key(project=project, scopes=scopes, name=name).plaintext

    def agent(self, key: str) -> httpx.Client:
        client = httpx.Client(base_url=self.server.api_base, headers={"Authorization": f"Bearer {key}"})
        self._clients.append(client)
        return client


def sign_in(page: Any, site: Site, email: str, at: str | None = None) -> None:
    """Sign in with the password, on the server's own URL or at ``at`` (another name for it)."""
    page.goto(f"{at or site.server.url}/inbox/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    # a person of one project lands on its list, of several on the list of projects
    page.wait_for_url(re.compile(r".*/inbox(/p/.*)?$"))


def function_call(call_id: str, fn: str = "send_email", **spec: Any) -> dict[str, Any]:
    run_id = spec.pop("run_id", "run-1")
    body: dict[str, Any] = {"fn": fn, "kwargs": {"to": "ana@example.com"}}
    body.update(spec)
    return {"run_id": run_id, "call_id": call_id, "spec": body}


def human_contact(call_id: str, msg: str, **spec: Any) -> dict[str, Any]:
    return {"run_id": "run-1", "call_id": call_id, "spec": {"msg": msg, **spec}}


def expect(locator: Any) -> Any:
    """Playwright's expect, imported when a browser test runs (not when the module is collected)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def in_thread(fn: Any) -> Future[Any]:
    """``fn()`` running in a thread of its own: an SDK call waiting while the browser decides."""
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(fn)
    pool.shutdown(wait=False)
    return future
