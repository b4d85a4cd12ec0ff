"""The installable inbox and its notification switch.

``/inbox/manifest.webmanifest`` and the service worker ``/inbox/sw.js`` (served from the inbox
itself, so its scope is the inbox) make the inbox an app a phone can install; the service worker
shows the push messages (``channels/webpush``) and opens the item page on a click. The switch on
a project's page (``static/push.js``) posts the browser's subscription here, with the session's
CSRF token like every inbox form. Without JavaScript the switch never shows, and nothing else
on the page depends on it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import FileResponse, JSONResponse

from foureyes.server.api._common import in_thread, service_of
from foureyes.server.domain.errors import ValidationFailedError

from .render import STATIC
from .session import Reviewer, check_form, signed_in

router = APIRouter()

SignedInReviewer = Annotated[Reviewer, Depends(signed_in)]
SCOPE = "/inbox"
MANIFEST = {
    "name": "foureyes inbox",
    "short_name": "foureyes",
    "description": "Approve or reject what your AI agents ask to do.",
    "start_url": SCOPE,
    "scope": SCOPE,
    "display": "standalone",
    "background_color": "#ffffff",
    "theme_color": "#0b5cad",
    "icons": [{"src": "/inbox/static/favicon.svg", "sizes": "any", "type": "image/svg+xml"}],
}


@router.get("/manifest.webmanifest")
async def manifest() -> Response:
    return JSONResponse(MANIFEST, media_type="application/manifest+json")


@router.get("/sw.js")
async def service_worker() -> Response:
    # Served from /inbox/ rather than /inbox/static/, and allowed the whole inbox as its scope.
    return FileResponse(
        STATIC / "sw.js",
        media_type="text/javascript",
        headers={"Service-Worker-Allowed": SCOPE, "Cache-Control": "no-cache"},
    )


@router.post("/p/{slug}/push")
async def push_switch(
    request: Request,
    slug: str,
    reviewer: SignedInReviewer,
    csrf: Annotated[str, Form()] = "",
    action: Annotated[str, Form(max_length=8)] = "",
    endpoint: Annotated[str, Form(max_length=4096)] = "",
    p256dh: Annotated[str, Form(max_length=256)] = "",
    auth: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    """``action``: ``on`` (subscribe this browser to this project), ``off``, or ``check``.
    Answers ``{"on": bool, "left": n}``: ``left`` is how many projects still notify this
    browser, so the page can drop the browser's subscription when none does."""
    await check_form(request, reviewer, csrf)
    service = service_of(request)
    project, _role = await in_thread(service.people.project_for, reviewer.user.id, slug)
    if not endpoint:
        raise ValidationFailedError("the subscription's endpoint is missing")
    push = service.push
    user_id = reviewer.user.id
    if action == "on":
        await in_thread(push.turn_on, user_id, project.id, endpoint, p256dh, auth)
        return JSONResponse({"on": True, "left": 1})
    if action == "off":
        left = await in_thread(push.turn_off, user_id, project.id, endpoint)
        return JSONResponse({"on": False, "left": left})
    if action == "check":
        return JSONResponse({"on": await in_thread(push.is_on, user_id, project.id, endpoint), "left": None})
    raise ValidationFailedError("action must be on, off or check")
