"""Checking the passkey assertion a decision form carries (filled in by ``static/passkeys.js``)."""

from __future__ import annotations

from fastapi import Request

from foureyes._protocol import ItemKind
from foureyes.server.api._common import in_thread, service_of
from foureyes.server.domain.items import canonical_digest
from foureyes.storage import ItemRecord

from .session import Reviewer, relying_party
from .views import parse_edit


def verdict_of(kind: str, action: str, edited_kwargs: str) -> str:
    """What a step-up assertion is bound to besides the request: ``approve`` or ``reject`` (a
    function call), ``answer`` (a question); an approval with edited arguments names their
    digest too, so the assertion vouches for the arguments that will run."""
    if kind != ItemKind.FUNCTION_CALL:
        return "answer"
    edited = parse_edit(edited_kwargs) if action == "approve" else None
    return action if edited is None else f"approve:{canonical_digest(edited)}"


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
