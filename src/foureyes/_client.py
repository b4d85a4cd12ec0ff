"""``HumanLayer`` (sync) and ``AsyncHumanLayer`` (asyncio): thin drivers of ``_core``.

Both take HumanLayer's constructor arguments and offer HumanLayer's methods, plus ``timeout``
(how long a fetch may wait for a human; default None: forever, as in HumanLayer), long-poll
waiting with retries, and injectable ``transport``/``http_client``/``clock`` for tests. A driver
only performs the steps the core yields: it sends requests with httpx and sleeps.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Literal, ParamSpec, Self, TypeVar, cast, overload

import httpx

from foureyes import _background, _config, _core, _decorator, _terminal
from foureyes._core import (
    FUNCTION_CALLS,
    HUMAN_CONTACTS,
    Operation,
    Outcome,
    PushOutcome,
    Reply,
    Request,
    Response,
    RetryPolicy,
    Sleep,
    TransportFailure,
    Watch,
)
from foureyes._exceptions import ConfigurationError
from foureyes._push import PushChannel, websocket_url
from foureyes.models import (
    ContactChannel,
    Escalation,
    FunctionCall,
    FunctionCallSpec,
    FunctionCallStatus,
    HumanContact,
    HumanContactSpec,
    HumanContactStatus,
    ResponseOption,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")
SpecT = TypeVar("SpecT", FunctionCallSpec, HumanContactSpec)
P = ParamSpec("P")
R = TypeVar("R")
# How fetch_* waits: a WebSocket push (falling back to long-poll by itself), or long-poll only.
WaitVia = Literal["websocket", "longpoll"]

try:
    from importlib.metadata import version as _version

    USER_AGENT = f"foureyes-python/{_version('foureyes')}"
except Exception:  # pragma: no cover - running from a source tree that was never installed
    USER_AGENT = "foureyes-python"


class ApprovalMethod(Enum):
    CLI = "cli"  # ask in the local terminal
    BACKEND = "backend"  # ask through a foureyes (or HumanLayer-compatible) server


class _ClientBase:
    """Settings, mode and request building shared by both clients; no I/O."""

    def __init__(
        self,
        *,
        run_id: str | None,
        approval_method: ApprovalMethod | None,
        agent_name: str | None,
        genid: Callable[[str], str],
        contact_channel: ContactChannel | None,
        verbose: bool,
        api_key: str | None,
        api_base_url: str | None,
        timeout: float | None,
        http_timeout: float,
        retry: RetryPolicy | None,
        clock: Callable[[], float],
        wait_via: WaitVia | None,
        custom_http: bool,
    ) -> None:
        config = _config.resolve(
            api_key=api_key,
            api_base_url=api_base_url,
            run_id=run_id,
            agent_name=agent_name,
            make_id=genid,
            wait_via=wait_via,
        )
        if approval_method is None:
            approval_method = ApprovalMethod.BACKEND if config.api_key else ApprovalMethod.CLI
        if approval_method is ApprovalMethod.BACKEND and not config.api_key:
            raise ConfigurationError("an API key is required: set FOUREYES_API_KEY or pass api_key=")
        if approval_method is ApprovalMethod.CLI:
            logger.info("no API key configured: approvals and questions go to the local terminal")
        if timeout is not None and timeout <= 0:
            raise ConfigurationError("timeout must be a positive number of seconds, or None to wait forever")
        self.run_id = config.run_id
        self.approval_method = approval_method
        self.agent_name = agent_name
        self.genid = genid
        self.contact_channel = contact_channel
        self.verbose = verbose
        self.api_key = config.api_key
        self.api_base_url = config.api_base
        self.timeout = timeout
        self.http_timeout = http_timeout
        self.retry = retry or RetryPolicy()
        self.clock = clock
        # An injected HTTP transport or client (a proxy, mTLS, a test double) cannot carry the
        # WebSocket, so such a client long-polls unless told otherwise.
        self.wait_via: WaitVia = cast(
            WaitVia, config.wait_via or ("longpoll" if custom_http else "websocket")
        )

    def __repr__(self) -> str:  # never show the key
        return f"{type(self).__name__}(run_id={self.run_id!r}, approval_method={self.approval_method})"

    @classmethod
    def cloud(
        cls,
        connection: Any = None,
        api_key: str | None = None,
        api_base_url: str | None = None,
        **kwargs: Any,
    ) -> Self:
        """A client that always asks through a server. ``connection`` may be any object with
        ``api_key`` / ``api_base_url`` attributes, such as HumanLayer's connection object."""
        return cls(
            approval_method=ApprovalMethod.BACKEND,
            api_key=api_key or getattr(connection, "api_key", None),
            api_base_url=api_base_url or getattr(connection, "api_base_url", None),
            **kwargs,
        )

    @classmethod
    def cli(cls, **kwargs: Any) -> Self:
        """A client that always asks in the local terminal."""
        return cls(approval_method=ApprovalMethod.CLI, **kwargs)

    @property
    def _in_terminal(self) -> bool:
        return self.approval_method is ApprovalMethod.CLI

    def _server_only(self, what: str) -> None:
        if self._in_terminal:
            raise ConfigurationError(
                f"{what} needs a foureyes server: set FOUREYES_API_KEY (and FOUREYES_API_BASE) "
                "or pass api_key="
            )

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.api_key}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }

    def _with_channel(self, spec: SpecT) -> SpecT:
        # A copy: the caller's spec is left as it was.
        if spec.channel is None and self.contact_channel is not None:
            return spec.model_copy(update={"channel": self.contact_channel})
        return spec

    def _function_call(self, spec: FunctionCallSpec, call_id: str | None) -> FunctionCall:
        return FunctionCall(
            run_id=self.run_id, call_id=call_id or self.genid("call"), spec=self._with_channel(spec)
        )

    def _human_contact(self, spec: HumanContactSpec, call_id: str | None) -> HumanContact:
        return HumanContact(
            run_id=self.run_id, call_id=call_id or self.genid("call"), spec=self._with_channel(spec)
        )

    def _wait(self, item: Any, kind: Any) -> Operation[Any]:
        return _core.await_completion(
            item,
            kind,
            policy=self.retry,
            http_timeout=self.http_timeout,
            timeout=self.timeout,
            clock=self.clock,
            push=self.wait_via == "websocket",
        )

    def _new_push_channel(self) -> PushChannel:
        assert self.api_key is not None
        return PushChannel(websocket_url(self.api_base_url), self.api_key, user_agent=USER_AGENT)

    # -------------------------------------------------------------- the terminal mode

    def _approval_in_terminal(self, spec: FunctionCallSpec) -> FunctionCall.Completed:
        asked = datetime.now(UTC)
        verdict = _terminal.ask_approval(self.run_id, spec.fn, spec.kwargs)
        comment = None if verdict.approved else verdict.feedback or "no answer (stdin closed)"
        status = FunctionCallStatus(
            requested_at=asked, responded_at=datetime.now(UTC), approved=verdict.approved, comment=comment
        )
        return FunctionCall.Completed(
            call=self._function_call(spec, None).model_copy(update={"status": status})
        )

    def _answer_in_terminal(self, spec: HumanContactSpec) -> HumanContact.Completed:
        asked = datetime.now(UTC)
        answer = _terminal.ask_question(self.run_id, spec.msg)
        status = HumanContactStatus(requested_at=asked, responded_at=datetime.now(UTC), response=answer)
        contact = self._human_contact(spec, None).model_copy(update={"status": status})
        return HumanContact.Completed(contact=contact)


def _outcome(raw: httpx.Response) -> Response:
    return Response(raw.status_code, raw.content, raw.headers.get("retry-after"))


class HumanLayer(_ClientBase):
    """The synchronous client.

    With an API key (argument, ``FOUREYES_API_KEY`` or ``HUMANLAYER_API_KEY``) it asks through
    the server at ``api_base_url`` (``FOUREYES_API_BASE``, ``HUMANLAYER_API_BASE``, default
    ``http://127.0.0.1:7444/humanlayer/v1``). Without one it asks in the local terminal, as
    HumanLayer's CLI mode does; then only the decorator, the tool and the ``fetch_*`` methods
    work. ``timeout`` bounds each ``fetch_*`` wait (None: wait forever). Thread-safe.
    """

    def __init__(
        self,
        *,
        run_id: str | None = None,
        approval_method: ApprovalMethod | None = None,
        agent_name: str | None = None,
        genid: Callable[[str], str] = _config.genid,
        sleep: Callable[[float], object] = time.sleep,
        contact_channel: ContactChannel | None = None,
        verbose: bool = False,
        api_key: str | None = None,
        api_base_url: str | None = None,
        timeout: float | None = None,
        http_timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        http_client: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
        wait_via: WaitVia | None = None,
    ) -> None:
        super().__init__(
            run_id=run_id,
            approval_method=approval_method,
            agent_name=agent_name,
            genid=genid,
            contact_channel=contact_channel,
            verbose=verbose,
            api_key=api_key,
            api_base_url=api_base_url,
            timeout=timeout,
            http_timeout=http_timeout,
            retry=retry,
            clock=clock,
            wait_via=wait_via,
            custom_http=transport is not None or http_client is not None,
        )
        self.sleep = sleep
        self._transport = transport
        self._http = http_client
        self._owns_http = http_client is None
        self._lock = threading.Lock()
        self._finalizer: weakref.finalize[[], HumanLayer] | None = None
        self._push: PushChannel | None = None

    # -------------------------------------------------------------- driver

    def _client(self) -> httpx.Client:
        with self._lock:
            if self._http is None:
                self._http = httpx.Client(transport=self._transport)
                # HumanLayer's clients need no closing, so code written for them never closes
                # ours: close the connections when this client is collected.
                self._finalizer = weakref.finalize(self, self._http.close)
            return self._http

    def _perform(self, request: Request) -> Outcome:
        try:
            raw = self._client().request(
                request.method,
                self.api_base_url + request.path,
                json=request.json,
                params=request.params,
                headers=self._headers(),
                timeout=request.timeout,
            )
        except httpx.HTTPError as exc:
            return TransportFailure(exc)
        return _outcome(raw)

    def _watch(self, step: Watch) -> PushOutcome:
        # The push channel lives on the background loop; this thread blocks on its answer.
        with self._lock:
            if self._push is None:
                self._push = self._new_push_channel()
            channel = self._push
        future = asyncio.run_coroutine_threadsafe(
            channel.watch(step.kind, step.call_id, step.seconds), _background.loop()
        )
        try:
            return future.result()
        except BaseException:  # KeyboardInterrupt, say: stop watching on the loop too
            future.cancel()
            raise

    def _run(self, operation: Operation[T]) -> T:
        reply: Reply | None = None
        while True:
            try:
                step = operation.send(reply)
            except StopIteration as done:
                result: T = done.value
                return result
            if isinstance(step, Sleep):
                self.sleep(step.seconds)
                reply = None
            elif isinstance(step, Watch):
                reply = self._watch(step)
            else:
                reply = self._perform(step.request)

    def close(self) -> None:
        """Close the connections this client opened (not an ``http_client`` passed in)."""
        with self._lock:
            if self._http is not None and self._owns_http:
                if self._finalizer is not None:
                    self._finalizer()
                self._http = None
            channel, self._push = self._push, None
        if channel is not None:
            asyncio.run_coroutine_threadsafe(channel.aclose(), _background.loop()).result(timeout=30)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -------------------------------------------------------------- decorator and tool

    @overload
    def require_approval(
        self, contact_channel: Callable[P, Coroutine[Any, Any, R]], /
    ) -> Callable[P, Coroutine[Any, Any, R | str]]: ...
    @overload
    def require_approval(self, contact_channel: Callable[P, R], /) -> Callable[P, R | str]: ...
    @overload
    def require_approval(
        self,
        contact_channel: ContactChannel | None = None,
        reject_options: list[ResponseOption] | None = None,
    ) -> _decorator.HumanLayerWrapper: ...
    def require_approval(
        self,
        contact_channel: ContactChannel | Callable[..., Any] | None = None,
        reject_options: list[ResponseOption] | None = None,
    ) -> Any:
        """Hold every call of the function until a human approves it.

        Use bare (``@hl.require_approval``), called (``@hl.require_approval(channel)``) or
        through ``.wrap(fn)``. Rejections and failures come back as text for the LLM.
        """
        if callable(contact_channel):
            return self.require_approval()(contact_channel)
        _decorator.check_unique(reject_options, "reject_options")
        return _decorator.HumanLayerWrapper(self._decider(contact_channel, reject_options))

    def _decider(
        self, channel: ContactChannel | None, reject_options: list[ResponseOption] | None
    ) -> _decorator.Decide:
        def decide(name: str, shown: dict[str, Any]) -> str | None:
            if self._in_terminal:
                return _decorator.terminal_refusal(name, _terminal.ask_approval(self.run_id, name, shown))
            use = channel or self.contact_channel
            spec = FunctionCallSpec(fn=name, kwargs=shown, channel=use, reject_options=reject_options)
            return _decorator.backend_refusal(name, shown, self.fetch_approval(spec), use, self.verbose)

        return decide

    def human_as_tool(
        self,
        contact_channel: ContactChannel | None = None,
        response_options: list[ResponseOption] | None = None,
    ) -> Callable[..., str]:
        """A tool the LLM calls to ask a human; it returns the human's answer."""
        _decorator.check_unique(response_options, "response_options")
        return _decorator.make_tool(
            lambda spec: self.fetch_human_response(spec).as_completed(),
            contact_channel or self.contact_channel,
            response_options,
        )

    # -------------------------------------------------------------- function calls

    def fetch_approval(self, spec: FunctionCallSpec) -> FunctionCall.Completed:
        """Ask for approval and wait for the human's decision (long-poll, retried)."""
        if self._in_terminal:
            return self._approval_in_terminal(spec)
        if self.verbose:
            _terminal.say(f"foureyes: waiting for approval for {spec.fn} at {self.api_base_url}")
        call = self._run(self._wait(self._function_call(spec, None), FUNCTION_CALLS))
        return FunctionCall.Completed(call=call)

    def create_function_call(self, spec: FunctionCallSpec, call_id: str | None = None) -> FunctionCall:
        self._server_only("create_function_call")
        item = self._function_call(spec, call_id)
        return self._run(
            _core.single(_core.create_request(item, FUNCTION_CALLS, self.http_timeout), FunctionCall)
        )

    def get_function_call(self, call_id: str, wait: float | None = None) -> FunctionCall:
        """The call as it is now; with ``wait``, held up to that many seconds for a decision."""
        self._server_only("get_function_call")
        request = _core.get_request(FUNCTION_CALLS, call_id, self.http_timeout, wait)
        return self._run(_core.single(request, FunctionCall))

    def respond_to_function_call(self, call_id: str, status: FunctionCallStatus) -> FunctionCall:
        self._server_only("respond_to_function_call")
        request = _core.respond_request(FUNCTION_CALLS, call_id, status, self.http_timeout)
        return self._run(_core.single(request, FunctionCall))

    def escalate_email_function_call(self, call_id: str, escalation: Escalation) -> FunctionCall:
        self._server_only("escalate_email_function_call")
        request = _core.escalate_request(FUNCTION_CALLS, call_id, escalation, self.http_timeout)
        return self._run(_core.single(request, FunctionCall))

    # -------------------------------------------------------------- human contacts

    def fetch_human_response(self, spec: HumanContactSpec) -> HumanContact.Completed:
        """Ask a human and wait for the answer (long-poll, retried)."""
        if self._in_terminal:
            return self._answer_in_terminal(spec)
        if self.verbose:
            _terminal.say(f"foureyes: waiting for human response for {spec.msg}")
        contact = self._run(self._wait(self._human_contact(spec, None), HUMAN_CONTACTS))
        return HumanContact.Completed(contact=contact)

    def create_human_contact(self, spec: HumanContactSpec, call_id: str | None = None) -> HumanContact:
        self._server_only("create_human_contact")
        item = self._human_contact(spec, call_id)
        return self._run(
            _core.single(_core.create_request(item, HUMAN_CONTACTS, self.http_timeout), HumanContact)
        )

    def get_human_contact(self, call_id: str, wait: float | None = None) -> HumanContact:
        """The question as it is now; with ``wait``, held up to that many seconds for an answer."""
        self._server_only("get_human_contact")
        request = _core.get_request(HUMAN_CONTACTS, call_id, self.http_timeout, wait)
        return self._run(_core.single(request, HumanContact))

    def respond_to_human_contact(self, call_id: str, status: HumanContactStatus) -> HumanContact:
        self._server_only("respond_to_human_contact")
        request = _core.respond_request(HUMAN_CONTACTS, call_id, status, self.http_timeout)
        return self._run(_core.single(request, HumanContact))

    def escalate_email_human_contact(self, call_id: str, escalation: Escalation) -> HumanContact:
        self._server_only("escalate_email_human_contact")
        request = _core.escalate_request(HUMAN_CONTACTS, call_id, escalation, self.http_timeout)
        return self._run(_core.single(request, HumanContact))


class AsyncHumanLayer(_ClientBase):
    """The asyncio client: every method of `HumanLayer`, as coroutines.

    Unlike HumanLayer's async client, it also has the terminal mode (no API key): the prompt
    runs in a worker thread via ``asyncio.to_thread`` so the event loop keeps running. A
    cancelled prompt leaves that thread blocked on ``input()`` until a line is entered.
    """

    def __init__(
        self,
        *,
        run_id: str | None = None,
        approval_method: ApprovalMethod | None = None,
        agent_name: str | None = None,
        genid: Callable[[str], str] = _config.genid,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        contact_channel: ContactChannel | None = None,
        verbose: bool = False,
        api_key: str | None = None,
        api_base_url: str | None = None,
        timeout: float | None = None,
        http_timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
        wait_via: WaitVia | None = None,
    ) -> None:
        super().__init__(
            run_id=run_id,
            approval_method=approval_method,
            agent_name=agent_name,
            genid=genid,
            contact_channel=contact_channel,
            verbose=verbose,
            api_key=api_key,
            api_base_url=api_base_url,
            timeout=timeout,
            http_timeout=http_timeout,
            retry=retry,
            clock=clock,
            wait_via=wait_via,
            custom_http=transport is not None or http_client is not None,
        )
        self.sleep = sleep
        self._transport = transport
        self._http = http_client
        self._owns_http = http_client is None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._push: PushChannel | None = None
        self._push_loop: asyncio.AbstractEventLoop | None = None

    # -------------------------------------------------------------- driver

    def _client(self) -> httpx.AsyncClient:
        if not self._owns_http:
            assert self._http is not None
            return self._http
        # An httpx.AsyncClient's connections belong to one event loop, and a module-level
        # default client may outlive several asyncio.run() calls: one client per loop.
        loop = asyncio.get_running_loop()
        if self._http is None or self._loop is not loop:
            # No idle connections are kept: an async client cannot be closed when it is
            # collected, and code written for HumanLayer never closes it.
            limits = httpx.Limits(max_keepalive_connections=0)
            self._http = httpx.AsyncClient(transport=self._transport, limits=limits)
            self._loop = loop
        return self._http

    async def _perform(self, request: Request) -> Outcome:
        try:
            raw = await self._client().request(
                request.method,
                self.api_base_url + request.path,
                json=request.json,
                params=request.params,
                headers=self._headers(),
                timeout=request.timeout,
            )
        except httpx.HTTPError as exc:
            return TransportFailure(exc)
        return _outcome(raw)

    def _push_channel(self) -> PushChannel:
        # Like the HTTP client, a WebSocket belongs to one event loop: one channel per loop.
        loop = asyncio.get_running_loop()
        if self._push is None or self._push_loop is not loop:
            self._push = self._new_push_channel()
            self._push_loop = loop
        return self._push

    async def _run(self, operation: Operation[T]) -> T:
        reply: Reply | None = None
        while True:
            try:
                step = operation.send(reply)
            except StopIteration as done:
                result: T = done.value
                return result
            if isinstance(step, Sleep):
                await self.sleep(step.seconds)
                reply = None
            elif isinstance(step, Watch):
                reply = await self._push_channel().watch(step.kind, step.call_id, step.seconds)
            else:
                reply = await self._perform(step.request)

    async def aclose(self) -> None:
        """Close the connections this client opened (not an ``http_client`` passed in)."""
        if self._http is not None and self._owns_http:
            await self._http.aclose()
            self._http = None
        if self._push is not None and self._push_loop is asyncio.get_running_loop():
            await self._push.aclose()
        self._push = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -------------------------------------------------------------- decorator and tool

    @overload
    def require_approval(
        self, contact_channel: Callable[P, Coroutine[Any, Any, R]], /
    ) -> Callable[P, Coroutine[Any, Any, R | str]]: ...
    @overload
    def require_approval(
        self, contact_channel: Callable[P, R], /
    ) -> Callable[P, Coroutine[Any, Any, R | str]]: ...
    @overload
    def require_approval(
        self,
        contact_channel: ContactChannel | None = None,
        reject_options: list[ResponseOption] | None = None,
    ) -> _decorator.AsyncHumanLayerWrapper: ...
    def require_approval(
        self,
        contact_channel: ContactChannel | Callable[..., Any] | None = None,
        reject_options: list[ResponseOption] | None = None,
    ) -> Any:
        """Hold every call until a human approves it; the wrapped function becomes async.

        Use bare, called, or through ``.wrap(fn)``; it accepts sync and async functions.
        """
        if callable(contact_channel):
            return self.require_approval()(contact_channel)
        _decorator.check_unique(reject_options, "reject_options")
        return _decorator.AsyncHumanLayerWrapper(self._decider(contact_channel, reject_options))

    def _decider(
        self, channel: ContactChannel | None, reject_options: list[ResponseOption] | None
    ) -> _decorator.AsyncDecide:
        async def decide(name: str, shown: dict[str, Any]) -> str | None:
            if self._in_terminal:
                verdict = await asyncio.to_thread(_terminal.ask_approval, self.run_id, name, shown)
                return _decorator.terminal_refusal(name, verdict)
            use = channel or self.contact_channel
            spec = FunctionCallSpec(fn=name, kwargs=shown, channel=use, reject_options=reject_options)
            completed = await self.fetch_approval(spec)
            return _decorator.backend_refusal(name, shown, completed, use, self.verbose)

        return decide

    def human_as_tool(
        self,
        contact_channel: ContactChannel | None = None,
        response_options: list[ResponseOption] | None = None,
    ) -> Callable[..., Awaitable[str]]:
        """An async tool the LLM calls to ask a human; it returns the human's answer."""
        _decorator.check_unique(response_options, "response_options")

        async def ask(spec: HumanContactSpec) -> str:
            return (await self.fetch_human_response(spec)).as_completed()

        return _decorator.make_async_tool(ask, contact_channel or self.contact_channel, response_options)

    # -------------------------------------------------------------- function calls

    async def fetch_approval(self, spec: FunctionCallSpec) -> FunctionCall.Completed:
        """Ask for approval and wait for the human's decision (long-poll, retried)."""
        if self._in_terminal:
            return await asyncio.to_thread(self._approval_in_terminal, spec)
        if self.verbose:
            _terminal.say(f"foureyes: waiting for approval for {spec.fn} at {self.api_base_url}")
        call = await self._run(self._wait(self._function_call(spec, None), FUNCTION_CALLS))
        return FunctionCall.Completed(call=call)

    async def create_function_call(self, spec: FunctionCallSpec, call_id: str | None = None) -> FunctionCall:
        self._server_only("create_function_call")
        item = self._function_call(spec, call_id)
        request = _core.create_request(item, FUNCTION_CALLS, self.http_timeout)
        return await self._run(_core.single(request, FunctionCall))

    async def get_function_call(self, call_id: str, wait: float | None = None) -> FunctionCall:
        """The call as it is now; with ``wait``, held up to that many seconds for a decision."""
        self._server_only("get_function_call")
        request = _core.get_request(FUNCTION_CALLS, call_id, self.http_timeout, wait)
        return await self._run(_core.single(request, FunctionCall))

    async def respond_to_function_call(self, call_id: str, status: FunctionCallStatus) -> FunctionCall:
        self._server_only("respond_to_function_call")
        request = _core.respond_request(FUNCTION_CALLS, call_id, status, self.http_timeout)
        return await self._run(_core.single(request, FunctionCall))

    async def escalate_email_function_call(self, call_id: str, escalation: Escalation) -> FunctionCall:
        self._server_only("escalate_email_function_call")
        request = _core.escalate_request(FUNCTION_CALLS, call_id, escalation, self.http_timeout)
        return await self._run(_core.single(request, FunctionCall))

    # -------------------------------------------------------------- human contacts

    async def fetch_human_response(self, spec: HumanContactSpec) -> HumanContact.Completed:
        """Ask a human and wait for the answer (long-poll, retried)."""
        if self._in_terminal:
            return await asyncio.to_thread(self._answer_in_terminal, spec)
        if self.verbose:
            _terminal.say(f"foureyes: waiting for human response for {spec.msg}")
        contact = await self._run(self._wait(self._human_contact(spec, None), HUMAN_CONTACTS))
        return HumanContact.Completed(contact=contact)

    async def create_human_contact(self, spec: HumanContactSpec, call_id: str | None = None) -> HumanContact:
        self._server_only("create_human_contact")
        item = self._human_contact(spec, call_id)
        request = _core.create_request(item, HUMAN_CONTACTS, self.http_timeout)
        return await self._run(_core.single(request, HumanContact))

    async def get_human_contact(self, call_id: str, wait: float | None = None) -> HumanContact:
        """The question as it is now; with ``wait``, held up to that many seconds for an answer."""
        self._server_only("get_human_contact")
        request = _core.get_request(HUMAN_CONTACTS, call_id, self.http_timeout, wait)
        return await self._run(_core.single(request, HumanContact))

    async def respond_to_human_contact(self, call_id: str, status: HumanContactStatus) -> HumanContact:
        self._server_only("respond_to_human_contact")
        request = _core.respond_request(HUMAN_CONTACTS, call_id, status, self.http_timeout)
        return await self._run(_core.single(request, HumanContact))

    async def escalate_email_human_contact(self, call_id: str, escalation: Escalation) -> HumanContact:
        self._server_only("escalate_email_human_contact")
        request = _core.escalate_request(HUMAN_CONTACTS, call_id, escalation, self.http_timeout)
        return await self._run(_core.single(request, HumanContact))
