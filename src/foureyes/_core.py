"""The I/O-free core of the SDK: what to send, how to read the answer, and how to wait.

Every protocol decision lives here, once. An operation is a generator that yields *steps*
(`Send`: send this request; `Sleep`: pause this long) and is sent back each request's *outcome*
(a `Response`, or a `TransportFailure` when nothing usable came back). The sync and async
clients are thin drivers that perform the steps with httpx and ``sleep``, so the retry and
waiting rules cannot drift apart between them.

Waiting for a human (`await_completion`):

1. POST the item. Connection errors, 5xx and 429 are retried with exponential backoff and full
   jitter, re-POSTing the same body: creates are idempotent per call id, so a POST whose answer
   was lost may land twice and still makes one item.
2. With push on, ``Watch`` the item: the driver waits for the server to push it over the shared
   WebSocket (``_push.PushChannel``, which reconnects and resubscribes by itself). When the
   push channel is unavailable (an old server, the official wire, a proxy that refuses
   upgrades) or does not know the item, the rest of the wait falls back to step 3, silently.
3. GET ``?wait=25`` (long-poll) until the item completes. The same failures are retried the same
   way, so a server restart or a dropped connection is survived. A pending answer that came back
   much sooner than asked (a server that ignores ``wait``) is paced to about one GET a second.
4. Other 4xx answers are raised at once as typed `APIError`s; only the caller's deadline ends
   a wait early, with `ApprovalTimeout`. Nothing here ever decides "approved" on its own: a
   pushed item is parsed and checked for completion exactly like a polled one.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ValidationError

from foureyes._approvers import NOTHING, Ask
from foureyes._backoff import jittered_delay
from foureyes._exceptions import APIError, ApprovalTimeout, ServerError, TransportError, api_error_for
from foureyes._protocol import ItemKind
from foureyes.models import (
    BulkDecisionRequest,
    Escalation,
    FunctionCall,
    FunctionCallDecision,
    FunctionCallStatus,
    HumanContact,
    HumanContactStatus,
)

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
ItemT = TypeVar("ItemT", FunctionCall, HumanContact)

# The server holds a long-poll for at most this long.
MAX_SERVER_WAIT = 55.0
# How far past the caller's deadline one in-flight request may run.
DEADLINE_GRACE = 1.0


# ---------------------------------------------------------------------------- steps and outcomes


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # appended to the API base
    json: Any = None
    params: dict[str, str] | None = None
    timeout: float = 30.0  # seconds, for each phase of the exchange
    url: str | None = None  # instead of the API base + path: a URL outside the API (the JWKS)


@dataclass(frozen=True)
class Response:
    status_code: int
    content: bytes
    retry_after: str | None = None


@dataclass(frozen=True)
class TransportFailure:
    """Nothing usable came back: refused, reset, timed out. The request may or may not have landed."""

    error: Exception


@dataclass(frozen=True)
class Send:
    request: Request


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Watch:
    """Wait up to ``seconds`` for the server to push this item completed (see ``_push``)."""

    kind: ItemKind
    call_id: str
    seconds: float


@dataclass(frozen=True)
class Pushed:
    """The item, completed, as the server pushed it (JSON, exactly the REST rendering)."""

    content: bytes


@dataclass(frozen=True)
class PushQuiet:
    """Nothing was pushed within the seconds asked."""


@dataclass(frozen=True)
class PushUnavailable:
    """No push for this item: the server has no WebSocket endpoint, refused it, or does not know
    the item. The wait goes on by long-poll."""

    reason: str


Step = Send | Sleep | Watch
Outcome = Response | TransportFailure
PushOutcome = Pushed | PushQuiet | PushUnavailable
Reply = Outcome | PushOutcome
Operation = Generator[Step, Reply | None, T]


def _send(request: Request) -> Generator[Step, Reply | None, Outcome]:
    outcome = yield Send(request)
    assert isinstance(outcome, Response | TransportFailure), "a driver must answer a Send with an outcome"
    return outcome


def _watch(api: ItemApi[Any], call_id: str, seconds: float) -> Generator[Step, Reply | None, PushOutcome]:
    outcome = yield Watch(api.kind, call_id, seconds)
    assert isinstance(outcome, Pushed | PushQuiet | PushUnavailable), "a Watch needs a push outcome"
    return outcome


# ---------------------------------------------------------------------------- retry policy


@dataclass(frozen=True)
class RetryPolicy:
    """How waits retry and pace themselves. The defaults suit a foureyes server.

    ``base_delay`` and ``max_delay`` shape the backoff: the n-th consecutive failure sleeps a
    uniformly random time in ``[0, min(max_delay, base_delay * 2**(n-1))]`` ("full jitter", so
    that agents knocked off by one restart do not come back in lockstep). ``poll_wait`` is how
    long each GET asks the server to hold the answer; keep it below any proxy's idle timeout.
    ``min_poll_interval`` paces servers that ignore ``wait``. ``max_recreates`` bounds how often
    an item the server no longer knows is created again. ``jitter`` draws from ``[0, 1)``.
    ``push_wait`` is how long one ``Watch`` lasts before the wait looks again (the push channel
    keeps its own connection alive and resubscribes after a reconnect, so this is a backstop).
    """

    base_delay: float = 0.25
    max_delay: float = 10.0
    poll_wait: float = 25.0
    push_wait: float = 300.0
    min_poll_interval: float = 1.0
    max_recreates: int = 3
    jitter: Callable[[], float] = random.random

    def __post_init__(self) -> None:
        if not 0 < self.poll_wait <= MAX_SERVER_WAIT:
            raise ValueError(f"poll_wait must be in (0, {MAX_SERVER_WAIT:g}] seconds")
        if self.base_delay <= 0 or self.max_delay < self.base_delay:
            raise ValueError("need 0 < base_delay <= max_delay")
        if self.push_wait <= 0:
            raise ValueError("push_wait must be > 0 seconds")

    def backoff(self, failures: int) -> float:
        """The sleep after the ``failures``-th consecutive failure (1-based)."""
        return jittered_delay(failures, self.base_delay, self.max_delay, self.jitter())


# ---------------------------------------------------------------------------- reading answers


def _describe(outcome: Outcome) -> str | None:
    """Why this outcome is worth retrying, or None when it is not."""
    if isinstance(outcome, TransportFailure):
        return f"{type(outcome.error).__name__}: {outcome.error}"
    if outcome.status_code >= 500 or outcome.status_code == 429:
        return f"HTTP {outcome.status_code}"
    return None


def _retry_after(outcome: Outcome) -> float:
    if isinstance(outcome, Response) and outcome.retry_after:
        try:
            return max(0.0, float(outcome.retry_after))
        except ValueError:  # an HTTP date: rare enough to ignore
            return 0.0
    return 0.0


def error_from(response: Response) -> APIError:
    """The typed error for an error answer, from the JSON envelope when there is one."""
    try:
        body: Any = json.loads(response.content)
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code = str(error.get("code", "http_error"))
        message = str(error.get("message", ""))
    else:  # not a foureyes server, or a proxy in between
        text = response.content[:300].decode("utf-8", "replace").strip()
        code, message = "http_error", text or f"HTTP {response.status_code}"
    return api_error_for(response.status_code, code, message, body)


def parse(outcome: Outcome, model: type[M]) -> M:
    """The model in a successful answer; raises TransportError or the typed APIError otherwise."""
    if isinstance(outcome, TransportFailure):
        raise TransportError(f"the server could not be reached: {_describe(outcome)}") from outcome.error
    if outcome.status_code >= 400:
        raise error_from(outcome)
    try:
        return model.model_validate_json(outcome.content)
    except ValidationError as exc:
        raise ServerError(
            outcome.status_code,
            "invalid_response",
            f"the answer is not a valid {model.__name__}: {exc.error_count()} error(s), first: "
            f"{exc.errors()[0]['msg']}",
        ) from exc


# ---------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class ItemApi(Generic[ItemT]):
    """Where the REST API keeps one kind of item, and its model: what differs between approvals
    and questions on the wire."""

    kind: ItemKind  # how the WebSocket and the server name it
    model: type[ItemT]
    collection: str  # where items are created and read
    agent_collection: str  # where respond and escalate live

    @property
    def noun(self) -> str:
        return self.kind.noun


FUNCTION_CALLS = ItemApi(ItemKind.FUNCTION_CALL, FunctionCall, "/function_calls", "/agent/function_calls")
HUMAN_CONTACTS = ItemApi(ItemKind.HUMAN_CONTACT, HumanContact, "/contact_requests", "/agent/human_contacts")


def _item_path(base: str, call_id: str) -> str:
    # Call ids are chosen by the caller (an LLM's tool-call id, say): never let one add a segment.
    return f"{base}/{quote(call_id, safe='')}"


def create_request(
    item: FunctionCall | HumanContact,
    api: ItemApi[Any],
    http_timeout: float,
    expires_at: datetime | None = None,
    ask: Ask = NOTHING,
) -> Request:
    # Every key is sent, "status": null included, exactly as the HumanLayer SDK does.
    body = item.model_dump(mode="json")
    if expires_at is not None:
        # foureyes' extension: the server completes the request as expired at this time.
        body["expires_at"] = expires_at.isoformat()
    # foureyes' extensions the caller asked for (edits, a quorum, approver groups), else none.
    body.update(ask.body())
    return Request("POST", api.collection, body, timeout=http_timeout)


def jwks_request(url: str, http_timeout: float) -> Request:
    """The server's receipt keys (``/.well-known/foureyes/jwks.json``)."""
    return Request("GET", "", timeout=http_timeout, url=url)


def get_request(api: ItemApi[Any], call_id: str, http_timeout: float, wait: float | None = None) -> Request:
    path = _item_path(api.collection, call_id)
    if wait is None:
        return Request("GET", path, timeout=http_timeout)
    # The read timeout must outlast the server's hold, or every quiet wait would look like a failure.
    return Request("GET", path, params={"wait": f"{wait:.3f}"}, timeout=wait + http_timeout)


def respond_request(
    api: ItemApi[Any], call_id: str, status: FunctionCallStatus | HumanContactStatus, http_timeout: float
) -> Request:
    path = _item_path(api.agent_collection, call_id) + "/respond"
    return Request("POST", path, status.model_dump(mode="json"), timeout=http_timeout)


def bulk_respond_request(decisions: Sequence[FunctionCallDecision], http_timeout: float) -> Request:
    """foureyes' bulk respond: many verdicts in one request (at most ``MAX_BULK_DECISIONS``)."""
    body = BulkDecisionRequest(decisions=list(decisions))
    return Request(
        "POST",
        f"{FUNCTION_CALLS.agent_collection}/respond",
        body.model_dump(mode="json"),
        timeout=http_timeout,
    )


def escalate_request(api: ItemApi[Any], call_id: str, escalation: Escalation, http_timeout: float) -> Request:
    path = _item_path(api.agent_collection, call_id) + "/escalate_email"
    return Request("POST", path, escalation.model_dump(mode="json"), timeout=http_timeout)


def single(request: Request, model: type[M]) -> Operation[M]:
    """One request, no retries: the plain create/get/respond/escalate methods, as in HumanLayer."""
    outcome = yield from _send(request)
    return parse(outcome, model)


# ---------------------------------------------------------------------------- waiting


class _Deadline:
    def __init__(self, timeout: float | None, clock: Callable[[], float]) -> None:
        self.timeout = timeout
        self.clock = clock
        self.at = None if timeout is None else clock() + timeout

    def remaining(self) -> float | None:
        return None if self.at is None else self.at - self.clock()

    def passed(self) -> bool:
        remaining = self.remaining()
        return remaining is not None and remaining <= 0

    def clip_sleep(self, seconds: float) -> float:
        remaining = self.remaining()
        return seconds if remaining is None else max(0.0, min(seconds, remaining))

    def clip_request(self, request: Request) -> Request:
        remaining = self.remaining()
        if remaining is None or request.timeout <= remaining + DEADLINE_GRACE:
            return request
        return replace(request, timeout=max(remaining, 0.0) + DEADLINE_GRACE)


def await_completion(
    item: ItemT,
    api: ItemApi[ItemT],
    *,
    policy: RetryPolicy,
    http_timeout: float,
    timeout: float | None,
    clock: Callable[[], float],
    push: bool = False,
    expires_at: datetime | None = None,
    ask: Ask = NOTHING,
) -> Operation[ItemT]:
    """Create ``item`` on the server and wait until a human completed it, or ``timeout`` passed.

    With ``push``, wait by ``Watch`` steps while the push channel serves this item, else (and
    after it reported itself unavailable) by long-poll GETs. ``expires_at`` is sent with the
    create, so the server expires the request at the caller's deadline, and so is what ``ask``
    asks for (edits, a quorum, approver groups)."""
    deadline = _Deadline(timeout, clock)
    create = create_request(item, api, http_timeout, expires_at, ask)
    call_id = item.call_id
    created = False  # whether the server has acknowledged the create
    failures = 0  # consecutive transient failures, for the backoff
    recreates = 0
    last_problem: str | None = None
    while True:
        if deadline.passed():
            raise _timed_out(api, call_id, timeout, last_problem)
        if created and push:
            remaining = deadline.remaining()
            seconds = policy.push_wait if remaining is None else min(policy.push_wait, remaining)
            pushed = yield from _watch(api, call_id, seconds)
            if isinstance(pushed, PushUnavailable):
                push = False
                logger.info("%s %s: no push (%s); waiting by long-poll", api.noun, call_id, pushed.reason)
            elif isinstance(pushed, Pushed):
                current = parse(Response(200, pushed.content), api.model)
                if current.is_completed:
                    logger.info("%s %s completed", api.noun, call_id)
                    return current
            continue
        if created:
            remaining = deadline.remaining()
            wait = policy.poll_wait if remaining is None else min(policy.poll_wait, remaining)
            request = get_request(api, call_id, http_timeout, wait)
        else:
            request = create
        asked_at = clock()
        outcome = yield from _send(deadline.clip_request(request))

        problem = _describe(outcome)
        if problem is not None:
            failures += 1
            last_problem = problem
            delay = max(policy.backoff(failures), _retry_after(outcome))
            logger.info(
                "%s %s: %s %s failed (%s); retrying in %.2f s",
                api.noun, call_id, request.method, request.path, problem, delay,
            )  # fmt: skip
            yield Sleep(deadline.clip_sleep(delay))
            continue

        if (
            created
            and isinstance(outcome, Response)
            and outcome.status_code == 404
            and recreates < policy.max_recreates
        ):
            # The server acknowledged this item but no longer knows it (a replica that has not
            # caught up, or a store that lost it). Waiting on would wait forever; creating it
            # again is safe because a create is idempotent and a new item is merely pending.
            recreates += 1
            created = False
            logger.warning("%s %s is unknown to the server; creating it again", api.noun, call_id)
            continue

        current = parse(outcome, api.model)  # other 4xx end the wait here, typed
        failures = 0
        last_problem = None
        if current.is_completed:
            logger.info("%s %s completed", api.noun, call_id)
            return current
        if not created:
            created = True
            logger.info("%s %s created; waiting for a human", api.noun, call_id)
            continue
        elapsed = clock() - asked_at
        if elapsed < policy.min_poll_interval:
            yield Sleep(deadline.clip_sleep(policy.min_poll_interval - elapsed))


def _timed_out(
    api: ItemApi[Any], call_id: str, timeout: float | None, problem: str | None
) -> ApprovalTimeout:
    message = f"no human completed {api.noun} {call_id!r} within {timeout:g} s"
    if problem is not None:
        message += f" (last error: {problem})"
    return ApprovalTimeout(message)
