"""The reviewer's web inbox, server-rendered under ``/inbox``.

Plain HTML forms do everything without JavaScript but passkeys; small scripts add the rest:
``static/inbox.js`` live updates over Server-Sent Events, ``static/edit.js`` the checks and the
diff of the arguments' editor (only on a page that has one), ``static/push.js`` the switch for phone
notifications (``notifications.py``), and ``static/passkeys.js`` the WebAuthn ceremonies
(``passkeys.py``), which cannot do without it. Routes are thin: they check who is asking, call
the service, render a template. See docs/inbox.md.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from foureyes.server.domain.errors import DomainError
from foureyes.server.input_policy import check_request_text

from . import account, items, live, members, notifications, passkeys, project, triage
from .render import STATIC, page
from .security import SecurityHeaders
from .session import LoginRequired, current, login_url

PREFIX = "/inbox"

_TITLES = {401: "Sign in needed", 403: "Not allowed", 404: "Not found", 409: "Already decided"}


async def error_page(request: Request, status_code: int, exc: DomainError) -> Response:
    """How an error under ``/inbox`` is shown: a page, not the API's JSON envelope (the app
    installs it for this prefix with ``foureyes.server.http.errors.install_error_handlers``)."""
    reviewer = await current(request)
    title = _TITLES.get(status_code, "Something went wrong")
    return page(request, "error.html", status_code, title=title, message=exc.message, reviewer=reviewer)


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(login_url(exc.next_path), status_code=303)


async def _root() -> RedirectResponse:
    return RedirectResponse(PREFIX, status_code=303)


def install(app: FastAPI) -> None:
    # Every path, query parameter and form field is checked against the input policy first.
    checked = [Depends(check_request_text)]
    app.include_router(account.router, prefix=PREFIX, dependencies=checked)
    app.include_router(members.router, prefix=PREFIX, dependencies=checked)
    app.include_router(live.router, prefix=PREFIX, dependencies=checked)
    app.include_router(triage.router, prefix=PREFIX, dependencies=checked)
    app.include_router(notifications.router, prefix=PREFIX, dependencies=checked)
    app.include_router(project.router, prefix=PREFIX, dependencies=checked)
    app.include_router(passkeys.router, prefix=PREFIX, dependencies=checked)
    # Last: its item routes end in a catch-all path.
    app.include_router(items.router, prefix=PREFIX, dependencies=checked)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="inbox-static")
    app.add_api_route("/", _root, methods=["GET"], include_in_schema=False)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_middleware(SecurityHeaders)
