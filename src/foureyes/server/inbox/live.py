"""Live updates: a Server-Sent Events stream per project, fed by the notifier's project topic.

An event carries no data ("something changed in this project"): the page re-reads what it shows
from the server, as a long-poll waiter re-reads its item, so a missed or duplicate event does no
harm and nothing the stream sends needs escaping.

The stream lasts only as long as the person's access: when they are removed from the project,
sign out or have their password reset, or the session expires, it sends a last ``revoked`` event
and ends (see ``server.revocations``); the page's script then stops listening.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from foureyes.server.api._common import in_thread, service_of
from foureyes.server.notifier import Subscription, project_topic
from foureyes.server.people import hash_secret
from foureyes.server.revocations import SessionGrant

from .session import signed_in

router = APIRouter()

KEEPALIVE_SECONDS = 15.0
REVOKED_EVENT = "event: revoked\ndata: {}\n\n"


@router.get("/p/{slug}/events")
async def events(request: Request, slug: str) -> StreamingResponse:
    reviewer = await signed_in(request)
    service = service_of(request)
    project, _ = await in_thread(service.people.project_for, reviewer.user.id, slug)
    grant = SessionGrant(hash_secret(reviewer.session_token), project.id)

    async def stream() -> AsyncIterator[str]:
        revoked = asyncio.Event()

        async def on_revoked() -> None:
            revoked.set()

        watched = service.revocations.add(grant, on_revoked)
        try:
            async with service.notifier.subscribe(project_topic(project.id)) as subscription:
                # The browser reconnects after this many milliseconds if the stream drops.
                yield "retry: 1000\n\n"
                # Registered before this check, so a revocation since the first one is not missed.
                if not await service.revocations.still_allowed(grant):
                    revoked.set()
                while not revoked.is_set():
                    changed = await _changed_unless(subscription, revoked)
                    if changed is None:
                        break
                    # A comment line keeps proxies from closing an idle stream.
                    yield "event: changed\ndata: {}\n\n" if changed else ": keep-alive\n\n"
                yield REVOKED_EVENT
        finally:
            service.revocations.discard(watched)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _changed_unless(subscription: Subscription, revoked: asyncio.Event) -> bool | None:
    """Whether the project changed within the keep-alive interval; None as soon as ``revoked``
    is set, also in the middle of the wait."""
    waiting = asyncio.ensure_future(subscription.wait(KEEPALIVE_SECONDS))
    stopping = asyncio.ensure_future(revoked.wait())
    try:
        await asyncio.wait((waiting, stopping), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        waiting.cancel()
    if revoked.is_set() or waiting.cancelled() or not waiting.done():
        return None
    return waiting.result()
