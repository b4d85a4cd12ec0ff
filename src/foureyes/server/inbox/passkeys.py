"""Passkeys in the inbox: adding and removing them on the account page, signing in with one, and
the step-up challenge a decision of a marked request is confirmed with (``domain/passkeys.py``).

WebAuthn itself needs JavaScript (``static/passkeys.js``): these routes take form-encoded
posts carrying the usual CSRF token and answer JSON to that script; removing a passkey is a
plain form. The relying party is the host of ``FOUREYES_PUBLIC_URL``, or, when that is unset
(a server on localhost), of the request itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from foureyes._protocol import ItemKind
from foureyes.server.api._common import in_thread, service_of
from foureyes.server.domain.errors import DomainError, NotFoundError
from foureyes.server.domain.passkeys import Ceremony
from foureyes.server.http.errors import error_response
from foureyes.server.people import DECIDING_ROLES

from .items import KINDS
from .security import CSRF_COOKIE, check_origin, check_token, set_session_cookie
from .session import Reviewer, check_form, relying_party, safe_next, settings_of, signed_in
from .step_up import verdict_of

router = APIRouter()

SignedInReviewer = Annotated[Reviewer, Depends(signed_in)]
# What the browser sends back: the nonce of its challenge and the credential as WebAuthn JSON.
Nonce = Annotated[str, Form(max_length=100)]
Credential = Annotated[str, Form(max_length=20_000)]
# The verdicts a step-up assertion can be bound to, by the kind of request (the decision form's action).
VERDICTS = {ItemKind.FUNCTION_CALL: ("approve", "reject"), ItemKind.HUMAN_CONTACT: ("answer",)}


async def _ceremony(start: Callable[..., Ceremony], *args: Any) -> Response:
    """The options and nonce of a ceremony ``start`` begins, as JSON for the script."""
    try:
        found = await in_thread(start, *args)
    except DomainError as exc:
        return _refused(exc)
    return JSONResponse({"nonce": found.nonce, "options": json.loads(found.options)})


def _refused(exc: DomainError) -> JSONResponse:
    """An error told to the script: the API's envelope and status, its message to show."""
    return error_response(exc)


# ---------------------------------------------------------------- the person's own passkeys


@router.post("/account/passkeys/options")
async def registration_options(
    request: Request, reviewer: SignedInReviewer, csrf: Annotated[str, Form()] = ""
) -> Response:
    await check_form(request, reviewer, csrf)
    passkeys = service_of(request).passkeys
    return await _ceremony(passkeys.registration_options, relying_party(request), reviewer.user)


@router.post("/account/passkeys")
async def register(
    request: Request,
    reviewer: SignedInReviewer,
    nonce: Nonce,
    credential: Credential,
    csrf: Annotated[str, Form()] = "",
    name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    await check_form(request, reviewer, csrf)
    passkeys = service_of(request).passkeys
    try:
        added = await in_thread(
            passkeys.register, relying_party(request), reviewer.user, nonce, credential, name
        )
    except DomainError as exc:
        return _refused(exc)
    return JSONResponse({"id": added.id, "name": added.name}, status_code=201)


@router.post("/account/passkeys/{passkey_id}/remove")
async def remove(
    request: Request, passkey_id: int, reviewer: SignedInReviewer, csrf: Annotated[str, Form()] = ""
) -> Response:
    await check_form(request, reviewer, csrf)
    await in_thread(service_of(request).passkeys.remove, reviewer.user.id, passkey_id)
    return RedirectResponse("/inbox/account?removed=1#passkeys-h", status_code=303)


# ---------------------------------------------------------------- signing in


def _check_anonymous(request: Request, sent: str) -> None:
    check_origin(request, settings_of(request))
    check_token(sent, request.cookies.get(CSRF_COOKIE))


@router.post("/login/passkey/options")
async def sign_in_options(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    _check_anonymous(request, csrf)
    passkeys = service_of(request).passkeys
    return await _ceremony(passkeys.sign_in_options, relying_party(request))


@router.post("/login/passkey")
async def sign_in(
    request: Request,
    nonce: Nonce,
    credential: Credential,
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/inbox",
) -> Response:
    _check_anonymous(request, csrf)
    service = service_of(request)
    try:
        user_id = await in_thread(service.passkeys.sign_in, relying_party(request), nonce, credential)
        user = await in_thread(service.people.get_user, user_id)
        if user is None:
            raise NotFoundError("the person of this passkey is gone")
    except DomainError as exc:
        return _refused(exc)
    session = await in_thread(service.people.start_session, user)
    response = JSONResponse({"next": safe_next(next)})
    set_session_cookie(response, settings_of(request), session.token)
    return response


# ---------------------------------------------------------------- step-up of one decision


@router.post("/p/{slug}/step-up/{kind_path}/{call_id:path}")
async def step_up_options(
    request: Request,
    slug: str,
    kind_path: str,
    call_id: str,
    reviewer: SignedInReviewer,
    csrf: Annotated[str, Form()] = "",
    action: Annotated[str, Form(max_length=32)] = "",
    edited_kwargs: Annotated[str, Form(max_length=1_000_000)] = "",
) -> Response:
    """A challenge bound to deciding this request with this verdict (and these edited
    arguments), for this person's passkeys."""
    await check_form(request, reviewer, csrf)
    service = service_of(request)
    kind = KINDS.get(kind_path)
    try:
        if kind is None or action not in VERDICTS[kind]:
            raise NotFoundError("no such request or verdict")
        verdict = verdict_of(kind, action, edited_kwargs)
        project, role = await in_thread(service.people.project_for, reviewer.user.id, slug)
        if role not in DECIDING_ROLES:
            raise NotFoundError("no such request to decide")
        item = await in_thread(service.items.get, project.id, kind, call_id)
    except DomainError as exc:
        return _refused(exc)
    start = service.passkeys.step_up_options
    return await _ceremony(start, relying_party(request), reviewer.user.id, item, verdict)
