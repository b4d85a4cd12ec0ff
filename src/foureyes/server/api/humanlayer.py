"""HumanLayer's v1 wire protocol, mounted under ``/humanlayer/v1``.

Every answer is a JSON object; see docs/protocol.md. Routes are thin: they read the request,
then authenticate the key, parse the body and call the service in one worker-thread call
(``as_principal``), and render the item. Long-poll waits happen on the event loop, never on a
worker thread; each is a subscriber of the push registry (``server.push``) while it waits, so
a revocation of its key ends the wait at once with 401.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from foureyes._protocol import ItemKind, ItemState
from foureyes.models import BulkDecisionRequest, FunctionCallStatus, HumanContactStatus
from foureyes.server.api._common import (
    Credentials,
    as_principal,
    int_param,
    parse_json_object,
    parse_model,
    scoped,
    service_of,
    wait_seconds,
)
from foureyes.server.auth import AGENT, RESPOND, Principal
from foureyes.server.domain.bulk import Verdict
from foureyes.server.domain.errors import ValidationFailedError, field_error
from foureyes.server.input_policy import max_depth_of
from foureyes.server.push import LONG_POLL, KeyGrant, Subscriber, item_topic, settled_item
from foureyes.server.service import DEFAULT_PAGE_SIZE, PendingPage
from foureyes.server.wire import bulk_results, render_item, render_page
from foureyes.storage import ItemRecord

router = APIRouter()

Agent = Annotated[Credentials, Depends(scoped(AGENT))]
Responder = Annotated[Credentials, Depends(scoped(RESPOND))]
Reader = Annotated[Credentials, Depends(scoped(AGENT, RESPOND))]

CHANNEL = "api"


# ---------------------------------------------------------------- function calls


@router.post("/function_calls")
async def create_function_call(request: Request, credentials: Agent) -> JSONResponse:
    return await _create(request, credentials, service_of(request).items.create_function_call)


@router.get("/function_calls/{call_id:path}")
async def get_function_call(request: Request, call_id: str, credentials: Agent) -> JSONResponse:
    getter = service_of(request).items.get_function_call
    item = await _read_waiting(request, credentials, ItemKind.FUNCTION_CALL, call_id, getter)
    return JSONResponse(render_item(item))


@router.post("/agent/function_calls/{call_id:path}/respond")
async def respond_to_function_call(request: Request, call_id: str, credentials: Responder) -> JSONResponse:
    raw = await request.body()
    depth = max_depth_of(request)
    service = service_of(request)

    def decide(p: Principal) -> ItemRecord:
        status = parse_model(FunctionCallStatus, parse_json_object(raw, depth))
        if status.approved is None:
            raise ValidationFailedError(
                "approved must be true or false",
                [field_error(["body", "approved"], "must be true or false", "missing")],
            )
        return service.decisions.decide_function_call(
            p.project_id,
            call_id,
            approved=status.approved,
            comment=status.comment,
            reject_option_name=status.reject_option_name,
            channel=CHANNEL,
            actor_key_id=p.key_id,
            actor_user_id=p.user_id,
            edited_kwargs=status.edited_kwargs,
        )

    return JSONResponse(render_item(await as_principal(request, credentials, decide)))


# foureyes' extension: many verdicts in one transaction (docs/protocol.md). Declared before the
# single respond's path would matter: "/agent/function_calls/respond" never matches it.
@router.post("/agent/function_calls/respond")
async def respond_to_function_calls(request: Request, credentials: Responder) -> JSONResponse:
    raw = await request.body()
    depth = max_depth_of(request)
    service = service_of(request)

    def decide(p: Principal) -> list[dict[str, Any]]:
        body = parse_model(BulkDecisionRequest, parse_json_object(raw, depth))
        verdicts = [Verdict(**d.model_dump()) for d in body.decisions]
        outcome = service.bulk.decide_each(
            p.project_id, verdicts, channel=CHANNEL, actor_key_id=p.key_id, actor_user_id=p.user_id
        )
        return bulk_results(outcome, [v.call_id for v in verdicts])

    return JSONResponse({"results": await as_principal(request, credentials, decide)})


@router.post("/agent/function_calls/{call_id:path}/escalate_email")
async def escalate_function_call(request: Request, call_id: str, credentials: Agent) -> JSONResponse:
    escalate = service_of(request).escalations.escalate_function_call
    return await _escalate(request, credentials, call_id, escalate)


@router.get("/agent/function_calls/pending")
async def pending_function_calls(request: Request, credentials: Reader) -> JSONResponse:
    return await _pending(request, credentials, service_of(request).items.list_pending_function_calls)


# ---------------------------------------------------------------- human contacts


# The SDKs use /contact_requests; HumanLayer's API reference documents /human_contacts.
@router.post("/contact_requests")
@router.post("/human_contacts")
async def create_human_contact(request: Request, credentials: Agent) -> JSONResponse:
    return await _create(request, credentials, service_of(request).items.create_human_contact)


@router.get("/contact_requests/{call_id:path}")
@router.get("/human_contacts/{call_id:path}")
async def get_human_contact(request: Request, call_id: str, credentials: Agent) -> JSONResponse:
    getter = service_of(request).items.get_human_contact
    item = await _read_waiting(request, credentials, ItemKind.HUMAN_CONTACT, call_id, getter)
    return JSONResponse(render_item(item))


@router.post("/agent/human_contacts/{call_id:path}/respond")
async def respond_to_human_contact(request: Request, call_id: str, credentials: Responder) -> JSONResponse:
    raw = await request.body()
    depth = max_depth_of(request)
    service = service_of(request)

    def answer(p: Principal) -> ItemRecord:
        status = parse_model(HumanContactStatus, parse_json_object(raw, depth))
        return service.decisions.answer_human_contact(
            p.project_id,
            call_id,
            response=status.response,
            response_option_name=status.response_option_name,
            channel=CHANNEL,
            actor_key_id=p.key_id,
            actor_user_id=p.user_id,
        )

    return JSONResponse(render_item(await as_principal(request, credentials, answer)))


@router.post("/agent/human_contacts/{call_id:path}/escalate_email")
async def escalate_human_contact(request: Request, call_id: str, credentials: Agent) -> JSONResponse:
    escalate = service_of(request).escalations.escalate_human_contact
    return await _escalate(request, credentials, call_id, escalate)


@router.get("/agent/human_contacts/pending")
async def pending_human_contacts(request: Request, credentials: Reader) -> JSONResponse:
    return await _pending(request, credentials, service_of(request).items.list_pending_human_contacts)


# ---------------------------------------------------------------- project


@router.get("/project")
async def project(request: Request, credentials: Reader) -> JSONResponse:
    service = service_of(request)
    found = await as_principal(request, credentials, lambda p: service.items.get_project(p.project_id))
    # A self-hosted server has no organisations; hlyr only checks the key works.
    return JSONResponse({"name": found.name, "slug": found.slug, "organization": "foureyes"})


# ---------------------------------------------------------------- shared by both kinds


async def _create(
    request: Request, credentials: Credentials, create: Callable[..., ItemRecord]
) -> JSONResponse:
    raw = await request.body()
    depth = max_depth_of(request)
    item = await as_principal(
        request,
        credentials,
        lambda p: create(
            p.project_id,
            parse_json_object(raw, depth),
            actor_key_id=p.key_id,
            channel=CHANNEL,
            actor_user_id=p.user_id,
        ),
    )
    return JSONResponse(render_item(item))


async def _escalate(
    request: Request, credentials: Credentials, call_id: str, escalate: Callable[..., ItemRecord]
) -> JSONResponse:
    raw = await request.body()
    depth = max_depth_of(request)
    item = await as_principal(
        request,
        credentials,
        lambda p: escalate(
            p.project_id, call_id, parse_json_object(raw, depth), channel=CHANNEL, actor_key_id=p.key_id
        ),
    )
    return JSONResponse(render_item(item))


async def _pending(
    request: Request, credentials: Credentials, list_pending: Callable[..., PendingPage]
) -> JSONResponse:
    page = await as_principal(
        request,
        credentials,
        lambda p: list_pending(
            p.project_id,
            limit=int_param(request, "limit", DEFAULT_PAGE_SIZE),
            offset=int_param(request, "offset", 0),
        ),
    )
    return JSONResponse(render_page(page))


# ---------------------------------------------------------------- long-poll


async def _read_waiting(
    request: Request,
    credentials: Credentials,
    kind: str,
    call_id: str,
    getter: Callable[[int, str], ItemRecord],
) -> ItemRecord:
    """The item now, or, with ``?wait=S``, as soon as it completes but after S seconds at most."""
    principal, wait, item = await as_principal(
        request, credentials, lambda p: (p, wait_seconds(request), getter(p.project_id, call_id))
    )
    if not wait or item.state != ItemState.PENDING:
        return item
    deadline = time.monotonic() + wait

    def reread() -> Awaitable[ItemRecord]:
        # The key is checked again with every read: one revoked during the wait gets 401, not
        # the decision.
        return as_principal(request, credentials, lambda p: getter(p.project_id, call_id))

    def recheck_key(settled: ItemRecord) -> Awaitable[ItemRecord]:
        return as_principal(request, credentials, lambda _p: settled)

    service = service_of(request)
    topic = item_topic(principal.project_id, kind, call_id)
    subscriber = Subscriber(LONG_POLL, KeyGrant(principal.key_id))
    # A client that goes away ends its wait at once (nobody would read the answer). The watcher
    # is a task of its own, not a task group's, so an error of a re-read (a key revoked during
    # the wait: 401) reaches the error handler as itself.
    with anyio.CancelScope() as scope:
        watcher = asyncio.ensure_future(_cancel_on_disconnect(request, scope))
        try:
            # Read again once subscribed, so a decision committed between the first read and the
            # subscription still wakes us.
            with service.subscribers.holding(subscriber):
                async with service.notifier.subscribe(topic) as subscription:
                    item = await reread()
                    while item.state == ItemState.PENDING:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            break
                        # None once the key is revoked: the re-read then answers 401.
                        woken = await subscriber.wait(subscription, remaining)
                        # Re-read even after a timeout: another process may have decided without
                        # telling us. A decision of this process hands its item over; the key
                        # is checked all the same.
                        settled = settled_item(subscription, item) if woken else None
                        item = await (reread() if settled is None else recheck_key(settled))
                        if not woken:
                            break
        finally:
            watcher.cancel()
    return item


async def _cancel_on_disconnect(request: Request, scope: anyio.CancelScope) -> None:
    """Cancel ``scope`` when the client disconnects. A GET has no body to read, so what arrives
    after it is the disconnect (servers send it also once the answer is complete)."""
    try:
        while (await request.receive())["type"] != "http.disconnect":
            pass
    except Exception:  # e.g. a body over the size limit: stop listening, the wait goes on
        return
    scope.cancel()
