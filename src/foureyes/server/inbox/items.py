"""A project's pending list, its history, an item's page, and deciding it.

Deciding calls the same ``Service`` methods as the REST API, with channel ``inbox`` and the
signed-in person as the actor; the service checks their role.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse

from foureyes._protocol import ItemKind
from foureyes.server.api._common import in_thread, service_of
from foureyes.server.channels.email.sink import email_deliveries, undelivered
from foureyes.server.channels.slack.sink import slack_deliveries
from foureyes.server.domain.chains import steps_of
from foureyes.server.domain.errors import (
    ConflictError,
    NotFoundError,
    StepUpRequiredError,
    ValidationFailedError,
)
from foureyes.server.people import ADMIN, DECIDING_ROLES
from foureyes.storage import ItemRecord, ProjectRecord
from foureyes.storage.credentials import redact
from foureyes.storage.inbox import InboxFilter, InboxRow

from . import views
from .arguments import arguments as rendered_arguments
from .filters import Filters
from .render import page
from .session import Reviewer, check_form, signed_in
from .step_up import confirmation, verdict_of

router = APIRouter()

SignedInReviewer = Annotated[Reviewer, Depends(signed_in)]
CHANNEL = "inbox"
KINDS = {"function_calls": ItemKind.FUNCTION_CALL, "human_contacts": ItemKind.HUMAN_CONTACT}
PATHS: dict[str, str] = {v: k for k, v in KINDS.items()}
# One page of a list; the next page starts after its last row (keyset paging, no cap).
PAGE_SIZE = 100


def _is_call(item: ItemRecord) -> bool:
    return item.kind == ItemKind.FUNCTION_CALL


def item_url(project: ProjectRecord, item: ItemRecord) -> str:
    return f"/inbox/p/{project.slug}/{PATHS[item.kind]}/{quote(item.call_id, safe='/')}"


async def _project(request: Request, reviewer: Reviewer, slug: str) -> tuple[ProjectRecord, str]:
    return await in_thread(service_of(request).people.project_for, reviewer.user.id, slug)


def run_url(project: ProjectRecord, item: ItemRecord) -> str:
    return f"/inbox/p/{project.slug}/runs/{quote(item.run_id, safe='')}"


def _cursor(request: Request) -> tuple[datetime, int] | None:
    """The ``after`` query parameter: ``<ISO time>~<id>`` of the previous page's last row."""
    raw = request.query_params.get("after", "")
    at, _, item_id = raw.rpartition("~")
    try:
        when = datetime.fromisoformat(at)
        return (when if when.tzinfo else when.replace(tzinfo=UTC), int(item_id))
    except ValueError:
        return None


def _page_url(request: Request, after: tuple[datetime, int] | None) -> str:
    """This list's URL with the same filters, at another page."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "after"]
    if after is not None:
        kept.append(("after", f"{after[0].isoformat()}~{after[1]}"))
    return f"{request.url.path}?{urlencode(kept)}" if kept else request.url.path


async def _rows(
    request: Request,
    project: ProjectRecord,
    filters: Filters,
    pending: bool,
    cursor: tuple[datetime, int] | None,
    limit: int = PAGE_SIZE + 1,
) -> list[InboxRow]:
    service = service_of(request)
    now = service.now()
    after = before = None
    if filters.age:
        _, span, newer = views.AGES[filters.age]
        if newer:
            after = now - span
        else:
            before = now - span
    wanted = InboxFilter(
        pending=pending,
        kind=KINDS.get(filters.kind),
        run_id=filters.run or None,
        fn=filters.fn or None,
        agent=filters.agent or None,
        text=filters.text or None,
        requested_after=after,
        requested_before=before,
        after=cursor,
        limit=limit,
    )
    return await in_thread(service.items.list_inbox, project.id, wanted)


def _list_context(request: Request, rows: list[InboxRow], filters: Filters) -> dict[str, Any]:
    functions = sorted({str(r.item.spec.get("fn")) for r in rows if r.item.kind == ItemKind.FUNCTION_CALL})
    agents = sorted({r.agent for r in rows if r.agent})
    return {
        "rows": rows,
        "filters": filters,
        "functions": functions,
        "agents": agents,
        "ages": views.AGES,
    }


async def _list_page(request: Request, slug: str, reviewer: Reviewer, *, pending: bool) -> Response:
    project, role = await _project(request, reviewer, slug)
    filters = Filters.from_request(request)
    after = _cursor(request)
    rows = await _rows(request, project, filters, pending, after)
    more, rows = len(rows) > PAGE_SIZE, rows[:PAGE_SIZE]
    last = rows[-1].item if rows else None
    next_after = None
    if more and last is not None:
        at = last.requested_at if pending else last.completed_at
        next_after = None if at is None else (at, last.id)
    counts = await in_thread(service_of(request).items.pending_counts, [project.id])
    # the VAPID key for the notification switch (pending page only)
    push_key = await in_thread(service_of(request).push.public_key) if pending else None
    flagged = await in_thread(undelivered, service_of(request).db, [r.item.id for r in rows])
    return page(
        request,
        "pending.html" if pending else "history.html",
        title=f"{'Pending' if pending else 'History'} · {project.slug}",
        reviewer=reviewer,
        project=project,
        role=role,
        is_admin=role == ADMIN,
        may_decide=role in DECIDING_ROLES,
        item_url=lambda item: item_url(project, item) + filters.query(),
        run_url=lambda item: run_url(project, item),
        total=counts.get(project.id, 0),
        push_key=push_key,
        done=await _just_decided(request, project),
        done_url=lambda item: item_url(project, item),
        undelivered=flagged,
        page_after=after,
        first_url=_page_url(request, None),
        next_url=None if next_after is None else _page_url(request, next_after),
        **_list_context(request, rows, filters),
    )


@router.get("/p/{slug}")
async def pending(request: Request, slug: str, reviewer: SignedInReviewer) -> Response:
    return await _list_page(request, slug, reviewer, pending=True)


@router.get("/p/{slug}/history")
async def history(request: Request, slug: str, reviewer: SignedInReviewer) -> Response:
    return await _list_page(request, slug, reviewer, pending=False)


async def _item_page(
    request: Request,
    reviewer: Reviewer,
    project: ProjectRecord,
    role: str,
    item: ItemRecord,
    status_code: int = 200,
    message: str | None = None,
    edited: str | None = None,
) -> Response:
    service = service_of(request)
    agent, channel = await in_thread(service.items.item_origin, item)
    emails = await in_thread(email_deliveries, service.db, item.id)
    slack = await in_thread(slack_deliveries, service.db, item.id)
    chain = await in_thread(steps_of, service.db, item)
    filters = Filters.from_request(request)
    audit = await in_thread(service.audit.entries_of, item)
    # step-up: where the decision forms get their challenge, and whether there is a passkey
    step_up = f"/inbox/p/{project.slug}/step-up/{PATHS[item.kind]}/{quote(item.call_id, safe='/')}"
    has_passkey = (
        bool(await in_thread(service.passkeys.list_for, reviewer.user.id)) if item.step_up else False
    )
    return page(
        request,
        "item.html",
        status_code,
        title=f"{views.headline(item)[:60]} · {project.slug}",
        reviewer=reviewer,
        project=project,
        role=role,
        is_admin=role == ADMIN,
        may_decide=role in DECIDING_ROLES,
        item=item,
        agent=agent,
        channel=channel,
        arguments=rendered_arguments(item.spec.get("kwargs") or {}) if _is_call(item) else [],
        # the editor holds the agent's arguments, or the reviewer's text the server refused
        asked_text=views.edit_text(item.spec.get("kwargs") or {}) if item.allow_edit else None,
        edit_text=(edited or views.edit_text(item.spec.get("kwargs") or {})) if item.allow_edit else None,
        edit_diff=views.edit_diff,
        contact_channel=redact(item.spec.get("channel")),
        emails=emails,
        slack=slack,
        chain=chain,
        audit=audit,
        message=message,
        url=item_url(project, item) + filters.query(),
        list_url=f"/inbox/p/{project.slug}{filters.query()}",
        run_link=run_url(project, item),
        done=await _just_decided(request, project) if status_code == 200 else None,
        done_url=lambda found: item_url(project, found),
        step_up_url=step_up if item.step_up else None,
        has_passkey=has_passkey,
    )


async def _get(request: Request, project: ProjectRecord, kind: str, call_id: str) -> ItemRecord:
    service = service_of(request)
    getter = (
        service.items.get_function_call if kind == ItemKind.FUNCTION_CALL else service.items.get_human_contact
    )
    return await in_thread(getter, project.id, call_id)


@router.get("/p/{slug}/{kind_path}/{call_id:path}")
async def item_page(
    request: Request, slug: str, kind_path: str, call_id: str, reviewer: SignedInReviewer
) -> Response:
    project, role = await _project(request, reviewer, slug)
    kind = _kind(kind_path)
    item = await _get(request, project, kind, call_id)
    return await _item_page(request, reviewer, project, role, item)


@router.post("/p/{slug}/{kind_path}/{call_id:path}")
async def decide(
    request: Request,
    slug: str,
    kind_path: str,
    call_id: str,
    reviewer: SignedInReviewer,
    csrf: Annotated[str, Form()] = "",
    action: Annotated[str, Form(max_length=32)] = "",
    comment: Annotated[str, Form(max_length=100_000)] = "",
    option: Annotated[str | None, Form(max_length=256)] = None,
    response: Annotated[str, Form(max_length=100_000)] = "",
    back: Annotated[str, Form(max_length=16)] = "",
    edited_kwargs: Annotated[str, Form(max_length=1_000_000)] = "",
    step_up_nonce: Annotated[str, Form(max_length=100)] = "",
    step_up_credential: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    await check_form(request, reviewer, csrf)
    project, role = await _project(request, reviewer, slug)
    kind = _kind(kind_path)
    service = service_of(request)
    try:
        confirmed = None
        if step_up_nonce and step_up_credential:
            # The passkey assertion (static/passkeys.js) that confirms this very decision.
            item = await _get(request, project, kind, call_id)
            verdict = verdict_of(kind, action, edited_kwargs)
            confirmed = await confirmation(
                request, reviewer, item, verdict, step_up_nonce, step_up_credential
            )
        if kind == ItemKind.FUNCTION_CALL:
            if action not in ("approve", "reject"):
                raise ValidationFailedError("choose Approve or Reject")
            await in_thread(
                service.decisions.decide_function_call,
                project.id,
                call_id,
                approved=action == "approve",
                comment=comment,
                reject_option_name=(option or None) if action == "reject" else None,
                # the JSON editor's text, checked by the domain (allowed? a change?)
                edited_kwargs=views.parse_edit(edited_kwargs) if action == "approve" else None,
                channel=CHANNEL,
                actor_key_id=None,
                actor_user_id=reviewer.user.id,
                step_up_credential=confirmed,
            )
        else:
            await in_thread(
                service.decisions.answer_human_contact,
                project.id,
                call_id,
                response=response,
                response_option_name=option or None,
                channel=CHANNEL,
                actor_key_id=None,
                actor_user_id=reviewer.user.id,
                step_up_credential=confirmed,
            )
    except ConflictError:
        item = await _get(request, project, kind, call_id)
        return await _item_page(
            request,
            reviewer,
            project,
            role,
            item,
            409,
            "This request was already decided, so your decision was not recorded. See below who decided.",
        )
    except ValidationFailedError as exc:
        item = await _get(request, project, kind, call_id)
        edited = edited_kwargs if action == "approve" else None
        return await _item_page(request, reviewer, project, role, item, 422, exc.message, edited)
    except StepUpRequiredError as exc:
        item = await _get(request, project, kind, call_id)
        return await _item_page(request, reviewer, project, role, item, 403, exc.message)
    filters = Filters.from_request(request)
    if back == "list":
        # Decided from the pending list's own Approve button: back to the list.
        return RedirectResponse(f"/inbox/p/{project.slug}{filters.query()}", status_code=303)
    # The next pending request in the same filters opens, saying what was just decided.
    decided = await _get(request, project, kind, call_id)
    after = await _next_pending(request, project, filters, decided)
    done = filters.query(done=f"{kind_path}/{call_id}")
    target = f"/inbox/p/{project.slug}" if after is None else item_url(project, after)
    return RedirectResponse(target + done, status_code=303)


async def _next_pending(
    request: Request, project: ProjectRecord, filters: Filters, decided: ItemRecord
) -> ItemRecord | None:
    """The pending request after ``decided`` in the list's order (newest first), or else the
    newest one left; None when nothing in these filters is pending."""
    rows = await _rows(request, project, filters, True, (decided.requested_at, decided.id), limit=1)
    if not rows:
        rows = await _rows(request, project, filters, True, None, limit=1)
    return rows[0].item if rows else None


async def _just_decided(request: Request, project: ProjectRecord) -> ItemRecord | None:
    """The item named by ``done`` (``<kind path>/<call id>``): the one decided just before."""
    kind_path, _, call_id = request.query_params.get("done", "").partition("/")
    kind = KINDS.get(kind_path)
    if kind is None or not call_id:
        return None
    try:
        item = await _get(request, project, kind, call_id)
    except NotFoundError:
        return None
    return item if item.decisions else None


def _kind(kind_path: str) -> str:
    kind = KINDS.get(kind_path)
    if kind is None:
        raise NotFoundError("no such page")
    return kind
