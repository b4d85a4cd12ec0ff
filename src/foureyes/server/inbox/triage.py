"""Deciding many pending function calls at once from the list.

The pending list is one form: a checkbox per function call, and "Approve selected" / "Reject
selected" buttons. Those lead to a confirmation page that lists what was selected (and asks
for the rejection's comment); only its confirm button decides, in one transaction
(``service.bulk``), and the result page says which were decided and which were skipped.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from foureyes._protocol import ItemKind, ItemState
from foureyes.server.api._common import in_thread, service_of
from foureyes.server.domain.bulk import MAX_BULK
from foureyes.server.domain.errors import NotFoundError, ValidationFailedError
from foureyes.server.people import ADMIN, DECIDING_ROLES
from foureyes.storage import ItemRecord, ProjectRecord

from .items import CHANNEL, SignedInReviewer, _project, item_url
from .render import page
from .session import Reviewer, check_form

router = APIRouter()

CallIds = Annotated[list[str], Form(max_length=256)]


async def _selected(request: Request, project: ProjectRecord, call_ids: list[str]) -> list[ItemRecord]:
    service = service_of(request)
    found = []
    for call_id in dict.fromkeys(call_ids):
        try:
            found.append(await in_thread(service.items.get_function_call, project.id, call_id))
        except NotFoundError:
            continue
    return found


def _render(
    request: Request,
    template: str,
    reviewer: Reviewer,
    project: ProjectRecord,
    role: str,
    status_code: int = 200,
    **context: object,
) -> Response:
    return page(
        request,
        template,
        status_code,
        reviewer=reviewer,
        project=project,
        role=role,
        is_admin=role == ADMIN,
        item_url=lambda item: item_url(project, item),
        **context,
    )


@router.post("/p/{slug}/bulk")
async def confirm(
    request: Request,
    slug: str,
    reviewer: SignedInReviewer,
    csrf: Annotated[str, Form()] = "",
    action: Annotated[str, Form(max_length=32)] = "",
    call_id: CallIds = [],  # noqa: B006 (FastAPI copies defaults)
    reject_one: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    """The confirmation page: what was selected, and (to reject) the comment for them all."""
    await check_form(request, reviewer, csrf)
    project, role = await _project(request, reviewer, slug)
    if reject_one:
        # A list row's own "Reject…" button: this one request, with a comment.
        action, call_id = "reject", [reject_one]
    if action not in ("approve", "reject"):
        raise ValidationFailedError("choose Approve selected or Reject selected")
    selected = [i for i in await _selected(request, project, call_id) if i.state == ItemState.PENDING]
    message = None
    if not selected:
        message = "Nothing selected is still pending: select requests with their checkboxes first."
    elif len(selected) > MAX_BULK:
        message = f"At most {MAX_BULK} requests can be decided at once."
    return _render(
        request,
        "bulk_confirm.html",
        reviewer,
        project,
        role,
        422 if message else 200,
        title=f"Confirm · {project.slug}",
        action=action,
        selected=selected[:MAX_BULK],
        may_decide=role in DECIDING_ROLES,
        message=message,
    )


@router.post("/p/{slug}/bulk/decide")
async def decide(
    request: Request,
    slug: str,
    reviewer: SignedInReviewer,
    csrf: Annotated[str, Form()] = "",
    action: Annotated[str, Form(max_length=32)] = "",
    call_id: CallIds = [],  # noqa: B006 (FastAPI copies defaults)
    comment: Annotated[str, Form(max_length=100_000)] = "",
) -> Response:
    """Decide every confirmed request in one transaction; say which were skipped and why."""
    await check_form(request, reviewer, csrf)
    project, role = await _project(request, reviewer, slug)
    if action not in ("approve", "reject"):
        raise ValidationFailedError("choose Approve or Reject")
    service = service_of(request)
    try:
        outcome = await in_thread(
            service.bulk.decide_function_calls,
            project.id,
            call_id,
            approved=action == "approve",
            comment=comment,
            channel=CHANNEL,
            actor_key_id=None,
            actor_user_id=reviewer.user.id,
        )
    except ValidationFailedError as exc:
        selected = [i for i in await _selected(request, project, call_id) if i.state == ItemState.PENDING]
        return _render(
            request,
            "bulk_confirm.html",
            reviewer,
            project,
            role,
            422,
            title=f"Confirm · {project.slug}",
            action=action,
            selected=selected,
            may_decide=role in DECIDING_ROLES,
            message=exc.message,
        )
    return _render(
        request,
        "bulk_done.html",
        reviewer,
        project,
        role,
        title=f"Decided · {project.slug}",
        action=action,
        outcome=outcome,
        kind=ItemKind.FUNCTION_CALL,
    )


@router.get("/p/{slug}/runs/{run_id:path}")
async def run(request: Request, slug: str, run_id: str, reviewer: SignedInReviewer) -> Response:
    """Every request of one run, oldest first, with its outcome: what the agent already did."""
    project, role = await _project(request, reviewer, slug)
    service = service_of(request)
    found = await in_thread(service.items.list_run_items, project.id, run_id)
    return _render(
        request,
        "run.html",
        reviewer,
        project,
        role,
        title=f"Run {run_id[:60]} · {project.slug}",
        run_id=run_id,
        items=found,
    )
