"""A project's settings page for its admins: default channels (where a request that names no
channel goes), the default deadline, who may decide by email, and whether deciding needs a
passkey (step-up)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse

from foureyes.server.api._common import in_thread, service_of
from foureyes.server.domain.deadlines import duration_text, parse_duration
from foureyes.server.domain.errors import InvalidInputError
from foureyes.server.domain.projects import email_channels
from foureyes.server.people import ADMIN
from foureyes.storage import ProjectRecord

from .render import page
from .session import Reviewer, admin_project, check_form, signed_in
from .views import channel_words

router = APIRouter()

SignedInReviewer = Annotated[Reviewer, Depends(signed_in)]
SETTINGS_ADMINS = "only the project's admins change its settings"


def _form_values(project: ProjectRecord) -> dict[str, object]:
    addresses = [
        str(c["email"]["address"]) for c in project.default_channels if isinstance(c.get("email"), dict)
    ]
    seconds = project.expires_after_seconds
    return {
        "addresses": "\n".join(addresses),
        "other_channels": [c for c in project.default_channels if not isinstance(c.get("email"), dict)],
        "deadline": "" if seconds is None else duration_text(seconds),
        "members_only": project.email_deciders_members_only,
        "step_up": project.step_up,
        "escalation_steps": [
            {
                "after": duration_text(int(step["after_seconds"])),
                "to": [w for c in step["channels"] for w in channel_words(c)],
            }
            for step in project.escalation_steps
        ],
    }


async def _settings_page(
    request: Request, reviewer: Reviewer, project: ProjectRecord, status_code: int = 200, **context: object
) -> Response:
    values = _form_values(project)
    values.update(context)
    return page(
        request,
        "project_settings.html",
        status_code,
        title=f"Settings of {project.slug}",
        reviewer=reviewer,
        project=project,
        role=ADMIN,
        is_admin=True,
        **values,
    )


@router.get("/p/{slug}/settings")
async def settings_page(request: Request, slug: str, reviewer: SignedInReviewer) -> Response:
    project = await admin_project(request, reviewer, slug, SETTINGS_ADMINS)
    return await _settings_page(request, reviewer, project)


@router.post("/p/{slug}/settings")
async def save_settings(
    request: Request,
    slug: str,
    reviewer: SignedInReviewer,
    csrf: Annotated[str, Form()] = "",
    addresses: Annotated[str, Form(max_length=10_000)] = "",
    deadline: Annotated[str, Form(max_length=32)] = "",
    members_only: Annotated[str, Form(max_length=8)] = "",
    step_up: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    await check_form(request, reviewer, csrf)
    project = await admin_project(request, reviewer, slug, SETTINGS_ADMINS)
    projects = service_of(request).projects
    given = [a for a in addresses.replace(",", "\n").split() if a]
    who = {"actor_user_id": reviewer.user.id}
    try:
        seconds = parse_duration(deadline) if deadline.strip() else None
        # Channels other than email (set through the CLI) are kept as they are.
        kept = [c for c in project.default_channels if not isinstance(c.get("email"), dict)]
        await in_thread(projects.set_default_channels, project.slug, email_channels(given) + kept, **who)
        await in_thread(projects.set_deadline, project.slug, seconds, **who)
        await in_thread(projects.set_email_deciders_members_only, project.slug, members_only == "on", **who)
        await in_thread(projects.set_step_up, project.slug, step_up == "on", **who)
    except (InvalidInputError, ValueError) as exc:
        return await _settings_page(
            request,
            reviewer,
            project,
            422,
            addresses=addresses,
            deadline=deadline,
            members_only=members_only == "on",
            step_up=step_up == "on",
            message=str(exc),
        )
    return RedirectResponse(f"/inbox/p/{project.slug}/settings?saved=1", status_code=303)
