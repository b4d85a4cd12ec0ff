"""Live updates: a Server-Sent Events stream per project, fed by the notifier's project topic.

An event carries no data ("something changed in this project"): the page re-reads what it shows
from the server, as a long-poll waiter re-reads its item, so a missed or duplicate event does no
harm and nothing the stream sends needs escaping.

The stream is a subscriber of the push registry (``server.push``) and lasts only as long as the
person's access: when they are removed from the project, sign out or have their password reset,
or the session expires, it sends a last ``revoked`` event and ends; the page's script then stops
listening.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from foureyes.server.api._common import in_thread, service_of
from foureyes.server.people import hash_secret
from foureyes.server.push import EVENT_STREAM, SessionGrant, Subscriber, project_topic

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
        subscriber = Subscriber(EVENT_STREAM, grant)
        with service.subscribers.holding(subscriber):
            async with service.notifier.subscribe(project_topic(project.id)) as subscription:
                # The browser reconnects after this many milliseconds if the stream drops.
                yield "retry: 1000\n\n"
                # Registered before this check, so a revocation since the first one is not missed.
                if not await service.revocations.still_allowed(grant):
                    subscriber.revoked.set()
                while (changed := await subscriber.wait(subscription, KEEPALIVE_SECONDS)) is not None:
                    # A comment line keeps proxies from closing an idle stream.
                    yield "event: changed\ndata: {}\n\n" if changed else ": keep-alive\n\n"
                yield REVOKED_EVENT

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
