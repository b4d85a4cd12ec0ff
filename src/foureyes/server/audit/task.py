"""``CheckpointTask``: the server signs a checkpoint of the audit log every interval in which the
log grew. Every replica runs it; two signing the same size store one checkpoint (the key and the
note are the same, a unique constraint keeps one row)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from foureyes.server.audit.log import AuditLog
from foureyes.server.threads import run_blocking

logger = logging.getLogger(__name__)


class CheckpointTask:
    def __init__(self, audit: AuditLog, *, interval_seconds: float) -> None:
        self._audit = audit
        self._interval = interval_seconds
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="foureyes-audit-checkpoint")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await run_blocking(self._audit.checkpoint)
            except Exception:
                logger.exception("signing an audit checkpoint failed; trying again at the next interval")
