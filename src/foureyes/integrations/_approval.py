"""One approval for a tool call, as the Claude Code and MCP adapters need it.

The adapters ask for a foureyes function call (``fn`` = the tool's name, ``kwargs`` = its
input) under an id the caller chooses (Claude Code's ``tool_use_id``), so a retried or resumed
tool call finds the same item instead of asking the human twice. The answer is a `Verdict`;
anything that is not a human's approval (a rejection, the wait running out, the server
refusing the key) is a refusal with a message, never an approval: silence is not consent.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal

from foureyes._async.client import AsyncHumanLayer
from foureyes._client import ApprovalMethod
from foureyes._config import genid
from foureyes._exceptions import ApprovalTimeout, FoureyesError
from foureyes.models import FunctionCall, FunctionCallSpec

logger = logging.getLogger(__name__)

# The call id the next function call of this task is created under. The client draws call ids
# from its ``genid``; this one hands out the caller's id where there is one.
_CALL_ID: ContextVar[str | None] = ContextVar("foureyes_integration_call_id", default=None)


def _call_id_or_new(prefix: str) -> str:
    return _CALL_ID.get() or genid(prefix)


@contextmanager
def _under_call_id(call_id: str | None) -> Iterator[None]:
    token = _CALL_ID.set(call_id)
    try:
        yield
    finally:
        _CALL_ID.reset(token)


Outcome = Literal["approved", "rejected", "expired", "failed"]


@dataclass(frozen=True)
class Verdict:
    """What came of asking. ``outcome`` is ``approved`` or ``rejected`` when a human decided,
    ``expired`` when the wait ran out first, ``failed`` when no decision could be had (a refused
    key, an unreachable server past the deadline). ``kwargs`` are the arguments as the server
    holds them (what the human saw and approved); ``message`` is the reviewer's comment, or why
    there is no approval."""

    outcome: Outcome
    call_id: str | None
    kwargs: dict[str, Any]
    message: str

    @property
    def approved(self) -> bool:
        return self.outcome == "approved"


def _decided(call: FunctionCall) -> Verdict | None:
    status = call.status
    if status is None or status.approved is None:
        return None
    if status.approved:
        return Verdict("approved", call.call_id, call.spec.kwargs, status.comment or "")
    if status.expired_at is not None:  # the server's deadline passed: nobody decided
        return Verdict("expired", call.call_id, call.spec.kwargs, status.comment or "expired")
    message = status.comment or f"A human rejected {call.spec.fn} (no comment)."
    return Verdict("rejected", call.call_id, call.spec.kwargs, message)


def make_client(
    *, run_id: str | None, timeout: float | None, api_key: str | None = None, api_base_url: str | None = None
) -> AsyncHumanLayer:
    """A client that asks through the server (never the terminal: stdin belongs to the MCP or
    hook protocol) and creates items under the caller's ids."""
    return AsyncHumanLayer(
        approval_method=ApprovalMethod.BACKEND,
        api_key=api_key,
        api_base_url=api_base_url,
        run_id=run_id,
        timeout=timeout,
        genid=_call_id_or_new,
        # The wait is this process's, not the request's: a deferred call is decided later.
        expire_on_timeout=False,
    )


async def ask(client: AsyncHumanLayer, fn: str, kwargs: dict[str, Any], *, call_id: str | None) -> Verdict:
    """Ask a human to approve ``fn(**kwargs)`` and wait (by push, retried across restarts)."""
    try:
        with _under_call_id(call_id):
            completed = await client.fetch_approval(FunctionCallSpec(fn=fn, kwargs=kwargs))
    except ApprovalTimeout:
        seconds = f" within {client.timeout:g} s" if client.timeout is not None else ""
        logger.info("tool call %s (%s): no decision%s; denied", call_id, fn, seconds)
        return Verdict("expired", call_id, kwargs, f"No human decided on {fn}{seconds}; it was not run.")
    except FoureyesError as exc:
        logger.warning("tool call %s (%s): no decision could be had: %s", call_id, fn, exc)
        return Verdict("failed", call_id, kwargs, f"foureyes could not get a decision on {fn}: {exc}")
    verdict = _decided(completed.call)
    assert verdict is not None  # a completed call carries its verdict
    return verdict


async def peek(client: AsyncHumanLayer, fn: str, kwargs: dict[str, Any], *, call_id: str) -> Verdict | None:
    """Create the item (idempotently) and return its verdict if a human already decided, else
    None: for callers that do not wait (Claude Code's ``defer``)."""
    try:
        call = await client.create_function_call(FunctionCallSpec(fn=fn, kwargs=kwargs), call_id=call_id)
    except FoureyesError as exc:
        return Verdict("failed", call_id, kwargs, f"foureyes could not ask for a decision on {fn}: {exc}")
    return _decided(call)
