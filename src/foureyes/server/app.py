"""``create_app(settings)``: the ASGI app, with storage migrated and the service wired in."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import Depends, FastAPI

from foureyes.server import inbox, logs
from foureyes.server.api import humanlayer, receipts, ws
from foureyes.server.audit.task import CheckpointTask
from foureyes.server.body_limit import BodySizeLimit
from foureyes.server.channels import sinks_for
from foureyes.server.channels.email import pages as email_pages
from foureyes.server.channels.slack import commands as slack_commands
from foureyes.server.channels.slack import interactions as slack_interactions
from foureyes.server.expiry import ExpiryTask
from foureyes.server.http import metrics, openapi, probes
from foureyes.server.http.errors import CatchUnhandled, install_error_handlers
from foureyes.server.http.request_id import RequestId
from foureyes.server.input_policy import check_request_text
from foureyes.server.outbox import OutboxWorker
from foureyes.server.service import open_service
from foureyes.server.settings import Settings
from foureyes.storage.server_lock import acquire_server_lock

logger = logging.getLogger(__name__)

API_PREFIX = "/humanlayer/v1"


def create_app(settings: Settings) -> FastAPI:
    """Open and migrate the database now, so a bad URL or schema fails before the port opens.
    On SQLite, first take the database's server lock (``storage/server_lock.py``): a second
    server on the same file is refused with ``DatabaseInUseError``."""
    logs.apply(settings)
    server_lock = acquire_server_lock(settings.database_url)
    try:
        service = open_service(settings)
    except BaseException:
        if server_lock is not None:
            server_lock.release()
        raise

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Other replicas' decisions wake this one's waiters from here on (PostgreSQL).
        try:
            await asyncio.to_thread(service.notifier.start)
        except BaseException:
            service.close()
            if server_lock is not None:
                server_lock.release()
            raise
        # Receipts are signed from the first decision on; the JWKS lists the key from the start.
        await asyncio.to_thread(service.receipts.ensure_key)
        # Every channel's deliveries go out from the outbox on this task, never from a request.
        worker = OutboxWorker(
            service.db,
            sinks_for(service.db, settings),
            poll_interval_seconds=settings.webhook_poll_interval_seconds,
            audit=service.audit,
        )
        worker.on_failed = service.delivery_failures.report
        worker.start()
        service.on_outbox = worker.wake
        # Requests whose deadline passed complete as expired from here (on every replica).
        expiry = ExpiryTask(
            service.db,
            service.decisions,
            service.now,
            poll_interval_seconds=settings.expiry_poll_interval_seconds,
            chains=service.chains,
        )
        expiry.start()
        service.items.on_deadline = expiry.wake_for
        # A signed checkpoint of the audit log whenever it grew, every interval.
        checkpoints = CheckpointTask(
            service.audit, interval_seconds=settings.audit_checkpoint_interval_seconds
        )
        checkpoints.start()
        # Ends live subscribers whose key or access is revoked (through any replica).
        revocations = asyncio.create_task(service.revocations.run(), name="foureyes-revocations")
        try:
            yield
        finally:
            revocations.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await revocations
            await service.subscribers.close_all()
            service.items.on_deadline = None
            await expiry.stop()
            await checkpoints.stop()
            service.on_outbox = None
            await worker.stop()
            service.close()
            if server_lock is not None:
                server_lock.release()

    app = FastAPI(
        title="foureyes",
        lifespan=lifespan,
        # A redirect would turn the SDK's POST into a GET; paths are served exactly as written.
        redirect_slashes=False,
        # Every answer is JSON; the interactive docs pages are not.
        docs_url=None,
        redoc_url=None,
        # /openapi.json is served by http/openapi.py, with the bodies and the error envelope.
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.service = service
    install_error_handlers(app, pages={inbox.PREFIX: inbox.error_page})
    app.include_router(humanlayer.router, prefix=API_PREFIX, dependencies=[Depends(check_request_text)])
    app.include_router(ws.router, prefix=API_PREFIX)
    app.add_api_route("/healthz", probes.healthz, methods=["GET"])
    app.add_api_route("/readyz", probes.readyz, methods=["GET"])
    app.include_router(receipts.router)
    inbox.install(app)
    app.include_router(email_pages.router)
    app.include_router(slack_interactions.router)
    app.include_router(slack_commands.router)
    # Added last is outermost: unhandled errors are caught around the size guard too.
    app.add_middleware(
        BodySizeLimit, max_bytes=settings.max_body_bytes, timeout_seconds=settings.body_timeout_seconds
    )
    app.add_middleware(CatchUnhandled)
    # Outside the catch-all, so a 500 it answers is counted too.
    metrics.install(app, service)
    openapi.install(app)
    # Outermost: every answer and every log record of a request carries its id.
    app.add_middleware(RequestId)
    # The VAPID key browsers subscribe with: made now on first start, so every replica and
    # every restart signs with the same one.
    service.push.public_key()
    setup_link = service.people.setup_link_if_needed()
    if setup_link is not None:
        # No default password anywhere: the first admin comes in through this one-time link.
        logger.warning("no users yet: create the first admin at this one-time link: %s", setup_link)
    logger.info("foureyes server ready (API under %s)", API_PREFIX)
    return app


def uvicorn_config(app: FastAPI, settings: Settings, *, log_level: str = "info") -> uvicorn.Config:
    """How ``foureyes serve`` runs the app. uvicorn believes ``X-Forwarded-For`` from 127.0.0.1
    unless told otherwise, which would let anyone on the host (or behind a local proxy that
    passes the header on) pick the client address that sign-in throttling counts. The headers
    are believed only from ``settings.forwarded_allow_ips``; by default not at all."""
    trusted = settings.forwarded_allow_ips.strip()
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        timeout_graceful_shutdown=5,
        log_config=logs.uvicorn_log_config(settings),
        proxy_headers=bool(trusted),
        # Always given: left out, uvicorn reads $FORWARDED_ALLOW_IPS, else trusts 127.0.0.1.
        forwarded_allow_ips=trusted or [],
    )
