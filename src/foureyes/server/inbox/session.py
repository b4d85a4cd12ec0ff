"""Who is looking: the signed-in reviewer of a request, from the session cookie."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast
from urllib.parse import quote, urlsplit

from fastapi import Request

from foureyes.server.api._common import in_thread, service_of
from foureyes.server.domain.errors import ForbiddenError
from foureyes.server.domain.passkeys import RelyingParty
from foureyes.server.people import ADMIN, SignedIn
from foureyes.server.settings import Settings
from foureyes.storage import ProjectRecord
from foureyes.storage.people import UserRecord

from .security import SESSION_COOKIE, check_origin, check_token


class LoginRequired(Exception):  # noqa: N818 - a control-flow signal, answered by a redirect
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


@dataclass(frozen=True)
class NavProject:
    """A project in the navigation: where it is, and how many requests wait there."""

    slug: str
    name: str
    pending: int


@dataclass(frozen=True)
class Reviewer:
    user: UserRecord
    csrf_token: str
    session_token: str
    projects: tuple[NavProject, ...] = ()


def settings_of(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


async def current(request: Request) -> Reviewer | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    service = service_of(request)

    def look_up() -> Reviewer | None:
        found: SignedIn | None = service.people.session(token)
        if found is None:
            return None
        memberships = service.people.memberships_of(found.user.id)
        # One grouped query for every project's count, whatever their number.
        counts = service.items.pending_counts([m.project_id for m in memberships])
        nav = tuple(
            NavProject(m.project_slug, m.project_name, counts.get(m.project_id, 0)) for m in memberships
        )
        return Reviewer(found.user, found.csrf_token, token, nav)

    return await in_thread(look_up)


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


async def admin_project(request: Request, reviewer: Reviewer, slug: str, refused: str) -> ProjectRecord:
    """The project, for one of its admins; anyone else gets 403 with ``refused`` (a project they
    are not in is 404, as everywhere)."""
    project, role = await in_thread(service_of(request).people.project_for, reviewer.user.id, slug)
    if role != ADMIN:
        raise ForbiddenError(refused)
    return project


def relying_party(request: Request) -> RelyingParty:
    """Who passkeys are for: the host of FOUREYES_PUBLIC_URL, or, when that is unset (a server
    on localhost), of the request itself; pages must come from that origin."""
    public = settings_of(request).public_url
    if public:
        parts = urlsplit(public)
        return RelyingParty(id=parts.hostname or "", origin=f"{parts.scheme}://{parts.netloc}")
    url = request.url
    return RelyingParty(id=url.hostname or "", origin=f"{url.scheme}://{url.netloc}")
