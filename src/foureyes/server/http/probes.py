"""``/healthz`` and ``/readyz``: what a process supervisor and a load balancer ask.

``/healthz`` says the process answers (restart it if not). ``/readyz`` says it can serve: the
database answers and its schema is at the newest migration this version ships; otherwise 503
with the error envelope (take it out of rotation, do not restart it). Neither needs a key: they
reveal nothing beyond whether the server works.
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from foureyes.server.domain.errors import UnavailableError
from foureyes.server.service import Service

logger = logging.getLogger(__name__)

# A database that does not answer within this is as good as down for a readiness probe.
READY_TIMEOUT_SECONDS = 5.0


async def healthz() -> JSONResponse:
    return JSONResponse({"ok": True})


async def readyz(request: Request) -> JSONResponse:
    service: Service = request.app.state.service
    try:
        current, heads = await asyncio.wait_for(
            asyncio.to_thread(service.db.schema_revisions), READY_TIMEOUT_SECONDS
        )
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        # The reason goes to the log, not to whoever asks: it may name hosts and users.
        logger.warning("not ready: the database cannot be reached: %s", exc)
        raise UnavailableError("the database cannot be reached") from None
    if current != heads:
        raise UnavailableError(
            "the database schema is not at this version's newest migration",
            [{"database": sorted(current), "expected": sorted(heads)}],
        )
    return JSONResponse({"ok": True, "migration": ",".join(sorted(current))})
