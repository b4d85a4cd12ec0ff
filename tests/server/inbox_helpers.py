"""Signing people into the in-process inbox and sending its forms, as a browser would."""

from __future__ import annotations

import html
import re
from typing import Any

from fastapi import FastAPI
from starlette.testclient import TestClient

from foureyes.server.service import Service

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(page: str) -> str:
    found = _CSRF.search(page)
    assert found, page
    return html.unescape(found.group(1))


def make_person(service: Service, email: str, project: str, role: str, name: str | None = None) -> int:
    user, link = service.people.add_user(email, project, role, name)
    if link is not None:
        service.people.accept_invitation(link.rsplit("/", 1)[1], None, name or email.split("@")[0], PASSWORD)
    return user.id


class Browser:
    """One person's cookie jar on the app."""

    def __init__(self, app: FastAPI) -> None:
        self.client = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
        self.csrf = ""

    def sign_in(self, email: str, password: str = PASSWORD) -> Any:
        form = self.client.get("/inbox/login")
        response = self.client.post(
            "/inbox/login", data={"email": email, "password": password, "csrf": csrf_of(form.text)}
        )
        if response.status_code == 303:
            self.csrf = csrf_of(self.client.get("/inbox/tokens").text)
        return response

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, **kw)

    def post(self, path: str, data: dict[str, Any], *, csrf: bool = True, **kw: Any) -> Any:
        body = {"csrf": self.csrf, **data} if csrf else data
        return self.client.post(path, data=body, **kw)


def signed_in_browser(app: FastAPI, service: Service, email: str, role: str = "reviewer") -> Browser:
    """A person of project ``default`` with ``role``, signed in."""
    make_person(service, email, "default", role, email.split("@")[0].title())
    browser = Browser(app)
    assert browser.sign_in(email).status_code == 303
    return browser
