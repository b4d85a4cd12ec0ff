# Generated from src/foureyes/_async/client.py by scripts/generate_sync: do not edit.
# Change the asyncio source and run scripts/generate_sync.
"""The client, written once for asyncio; ``scripts/generate_sync`` writes the sync one from it.

In the sync copy ``async`` and ``await`` go, ``Async*`` names lose their prefix, and a line
marked ``# sync: ...`` becomes what follows the marker. What truly differs between the two
clients lives in their ``connections`` modules, written by hand.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, ParamSpec, Self, TypeVar, overload

import httpx

from foureyes import _config, _core, _decorator, _terminal, _wrappers
from foureyes._approvers import NOTHING, Approvers, Ask
from foureyes._client import ApprovalMethod, ClientBase, WaitVia, outcome
from foureyes._core import (
    FUNCTION_CALLS,
    HUMAN_CONTACTS,
    Operation,
    Outcome,
    Reply,
    Request,
    RetryPolicy,
    Sleep,
    TransportFailure,
    Watch,
)
from foureyes._exceptions import ReceiptError
from foureyes._push import PushChannel
from foureyes._sync import gate
from foureyes._sync.connections import Connections
from foureyes.models import (
    BulkDecisionResponse,
    BulkDecisionResult,
    ContactChannel,
    Escalation,
    FunctionCall,
    FunctionCallDecision,
    FunctionCallSpec,
    FunctionCallStatus,
    HumanContact,
    HumanContactSpec,
    HumanContactStatus,
    JsonWebKeySet,
    ResponseOption,
)

T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R")


class HumanLayer(ClientBase):
    """A client that asks a human before an agent acts.

    With an API key (argument, ``FOUREYES_API_KEY`` or ``HUMANLAYER_API_KEY``) it asks through
    the server at ``api_base_url`` (``FOUREYES_API_BASE``, ``HUMANLAYER_API_BASE``, default
    ``http://127.0.0.1:7444/humanlayer/v1``). Without one it asks in the local terminal, as
    HumanLayer's CLI mode does; then only the decorator, the tool and the ``fetch_*`` methods
    work. ``timeout`` bounds each ``fetch_*`` wait (None: wait forever), and is sent as the
    request's deadline: the server expires it then (``expire_on_timeout=False``: it stays
    pending after the wait, for a caller that comes back for it). An approval is acted on only
    once its signed receipt checks out (``verify_receipts``, ``receipt_jwks``: docs/receipts.md).

    The sync client is thread-safe. The asyncio client offers the same methods as coroutines,
    and has the terminal mode too (HumanLayer's has not): the prompt runs in a worker thread so
    the event loop keeps running; a cancelled prompt leaves that thread blocked on ``input()``
    until a line is entered.
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
        expire_on_timeout: bool = True,
        verify_receipts: bool | None = None,
        receipt_jwks: str | os.PathLike[str] | Mapping[str, Any] | None = None,
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
            expire_on_timeout=expire_on_timeout,
            verify_receipts=verify_receipts,
            receipt_jwks=receipt_jwks,
        )
        self.sleep = sleep
        self._connections = Connections(transport, http_client, self._push_factory())
        # One JWKS fetch for all the receipts that arrive together (a bulk decision's).
        self._jwks_lock = threading.Lock()

    # -------------------------------------------------------------- driver

    @property
    def _http(self) -> httpx.Client | None:
        return self._connections.http

    @property
    def _push(self) -> PushChannel | None:
        return self._connections.push

    def _perform(self, request: Request) -> Outcome:
        try:
            raw = self._connections.client().request(
                request.method,
                request.url or self.api_base_url + request.path,
                json=request.json,
                params=request.params,
                headers=self._headers(),
                timeout=request.timeout,
            )
        except httpx.HTTPError as exc:
            return TransportFailure(exc)
        return outcome(raw)

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
                reply = self._connections.watch(step)
            else:
                reply = self._perform(step.request)

    def close(self) -> None:
        """Close the connections this client opened (not an ``http_client`` passed in)."""
        self._connections.close()

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
    def require_approval(self, contact_channel: Callable[P, R], /) -> _decorator.Gated[P, R]: ...
    @overload
    def require_approval(
        self,
        contact_channel: ContactChannel | None = None,
        reject_options: list[ResponseOption] | None = None,
        *,
        editable: bool = False,
        approvals: int | None = None,
        approvers: Approvers | Mapping[str, Any] | None = None,
    ) -> _wrappers.HumanLayerWrapper: ...
    def require_approval(
        self,
        contact_channel: ContactChannel | Callable[..., Any] | None = None,
        reject_options: list[ResponseOption] | None = None,
        *,
        editable: bool = False,
        approvals: int | None = None,
        approvers: Approvers | Mapping[str, Any] | None = None,
    ) -> Any:
        """Hold every call of the function until a human approves it.

        Use bare (``@hl.require_approval``), called (``@hl.require_approval(channel)``) or
        through ``.wrap(fn)``. Rejections and failures come back as text for the LLM. The
        sync client keeps a sync function sync; the asyncio client turns every function it
        wraps, sync or async, into a coroutine function. ``editable=True`` lets the reviewer
        edit the arguments: the function then runs with the edited ones, and returns a text
        telling the LLM what changed and what the function returned. ``approvals=N``: N distinct
        people must approve (foureyes' ``required_approvals``, 1 to 20); ``approvers``: approvals
        from members of groups (``foureyes.all_of("finance", "security")``, ``any_of``,
        ``at_least``, or the wire shape ``{"all_of": [...]}``). Both are checked here, at once.
        """
        if callable(contact_channel):
            return self.require_approval()(contact_channel)
        _decorator.check_unique(reject_options, "reject_options")
        ask = Ask.of(editable, approvals, approvers)
        if self._in_terminal:
            self._terminal_asks(ask)
        return _wrappers.HumanLayerWrapper(self._decider(contact_channel, reject_options, ask))

    def _decider(
        self,
        channel: ContactChannel | None,
        reject_options: list[ResponseOption] | None,
        ask: Ask = NOTHING,
    ) -> _decorator.Decide:
        def decide(name: str, shown: dict[str, Any]) -> _decorator.Verdict:
            if self._in_terminal:
                self._terminal_asks(ask)
                verdict = _terminal.ask_approval(self.run_id, name, shown)
                return _decorator.terminal_refusal(name, verdict)
            use = channel or self.contact_channel
            spec = FunctionCallSpec(fn=name, kwargs=shown, channel=use, reject_options=reject_options)
            completed = self._fetch_approval(spec, ask)
            return _decorator.backend_refusal(name, shown, completed, use, self.verbose)

        return decide

    def human_as_tool(
        self,
        contact_channel: ContactChannel | None = None,
        response_options: list[ResponseOption] | None = None,
    ) -> Callable[..., str]:
        """A tool the LLM calls to ask a human; it returns the human's answer."""
        _decorator.check_unique(response_options, "response_options")

        def ask(spec: HumanContactSpec) -> str:
            completed = self.fetch_human_response(spec)
            return _decorator.tool_answer(completed)

        return gate.make_tool(ask, contact_channel or self.contact_channel, response_options)

    # -------------------------------------------------------------- function calls

    def fetch_approval(
        self,
        spec: FunctionCallSpec,
        *,
        allow_edit: bool = False,
        approvals: int | None = None,
        approvers: Approvers | Mapping[str, Any] | None = None,
    ) -> FunctionCall.Completed:
        """Ask for approval and wait for the human's decision (long-poll, retried).

        An approval comes back only once its receipt proves it (``ReceiptError`` otherwise);
        ``allow_edit``: the reviewer may approve edited arguments (``status.edited_kwargs``);
        ``approvals``, ``approvers``: as for ``require_approval``."""
        return self._fetch_approval(spec, Ask.of(allow_edit, approvals, approvers))

    def _fetch_approval(self, spec: FunctionCallSpec, ask: Ask) -> FunctionCall.Completed:
        if self._in_terminal:
            self._terminal_asks(ask)
            return self._approval_in_terminal(spec)
        if self.verbose:
            _terminal.say(f"foureyes: waiting for approval for {spec.fn} at {self.api_base_url}")
        call = self._run(self._wait(self._function_call(spec, None), FUNCTION_CALLS, ask))
        self._approved_arguments(call, spec.kwargs, ask.allow_edit)
        if self._needs_receipt(call):
            self._verify_receipt(call, spec.kwargs, ask.allow_edit)
        return FunctionCall.Completed(call=call)

    def _verify_receipt(self, call: FunctionCall, sent: dict[str, Any], allow_edit: bool) -> None:
        if self._pinned_jwks is not None:
            self._check_receipt(call, sent, allow_edit, self._pinned_jwks)
            return
        jwks = self._fetched_jwks or self._fetch_jwks(None)
        try:
            self._check_receipt(call, sent, allow_edit, jwks)
        except ReceiptError as exc:
            if exc.reason != "unknown_key":
                raise
            # A key made since the JWKS was fetched (a rotation): fetch it once more.
            self._check_receipt(call, sent, allow_edit, self._fetch_jwks(jwks))

    def _fetch_jwks(self, stale: dict[str, Any] | None) -> dict[str, Any]:
        """The server's JWKS, fetched unless another wait fetched a newer one than ``stale``
        while this one waited for the lock: one request however many receipts arrive at once."""
        with self._jwks_lock:
            if self._fetched_jwks is not None and self._fetched_jwks is not stale:
                return self._fetched_jwks
            request = _core.jwks_request(self._jwks_url(), self.http_timeout)
            found = self._run(_core.single(request, JsonWebKeySet))
            self._fetched_jwks = found.model_dump()
            return self._fetched_jwks

    def create_function_call(
        self,
        spec: FunctionCallSpec,
        call_id: str | None = None,
        *,
        allow_edit: bool = False,
        approvals: int | None = None,
        approvers: Approvers | Mapping[str, Any] | None = None,
    ) -> FunctionCall:
        """Create the request and return at once; ``allow_edit``, ``approvals`` and
        ``approvers`` are as for ``fetch_approval``."""
        ask = Ask.of(allow_edit, approvals, approvers)
        self._server_only("create_function_call")
        item = self._function_call(spec, call_id)
        request = _core.create_request(item, FUNCTION_CALLS, self.http_timeout, ask=ask)
        return self._run(_core.single(request, FunctionCall))

    def get_function_call(self, call_id: str, wait: float | None = None) -> FunctionCall:
        """The call as it is now; with ``wait``, held up to that many seconds for a decision."""
        self._server_only("get_function_call")
        request = _core.get_request(FUNCTION_CALLS, call_id, self.http_timeout, wait)
        return self._run(_core.single(request, FunctionCall))

    def respond_to_function_call(self, call_id: str, status: FunctionCallStatus) -> FunctionCall:
        self._server_only("respond_to_function_call")
        request = _core.respond_request(FUNCTION_CALLS, call_id, status, self.http_timeout)
        return self._run(_core.single(request, FunctionCall))

    def respond_to_function_calls(
        self, decisions: Sequence[FunctionCallDecision]
    ) -> list[BulkDecisionResult]:
        """foureyes: decide many function calls in one request and one transaction (at most
        ``foureyes.models.MAX_BULK_DECISIONS``); what became of each, in the order given. A call that is
        missing, already decided, or whose verdict is refused is reported skipped, not raised."""
        self._server_only("respond_to_function_calls")
        request = _core.bulk_respond_request(decisions, self.http_timeout)
        return (self._run(_core.single(request, BulkDecisionResponse))).results

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
        request = _core.create_request(item, HUMAN_CONTACTS, self.http_timeout)
        return self._run(_core.single(request, HumanContact))

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
