"""HumanLayer's v1 wire protocol, mounted under ``/humanlayer/v1``.

Every answer is a JSON object; see docs/protocol.md. Routes are thin: they parse the request,
call the service on a worker thread and render the item. Long-poll waits happen on the event
loop, never on a worker thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from foureyes.models import FunctionCallStatus, HumanContactStatus
from foureyes.server.api._common import (
    in_thread,
    int_param,
    json_object,
    parse_model,
    scoped,
    service_of,
    wait_seconds,
)
from foureyes.server.auth import AGENT, RESPOND, Principal
from foureyes.server.errors import ValidationFailedError, field_error
from foureyes.server.service import DEFAULT_PAGE_SIZE, FUNCTION_CALL, HUMAN_CONTACT
from foureyes.server.wire import render_item, render_page
from foureyes.storage import ItemRecord

router = APIRouter()

Agent = Annotated[Principal, Depends(scoped(AGENT))]
Responder = Annotated[Principal, Depends(scoped(RESPOND))]
Reader = Annotated[Principal, Depends(scoped(AGENT, RESPOND))]

CHANNEL = "api"


# ---------------------------------------------------------------- function calls


@router.post("/function_calls")
async def create_function_call(request: Request, principal: Agent) -> JSONResponse:
    body = await json_object(request)
    item = await in_thread(
        service_of(request).create_function_call,
        principal.project_id,
        body,
        actor_key_id=principal.key_id,
        channel=CHANNEL,
    )
    return JSONResponse(render_item(item))


@router.get("/function_calls/{call_id:path}")
async def get_function_call(request: Request, call_id: str, principal: Agent) -> JSONResponse:
    getter = service_of(request).get_function_call
    item = await _read_waiting(request, principal, FUNCTION_CALL, call_id, getter)
    return JSONResponse(render_item(item))


@router.post("/agent/function_calls/{call_id:path}/respond")
async def respond_to_function_call(request: Request, call_id: str, principal: Responder) -> JSONResponse:
    status = parse_model(FunctionCallStatus, await json_object(request))
    if status.approved is None:
        raise ValidationFailedError(
            "approved must be true or false",
            [field_error(["body", "approved"], "must be true or false", "missing")],
        )
    item = await in_thread(
        service_of(request).decide_function_call,
        principal.project_id,
        call_id,
        approved=status.approved,
        comment=status.comment,
        reject_option_name=status.reject_option_name,
        channel=CHANNEL,
        actor_key_id=principal.key_id,
        actor_user_id=principal.user_id,
    )
    return JSONResponse(render_item(item))


@router.post("/agent/function_calls/{call_id:path}/escalate_email")
async def escalate_function_call(request: Request, call_id: str, principal: Agent) -> JSONResponse:
    body = await json_object(request)
    item = await in_thread(
        service_of(request).escalate_function_call,
        principal.project_id,
        call_id,
        body,
        channel=CHANNEL,
        actor_key_id=principal.key_id,
    )
    return JSONResponse(render_item(item))


@router.get("/agent/function_calls/pending")
async def pending_function_calls(request: Request, principal: Reader) -> JSONResponse:
    page = await in_thread(
        service_of(request).list_pending_function_calls,
        principal.project_id,
        limit=int_param(request, "limit", DEFAULT_PAGE_SIZE),
        offset=int_param(request, "offset", 0),
    )
    return JSONResponse(render_page(page))


# ---------------------------------------------------------------- human contacts


# The SDKs use /contact_requests; HumanLayer's API reference documents /human_contacts.
@router.post("/contact_requests")
@router.post("/human_contacts")
async def create_human_contact(request: Request, principal: Agent) -> JSONResponse:
    body = await json_object(request)
    item = await in_thread(
        service_of(request).create_human_contact,
        principal.project_id,
        body,
        actor_key_id=principal.key_id,
        channel=CHANNEL,
    )
    return JSONResponse(render_item(item))


@router.get("/contact_requests/{call_id:path}")
@router.get("/human_contacts/{call_id:path}")
async def get_human_contact(request: Request, call_id: str, principal: Agent) -> JSONResponse:
    getter = service_of(request).get_human_contact
    item = await _read_waiting(request, principal, HUMAN_CONTACT, call_id, getter)
    return JSONResponse(render_item(item))


@router.post("/agent/human_contacts/{call_id:path}/respond")
async def respond_to_human_contact(request: Request, call_id: str, principal: Responder) -> JSONResponse:
    status = parse_model(HumanContactStatus, await json_object(request))
    item = await in_thread(
        service_of(request).answer_human_contact,
        principal.project_id,
        call_id,
        response=status.response,
        response_option_name=status.response_option_name,
        channel=CHANNEL,
        actor_key_id=principal.key_id,
        actor_user_id=principal.user_id,
    )
    return JSONResponse(render_item(item))


@router.post("/agent/human_contacts/{call_id:path}/escalate_email")
async def escalate_human_contact(request: Request, call_id: str, principal: Agent) -> JSONResponse:
    body = await json_object(request)
    item = await in_thread(
        service_of(request).escalate_human_contact,
        principal.project_id,
        call_id,
        body,
        channel=CHANNEL,
        actor_key_id=principal.key_id,
    )
    return JSONResponse(render_item(item))


@router.get("/agent/human_contacts/pending")
async def pending_human_contacts(request: Request, principal: Reader) -> JSONResponse:
    page = await in_thread(
        service_of(request).list_pending_human_contacts,
        principal.project_id,
        limit=int_param(request, "limit", DEFAULT_PAGE_SIZE),
        offset=int_param(request, "offset", 0),
    )
    return JSONResponse(render_page(page))


# ---------------------------------------------------------------- project


@router.get("/project")
async def project(request: Request, principal: Reader) -> JSONResponse:
    found = await in_thread(service_of(request).get_project, principal.project_id)
    # A self-hosted server has no organisations; hlyr only checks the key works.
    return JSONResponse({"name": found.name, "slug": found.slug, "organization": "foureyes"})


# ---------------------------------------------------------------- long-poll


async def _read_waiting(
    request: Request,
    principal: Principal,
    kind: str,
    call_id: str,
    getter: Callable[[int, str], ItemRecord],
) -> ItemRecord:
    """The item now, or, with ``?wait=S``, as soon as it completes but after S seconds at most."""
    wait = wait_seconds(request)
    if not wait:
        return await in_thread(getter, principal.project_id, call_id)
    deadline = time.monotonic() + wait
    # Subscribe before the first read, so a decision committed in between still wakes us.
    async with service_of(request).notifier.subscribe((principal.project_id, kind, call_id)) as subscription:
        item = await in_thread(getter, principal.project_id, call_id)
        while item.state == "pending":
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            woken = await subscription.wait(remaining)
            # Re-read even after a timeout: another process may have decided without telling us.
            item = await in_thread(getter, principal.project_id, call_id)
            if not woken:
                break
    return item
