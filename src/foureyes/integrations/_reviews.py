"""Ask foureyes about one tool call, under the framework's own call id, and get a `Decision`.

Every adapter needs the same three things: submit a request whose call id is the framework's
tool-call id (so asking twice, after a crash or on resume, makes one item: creates are
idempotent per call id); wait for the decision with a deadline that ends as ``expired``, never
as an approval; or, for stop-and-resume flows, look without waiting and come back later.

The rules live once, in `_review` (a generator of steps, like the SDK's core); `Reviews` drives
it with either client: `HumanLayer` (``decide``/``peek``, or their ``a``-versions, which run the
sync client in a worker thread) or `AsyncHumanLayer` (``adecide``/``apeek`` only). A transient
failure (unreachable server, 5xx) is retried with backoff until the deadline; any other error
is raised, so the framework's run stays paused and nothing runs.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict, Unpack

from foureyes._async.client import AsyncHumanLayer
from foureyes._client import ApprovalMethod
from foureyes._decision import Decision
from foureyes._exceptions import (
    ConfigurationError,
    ConflictError,
    FoureyesError,
    NotFoundError,
    ServerError,
    TransportError,
)
from foureyes._sync.client import HumanLayer
from foureyes.models import (
    ContactChannel,
    FunctionCall,
    FunctionCallSpec,
    HumanContact,
    HumanContactSpec,
    ResponseOption,
)

logger = logging.getLogger("foureyes.integrations")

Client = HumanLayer | AsyncHumanLayer
Item = FunctionCall | HumanContact
# The server holds one long-poll at most this long; a longer wait is several polls.
POLL_WAIT = 25.0
MAX_BACKOFF = 10.0
MIN_POLL_INTERVAL = 1.0
# How often an item the server stops knowing is created again before the wait gives up.
MAX_RECREATES = 3


@dataclass(frozen=True)
class Ask:
    """One thing to put to a human: approve ``fn(**kwargs)``, or answer the question ``msg``."""

    call_id: str
    fn: str | None = None
    kwargs: dict[str, Any] | None = None
    msg: str | None = None
    options: list[ResponseOption] | None = None

    @classmethod
    def approval(
        cls, call_id: str, fn: str, kwargs: dict[str, Any], reject_options: list[ResponseOption] | None = None
    ) -> Ask:
        return cls(call_id=call_id, fn=fn, kwargs=kwargs, options=reject_options)

    @classmethod
    def question(cls, call_id: str, msg: str, response_options: list[ResponseOption] | None = None) -> Ask:
        return cls(call_id=call_id, msg=msg, options=response_options)

    @property
    def is_question(self) -> bool:
        return self.msg is not None


# Steps the generator yields; the driver answers each with the client's result.
@dataclass(frozen=True)
class _Create:
    ask: Ask


@dataclass(frozen=True)
class _Get:
    ask: Ask
    wait: float | None


@dataclass(frozen=True)
class _Sleep:
    seconds: float


_Step = _Create | _Get | _Sleep


@dataclass(frozen=True)
class _Done:
    value: Decision | None


@dataclass(frozen=True)
class _Outcome:
    """What the driver got for the last step: the client's answer, or its error."""

    reply: Any = None
    error: FoureyesError | None = None

    def advance(self, operation: Generator[_Step, Any, Decision | None]) -> _Step | _Done:
        try:
            return operation.throw(self.error) if self.error is not None else operation.send(self.reply)
        except StopIteration as done:
            return _Done(done.value)


def _decision(item: Item) -> Decision | None:
    if not item.is_completed:
        return None
    if isinstance(item, FunctionCall):
        return Decision.of_function_call(item)
    return Decision.of_human_contact(item)


def _age(item: Item) -> float | None:
    asked = item.status.requested_at if item.status else None
    if asked is None:
        return None
    return (datetime.now(UTC) - asked).total_seconds()


def _review(
    ask: Ask,
    *,
    wait: float | None,
    expire_after: float | None,
    clock: Callable[[], float],
    known: bool = False,
    expire_at_deadline: bool = False,
) -> Generator[_Step, Any, Decision | None]:
    """Submit ``ask`` and wait up to ``wait`` seconds (None: forever) for its decision.

    Returns the decision; an ``expired`` one when the item has been pending ``expire_after``
    seconds or more (by the server's ``requested_at``), or when ``wait`` ran out and
    ``expire_at_deadline`` is set; else None when ``wait`` ran out. A ``known`` item
    (submitted before, perhaps by another process with another run id) is read first and
    created only if the server does not have it.
    """
    deadline = None if wait is None else clock() + wait
    failures = 0
    recreates = 0
    created = known
    while True:
        remaining = None if deadline is None else deadline - clock()
        step: _Step
        if not created:
            step = _Create(ask)
        else:
            step = _Get(ask, None if remaining is not None and remaining <= 0 else _poll(remaining))
        asked_at = clock()
        try:
            item: Item = yield step
        except NotFoundError:
            recreates += 1
            if not created or recreates > MAX_RECREATES:
                raise
            created = False  # the server does not have it (yet, or any more): ask again
            continue
        except ConflictError:
            if created:
                raise
            # Submitted before under another run id (another process's client): read it, and
            # use its decision only if it asks exactly this (checked below).
            created = True
            continue
        except (TransportError, ServerError) as exc:
            failures += 1
            if remaining is not None and remaining <= 0:
                raise
            delay = random.random() * min(MAX_BACKOFF, 0.25 * 2.0 ** (failures - 1))  # noqa: S311
            logger.info("call %s: %s; retrying in %.2f s", ask.call_id, exc, delay)
            yield _Sleep(delay if remaining is None else max(0.0, min(delay, remaining)))
            continue
        failures = 0
        _same_request(ask, item)
        if not created:
            created = True
            logger.info("call %s submitted for review", ask.call_id)
        decision = _decision(item)
        if decision is not None:
            logger.info("call %s decided: %s", ask.call_id, decision.outcome)
            return decision
        age = _age(item)
        if expire_after is not None and age is not None and age >= expire_after:
            return _expired(ask, f"no human decided within {expire_after:g} s")
        remaining = None if deadline is None else deadline - clock()
        if remaining is not None and remaining <= 0:
            return _expired(ask, f"no human decided within {wait:g} s") if expire_at_deadline else None
        held = clock() - asked_at
        if isinstance(step, _Get) and step.wait and held < MIN_POLL_INTERVAL:
            # A server (or proxy) that answers a long-poll at once: about one read a second.
            pause = MIN_POLL_INTERVAL - held
            yield _Sleep(pause if remaining is None else min(pause, remaining))


def _same_request(ask: Ask, item: Item) -> None:
    """A decision binds to what was asked: an item under this call id that asks something
    else (another process's, or a reused id) must never decide this call."""
    if isinstance(item, FunctionCall):
        same = (item.spec.fn, item.spec.kwargs) == (ask.fn, ask.kwargs)
    else:
        same = item.spec.msg == ask.msg
    if not same:
        raise FoureyesError(f"call {ask.call_id!r} on the server asks something else than this call")


def _poll(remaining: float | None) -> float:
    return POLL_WAIT if remaining is None else max(0.0, min(POLL_WAIT, remaining))


def _expired(ask: Ask, detail: str) -> Decision:
    logger.info("call %s expired: %s", ask.call_id, detail)
    return Decision.timed_out(ask.call_id, detail)


class ReviewOptions(TypedDict, total=False):
    """What every adapter takes beside its client.

    ``timeout``: how long a blocking wait lasts before the call is ``expired`` (default: the
    client's ``timeout``; None waits forever). ``contact_channel``: where to reach the
    reviewer (default: the client's). ``reject_options``: the reasons offered for a rejection.
    """

    timeout: float | None
    contact_channel: ContactChannel | None
    reject_options: list[ResponseOption] | None


class Reviews:
    """Puts `Ask`s to foureyes through ``client`` and returns `Decision`s (see `ReviewOptions`)."""

    def __init__(
        self, client: Client, *, clock: Callable[[], float] = time.monotonic, **options: Unpack[ReviewOptions]
    ) -> None:
        if client.approval_method is not ApprovalMethod.BACKEND:
            raise ConfigurationError(
                "framework adapters ask through a foureyes server: set FOUREYES_API_KEY or pass api_key="
            )
        self.client = client
        timeout = options.get("timeout")
        self.timeout = timeout if timeout is not None else client.timeout
        self.contact_channel = options.get("contact_channel")
        self.reject_options = options.get("reject_options")
        self.clock = clock

    # -------------------------------------------------------------- asking

    def approval(self, call_id: str, fn: str, kwargs: dict[str, Any]) -> Ask:
        return Ask.approval(call_id, fn, kwargs, self.reject_options)

    def _operation(
        self, ask: Ask, wait: float | None, expire_after: float | None, known: bool = False
    ) -> Generator[_Step, Any, Decision | None]:
        return _review(ask, wait=wait, expire_after=expire_after, clock=self.clock, known=known)

    def _blocking(self, ask: Ask) -> Generator[_Step, Any, Decision | None]:
        return _review(ask, wait=self.timeout, expire_after=None, clock=self.clock, expire_at_deadline=True)

    def _spec(self, ask: Ask) -> FunctionCallSpec | HumanContactSpec:
        if ask.is_question:
            assert ask.msg is not None
            return HumanContactSpec(msg=ask.msg, channel=self.contact_channel, response_options=ask.options)
        assert ask.fn is not None
        assert ask.kwargs is not None
        return FunctionCallSpec(
            fn=ask.fn, kwargs=ask.kwargs, channel=self.contact_channel, reject_options=ask.options
        )

    def _call_sync(self, client: HumanLayer, step: _Create | _Get) -> Item:
        spec = self._spec(step.ask)
        call_id = step.ask.call_id
        if isinstance(step, _Create):
            if isinstance(spec, HumanContactSpec):
                return client.create_human_contact(spec, call_id)
            return client.create_function_call(spec, call_id)
        if step.ask.is_question:
            return client.get_human_contact(call_id, step.wait or None)
        return client.get_function_call(call_id, step.wait or None)

    async def _call_async(self, client: AsyncHumanLayer, step: _Create | _Get) -> Item:
        spec = self._spec(step.ask)
        call_id = step.ask.call_id
        if isinstance(step, _Create):
            if isinstance(spec, HumanContactSpec):
                return await client.create_human_contact(spec, call_id)
            return await client.create_function_call(spec, call_id)
        if step.ask.is_question:
            return await client.get_human_contact(call_id, step.wait or None)
        return await client.get_function_call(call_id, step.wait or None)

    def _perform(self, step: _Step) -> _Outcome:
        if not isinstance(self.client, HumanLayer):
            raise ConfigurationError("this adapter method needs a sync HumanLayer client; use its a-version")
        if isinstance(step, _Sleep):
            time.sleep(step.seconds)
            return _Outcome()
        try:
            return _Outcome(reply=self._call_sync(self.client, step))
        except FoureyesError as exc:  # thrown into the operation, which knows which to retry
            return _Outcome(error=exc)

    async def _aperform(self, step: _Step) -> _Outcome:
        if isinstance(step, _Sleep):
            await asyncio.sleep(step.seconds)
            return _Outcome()
        try:
            if isinstance(self.client, AsyncHumanLayer):
                return _Outcome(reply=await self._call_async(self.client, step))
            return _Outcome(reply=await asyncio.to_thread(self._call_sync, self.client, step))
        except FoureyesError as exc:
            return _Outcome(error=exc)

    def _drive(self, operation: Generator[_Step, Any, Decision | None]) -> Decision | None:
        outcome = _Outcome()
        while not isinstance(step := outcome.advance(operation), _Done):
            outcome = self._perform(step)
        return step.value

    async def _adrive(self, operation: Generator[_Step, Any, Decision | None]) -> Decision | None:
        outcome = _Outcome()
        while not isinstance(step := outcome.advance(operation), _Done):
            outcome = await self._aperform(step)
        return step.value

    # -------------------------------------------------------------- the four entry points

    def decide(self, ask: Ask) -> Decision:
        """Submit and wait for the decision; ``expired`` once ``timeout`` has passed."""
        found = self._drive(self._blocking(ask))
        assert found is not None  # with expire_after set, a wait always ends in a decision
        return found

    async def adecide(self, ask: Ask) -> Decision:
        found = await self._adrive(self._blocking(ask))
        assert found is not None
        return found

    def decide_all(self, asks: list[Ask]) -> list[Decision]:
        """`decide` for several calls: all are submitted first, so a reviewer sees the batch."""
        early = [self.peek(ask) for ask in asks]
        return [found or self.decide(ask) for ask, found in zip(asks, early, strict=True)]

    async def adecide_all(self, asks: list[Ask]) -> list[Decision]:
        early = [await self.apeek(ask) for ask in asks]
        return [found or await self.adecide(ask) for ask, found in zip(asks, early, strict=True)]

    def peek(
        self, ask: Ask, *, wait: float = 0.0, expire_after: float | None = None, known: bool = False
    ) -> Decision | None:
        """Submit (idempotently) and return the decision if there is one within ``wait`` seconds,
        else None; ``expired`` once the item has been pending ``expire_after`` seconds. With
        ``known``, the item was submitted before: read it, and create it only if it is missing."""
        return self._drive(self._operation(ask, wait, expire_after, known))

    async def apeek(
        self, ask: Ask, *, wait: float = 0.0, expire_after: float | None = None, known: bool = False
    ) -> Decision | None:
        return await self._adrive(self._operation(ask, wait, expire_after, known))


def refusal_text(tool: str, decision: Decision) -> str:
    """What the model is told when ``decision`` keeps ``tool`` from running (the framework may
    frame it further, as LangChain's middleware does)."""
    if decision.expired:
        return f"No human approved {tool} in time ({decision.detail}); it was not run."
    if decision.comment:
        return decision.comment
    if decision.option:
        return f"A human reviewer rejected {tool} ({decision.option}); it was not run."
    return f"A human reviewer rejected {tool}; it was not run."
