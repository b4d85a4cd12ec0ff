"""Who is looking: the signed-in reviewer of a request, from the session cookie."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast
from urllib.parse import quote

from fastapi import Request

from foureyes.server.api._common import in_thread, service_of
from foureyes.server.people import SignedIn
from foureyes.server.settings import Settings
from foureyes.storage.people import UserRecord

from .security import SESSION_COOKIE, check_origin, check_token


class LoginRequired(Exception):  # noqa: N818 - a control-flow signal, answered by a redirect
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


@dataclass(frozen=True)
class Reviewer:
    user: UserRecord
    csrf_token: str
    session_token: str


def settings_of(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


async def current(request: Request) -> Reviewer | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    found: SignedIn | None = await in_thread(service_of(request).people.session, token)
    return None if found is None else Reviewer(found.user, found.csrf_token, token)


async def signed_in(request: Request) -> Reviewer:
    """A FastAPI dependency: the reviewer, or a redirect to the sign-in page."""
    reviewer = await current(request)
    if reviewer is None:
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        raise LoginRequired(target)
    return reviewer


def login_url(next_path: str) -> str:
    return "/inbox/login?next=" + quote(next_path, safe="/")


def safe_next(value: str | None) -> str:
    """Only a path inside the inbox: never another site (an open redirect)."""
    if value and value.startswith("/inbox") and not value.startswith("//") and "\\" not in value:
        return value
    return "/inbox"


async def check_form(request: Request, reviewer: Reviewer, sent: str | None) -> None:
    check_origin(request, settings_of(request))
    check_token(sent, reviewer.csrf_token)
