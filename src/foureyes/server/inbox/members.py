"""A project's people, for its admins: the list, inviting someone, changing a person's role
and taking them out of the project (``server.members``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse

from foureyes.server.api._common import in_thread, service_of
from foureyes.server.domain.errors import (
    ConflictError,
    DomainError,
    InvalidParameterError,
    NotFoundError,
)
from foureyes.server.people import ADMIN, ROLES

from .render import page
from .session import Reviewer, admin_project, check_form, signed_in

router = APIRouter()
PEOPLE_ADMINS = "only the project's admins manage its people"
# what a refused change answers, with the people page and the reason on it
REFUSED: dict[type[DomainError], int] = {ConflictError: 409, NotFoundError: 404, InvalidParameterError: 422}

SignedInReviewer = Annotated[Reviewer, Depends(signed_in)]


@router.get("/p/{slug}/people")
async def people_page(request: Request, slug: str, reviewer: SignedInReviewer) -> Response:
    return await _people_page(request, slug, reviewer, link=None)


async def _people_page(
    request: Request, slug: str, reviewer: Reviewer, status_code: int = 200, **context: object
) -> Response:
    service = service_of(request)
    project = await admin_project(request, reviewer, slug, PEOPLE_ADMINS)
    members = await in_thread(service.people.members_of, project.id)
    rules = await in_thread(service.policies.list_for, project.id)
    groups = await in_thread(service.groups.list_for, project.id)
    return page(
        request,
        "people.html",
        status_code,
        title=f"People of {project.slug}",
        reviewer=reviewer,
        project=project,
        role=ADMIN,
        roles=ROLES,
        members=members,
        policies=rules,
        groups=groups,
        **context,
    )


@router.post("/p/{slug}/people")
async def invite(
    request: Request,
    slug: str,
    reviewer: SignedInReviewer,
    csrf: Annotated[str, Form()] = "",
    email: Annotated[str, Form(max_length=320)] = "",
    role: Annotated[str, Form(max_length=16)] = "reviewer",
) -> Response:
    await check_form(request, reviewer, csrf)
    project = await admin_project(request, reviewer, slug, PEOPLE_ADMINS)
    try:
        link = await in_thread(service_of(request).people.invite, email, project.slug, role)
    except ValueError as exc:
        return await _people_page(request, slug, reviewer, 422, link=None, message=str(exc))
    return await _people_page(request, slug, reviewer, link=link, invited=email)


@router.post("/p/{slug}/people/{user_id}/role")
async def change_role(
    request: Request,
    slug: str,
    user_id: int,
    reviewer: SignedInReviewer,
    csrf: Annotated[str, Form()] = "",
    role: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    await check_form(request, reviewer, csrf)
    project = await admin_project(request, reviewer, slug, PEOPLE_ADMINS)
    members = service_of(request).members
    try:
        await in_thread(members.change_role, project, user_id, role, by=reviewer.user.id)
    except (ConflictError, InvalidParameterError, NotFoundError) as exc:
        return await _people_page(request, slug, reviewer, REFUSED[type(exc)], link=None, message=str(exc))
    return _after_change(request, slug, reviewer, user_id)


@router.post("/p/{slug}/people/{user_id}/remove")
async def remove(
    request: Request, slug: str, user_id: int, reviewer: SignedInReviewer, csrf: Annotated[str, Form()] = ""
) -> Response:
    await check_form(request, reviewer, csrf)
    project = await admin_project(request, reviewer, slug, PEOPLE_ADMINS)
    members = service_of(request).members
    try:
        await in_thread(members.remove, project, user_id, by=reviewer.user.id)
    except (ConflictError, NotFoundError) as exc:
        return await _people_page(request, slug, reviewer, REFUSED[type(exc)], link=None, message=str(exc))
    return _after_change(request, slug, reviewer, user_id)


def _after_change(request: Request, slug: str, reviewer: Reviewer, user_id: int) -> Response:
    # An admin who stepped down (or out) can no longer see the people page: go to the projects.
    target = "/inbox" if user_id == reviewer.user.id else f"/inbox/p/{slug}/people"
    return RedirectResponse(target, status_code=303)
