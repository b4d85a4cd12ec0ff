"""Checking the passkey assertion a decision form carries (filled in by ``static/passkeys.js``)."""

from __future__ import annotations

from fastapi import Request

from foureyes.server.api._common import in_thread, service_of
from foureyes.storage import ItemRecord

from .session import Reviewer, relying_party


async def confirmation(
    request: Request, reviewer: Reviewer, item: ItemRecord, verdict: str, nonce: str, credential: str
) -> str | None:
    """The credential id of the reviewer's passkey that confirmed ``verdict`` on ``item``, for a
    request that needs step-up (StepUpRequiredError when the assertion does not hold); None for
    one that does not, whose decision needs no assertion."""
    if not item.step_up:
        return None
    passkeys = service_of(request).passkeys
    rp = relying_party(request)
    return await in_thread(passkeys.verify_step_up, rp, reviewer.user.id, item, verdict, nonce, credential)
