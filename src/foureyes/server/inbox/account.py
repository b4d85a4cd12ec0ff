"""Signing in and out, joining through an invitation or setup link, projects, personal tokens."""

from __future__ import annotations

import functools
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse

from foureyes.server import password_change
from foureyes.server.api._common import in_thread, service_of
from foureyes.server.domain.errors import (
    InvalidParameterError,
    InvitationError,
    LockedOutError,
    UnauthorizedError,
)
from foureyes.server.people import DECIDING_ROLES

from .render import page
from .security import (
    CSRF_COOKIE,
    anonymous_csrf_token,
    check_origin,
    check_token,
    clear_session_cookie,
    set_csrf_cookie,
    set_session_cookie,
)
from .session import Reviewer, check_form, current, safe_next, settings_of, signed_in

router = APIRouter()

SignedInReviewer = Annotated[Reviewer, Depends(signed_in)]


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _anonymous_page(request: Request, template: str, status_code: int = 200, **context: object) -> Response:
    """A page with a form shown before sign-in: it carries the double-submit CSRF token."""
    token = anonymous_csrf_token(request)
    response = page(request, template, status_code, csrf_token=token, **context)
    set_csrf_cookie(response, settings_of(request), token)
    return response


def _check_anonymous_form(request: Request, sent: str) -> None:
    check_origin(request, settings_of(request))
    check_token(sent, request.cookies.get(CSRF_COOKIE))


# ---------------------------------------------------------------- signing in and out


@router.get("/login")
async def login_form(request: Request, next: str = "/inbox") -> Response:
    if await current(request) is not None:
        return _see_other(safe_next(next))
    return _anonymous_page(request, "login.html", title="Sign in", next=safe_next(next), email="")


@router.post("/login")
async def login(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/inbox",
) -> Response:
    _check_anonymous_form(request, csrf)
    address = request.client.host if request.client else "unknown"
    people = service_of(request).people
    try:
        session = await in_thread(people.sign_in, email, password, address)
    except (UnauthorizedError, LockedOutError) as exc:
        status = 429 if isinstance(exc, LockedOutError) else 401
        return _anonymous_page(
            request,
            "login.html",
            status,
            title="Sign in",
            next=safe_next(next),
            email=email,
            message=exc.message,
        )
    response = _see_other(safe_next(next))
    set_session_cookie(response, settings_of(request), session.token)
    return response


@router.post("/logout")
async def logout(request: Request, reviewer: SignedInReviewer, csrf: Annotated[str, Form()] = "") -> Response:
    await check_form(request, reviewer, csrf)
    await in_thread(service_of(request).people.sign_out, reviewer.session_token)
    response = _see_other("/inbox/login")
    clear_session_cookie(response, settings_of(request))
    return response


# ---------------------------------------------------------------- invitations and setup


@router.get("/invite/{token}")
async def invitation_form(request: Request, token: str) -> Response:
    try:
        invitation = await in_thread(service_of(request).people.open_invitation, token)
    except InvitationError as exc:
        return page(request, "error.html", 404, title="Link not valid", message=str(exc))
    return _anonymous_page(request, "invite.html", title="Join foureyes", invitation=invitation, token=token)


@router.post("/invite/{token}")
async def accept_invitation(
    request: Request,
    token: str,
    csrf: Annotated[str, Form()] = "",
    email: Annotated[str, Form(max_length=320)] = "",
    display_name: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    password_again: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    _check_anonymous_form(request, csrf)
    people = service_of(request).people
    try:
        invitation = await in_thread(people.open_invitation, token)
    except InvitationError as exc:
        return page(request, "error.html", 404, title="Link not valid", message=str(exc))
    try:
        if password != password_again:
            raise ValueError("the two passwords differ")
        user = await in_thread(people.accept_invitation, token, email or None, display_name, password)
    except ValueError as exc:
        return _anonymous_page(
            request,
            "invite.html",
            422,
            title="Join foureyes",
            invitation=invitation,
            token=token,
            message=str(exc),
        )
    session = await in_thread(people.start_session, user)
    response = _see_other(f"/inbox/p/{invitation.project_slug}")
    set_session_cookie(response, settings_of(request), session.token)
    return response


# ---------------------------------------------------------------- the person's own account


@router.get("/account")
async def account_page(request: Request, reviewer: SignedInReviewer) -> Response:
    return await _account_page(request, reviewer)


async def _account_page(
    request: Request, reviewer: Reviewer, status_code: int = 200, **context: object
) -> Response:
    service = service_of(request)
    memberships = await in_thread(service.people.memberships_of, reviewer.user.id)
    passkeys = await in_thread(service.passkeys.list_for, reviewer.user.id)
    context.setdefault("changed", False)
    return page(
        request,
        "account.html",
        status_code,
        title="Your account",
        reviewer=reviewer,
        memberships=memberships,
        passkeys=passkeys,
        **context,
    )


@router.post("/account/password")
async def change_password(
    request: Request,
    reviewer: SignedInReviewer,
    csrf: Annotated[str, Form()] = "",
    current: Annotated[str, Form(max_length=1024)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    password_again: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    await check_form(request, reviewer, csrf)
    if password != password_again:
        return await _account_page(request, reviewer, 422, message="The two new passwords differ.")
    service = service_of(request)
    try:
        await in_thread(
            functools.partial(
                password_change.change_password,
                service.people,
                service.revocations.announce,
                user_id=reviewer.user.id,
                session_token=reviewer.session_token,
                current=current,
                new=password,
                address=request.client.host if request.client else "unknown",
            )
        )
    except (UnauthorizedError, LockedOutError, InvalidParameterError) as exc:
        status = {UnauthorizedError: 403, LockedOutError: 429}.get(type(exc), 422)
        return await _account_page(request, reviewer, status, message=exc.message)
    return await _account_page(request, reviewer, changed=True)


# ---------------------------------------------------------------- projects and tokens


@router.get("")
async def projects(request: Request, reviewer: SignedInReviewer) -> Response:
    memberships = await in_thread(service_of(request).people.memberships_of, reviewer.user.id)
    if len(memberships) == 1:
        return _see_other(f"/inbox/p/{memberships[0].project_slug}")
    return page(request, "projects.html", title="Projects", reviewer=reviewer, memberships=memberships)


async def _tokens_page(
    request: Request, reviewer: Reviewer, status_code: int = 200, **context: object
) -> Response:
    service = service_of(request)
    tokens = await in_thread(service.keys.list_personal_tokens, reviewer.user.id)
    memberships = await in_thread(service.people.memberships_of, reviewer.user.id)
    deciding = [m for m in memberships if m.role in DECIDING_ROLES]
    return page(
        request,
        "tokens.html",
        status_code,
        title="Personal tokens",
        reviewer=reviewer,
        tokens=tokens,
        projects=deciding,
        **context,
    )


@router.get("/tokens")
async def tokens(request: Request, reviewer: SignedInReviewer) -> Response:
    return await _tokens_page(request, reviewer, created=None)


@router.post("/tokens")
async def create_token(
    request: Request,
    reviewer: SignedInReviewer,
    csrf: Annotated[str, Form()] = "",
    project: Annotated[str, Form(max_length=100)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    await check_form(request, reviewer, csrf)
    service = service_of(request)
    create = service.keys.create_personal_token
    created = await in_thread(create, reviewer.user.id, project, name.strip() or None)
    # Shown on this page only: it is not stored in clear anywhere.
    return await _tokens_page(request, reviewer, created=created)


@router.post("/tokens/{key_id}/revoke")
async def revoke_token(
    request: Request, key_id: int, reviewer: SignedInReviewer, csrf: Annotated[str, Form()] = ""
) -> Response:
    await check_form(request, reviewer, csrf)
    await in_thread(service_of(request).keys.revoke_personal_token, reviewer.user.id, key_id)
    return _see_other("/inbox/tokens")
