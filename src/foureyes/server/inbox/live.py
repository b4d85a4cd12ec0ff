"""Live updates: a Server-Sent Events stream per project, fed by the notifier's project topic.

An event carries no data ("something changed in this project"): the page re-reads what it shows
from the server, as a long-poll waiter re-reads its item, so a missed or duplicate event does no
harm and nothing the stream sends needs escaping.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from foureyes.server.api._common import in_thread, service_of
from foureyes.server.notifier import project_topic

from .session import signed_in

router = APIRouter()

KEEPALIVE_SECONDS = 15.0


@router.get("/p/{slug}/events")
async def events(request: Request, slug: str) -> StreamingResponse:
    reviewer = await signed_in(request)
    service = service_of(request)
    project, _ = await in_thread(service.people.project_for, reviewer.user.id, slug)

    async def stream() -> AsyncIterator[str]:
        async with service.notifier.subscribe(project_topic(project.id)) as subscription:
            # The browser reconnects after this many milliseconds if the stream drops.
            yield "retry: 1000\n\n"
            while True:
                if await subscription.wait(KEEPALIVE_SECONDS):
                    yield "event: changed\ndata: {}\n\n"
                else:
                    # A comment line keeps proxies from closing an idle stream.
                    yield ": keep-alive\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
