"""What ``HumanLayer`` (sync) and ``AsyncHumanLayer`` (asyncio) share: settings, mode, requests.

Both clients take HumanLayer's constructor arguments and offer HumanLayer's methods, plus
``timeout`` (how long a fetch may wait for a human; default None: forever, as in HumanLayer;
sent as the request's ``expires_at`` unless ``expire_on_timeout=False``),
long-poll waiting with retries, and injectable ``transport``/``http_client``/``clock`` for tests.
A client only performs the steps the I/O-free core (``_core``) yields: it sends requests with
httpx, watches the push channel and sleeps. ``AsyncHumanLayer`` is written once, in
`foureyes._async.client`; ``HumanLayer`` is generated from it (`foureyes._sync.client`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, Literal, Self, TypeVar, cast

import httpx

from foureyes import _config, _core, _receipts, _terminal
from foureyes._approvers import NOTHING, Ask
from foureyes._core import Operation, Response, RetryPolicy
from foureyes._exceptions import ConfigurationError, FoureyesError
from foureyes._push import PushChannel, websocket_url
from foureyes.models import (
    ContactChannel,
    FunctionCall,
    FunctionCallSpec,
    FunctionCallStatus,
    HumanContact,
    HumanContactSpec,
    HumanContactStatus,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")
SpecT = TypeVar("SpecT", FunctionCallSpec, HumanContactSpec)
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


class ClientBase:
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
        expire_on_timeout: bool = True,
        verify_receipts: bool | None = None,
        receipt_jwks: str | os.PathLike[str] | Mapping[str, Any] | None = None,
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
        # With a timeout the server expires the request when the wait ends, so nobody approves
        # it later; False leaves it pending for a caller that comes back for it (a deferred hook).
        self.expire_on_timeout = expire_on_timeout
        self.http_timeout = http_timeout
        self.retry = retry or RetryPolicy()
        self.clock = clock
        # An injected HTTP transport or client (a proxy, mTLS, a test double) cannot carry the
        # WebSocket, so such a client long-polls unless told otherwise.
        self.wait_via: WaitVia = cast(
            WaitVia, config.wait_via or ("longpoll" if custom_http else "websocket")
        )
        # An approval runs nothing until its signed receipt checks out (docs/receipts.md): with
        # the keys pinned in ``receipt_jwks`` (a JWKS file or mapping), else the server's JWKS,
        # fetched once and again for a key it does not know yet.
        self.verify_receipts = config.verify_receipts if verify_receipts is None else verify_receipts
        pinned = receipt_jwks if receipt_jwks is not None else config.receipt_jwks
        self._pinned_jwks = None if pinned is None else _receipts.load_jwks(pinned)
        self._fetched_jwks: dict[str, Any] | None = None

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

    def _terminal_asks(self, ask: Ask) -> None:
        """The local terminal has one human in it: a quorum or approver groups cannot be met there,
        and are refused rather than dropped."""
        if (ask.approvals or 1) > 1 or ask.approvers is not None:
            raise ConfigurationError(
                "approvals and approvers need a foureyes server (the local terminal mode asks one "
                "person): set FOUREYES_API_KEY (and FOUREYES_API_BASE) or pass api_key="
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

    def _jwks_url(self) -> str:
        """The JWKS beside the API: the base without its ``/humanlayer/v1``, else its origin."""
        base = self.api_base_url
        if base.endswith("/humanlayer/v1"):
            return base.removesuffix("/humanlayer/v1") + _receipts.JWKS_PATH
        url = httpx.URL(base)
        return str(url.copy_with(path=_receipts.JWKS_PATH, query=None))

    def _approved_arguments(
        self, call: FunctionCall, sent: dict[str, Any], allow_edit: bool
    ) -> dict[str, Any]:
        """The arguments an approval lets run: the edited ones where the request allowed edits."""
        status = call.status
        edited = None if status is None else status.edited_kwargs
        if edited is None:
            return sent
        if not allow_edit:
            raise FoureyesError(
                f"the server approved {call.call_id!r} with edited arguments, "
                "but the request did not allow edits"
            )
        return edited

    def _check_receipt(
        self, call: FunctionCall, sent: dict[str, Any], allow_edit: bool, jwks: Mapping[str, Any]
    ) -> None:
        arguments = self._approved_arguments(call, sent, allow_edit)
        _receipts.check_approval(
            None if call.status is None else call.status.receipt,
            jwks,
            call_id=call.call_id,
            fn=call.spec.fn,
            arguments=arguments,
            edited=arguments is not sent,
        )

    def _needs_receipt(self, call: FunctionCall) -> bool:
        status = call.status
        return (
            self.verify_receipts
            and status is not None
            and status.approved is True
            and status.expired_at is None
        )

    def _wait(self, item: Any, kind: Any, ask: Ask = NOTHING) -> Operation[Any]:
        return _core.await_completion(
            item,
            kind,
            policy=self.retry,
            http_timeout=self.http_timeout,
            timeout=self.timeout,
            clock=self.clock,
            push=self.wait_via == "websocket",
            # The server ends the request when the caller stops waiting: nobody approves it later.
            expires_at=self._deadline(),
            ask=ask,
        )

    def _deadline(self) -> datetime | None:
        if self.timeout is None or not self.expire_on_timeout:
            return None
        return datetime.now(UTC) + timedelta(seconds=self.timeout)

    def _push_factory(self) -> Callable[[], PushChannel]:
        # Holds no reference to the client, so an unclosed client can still be collected.
        base, key = self.api_base_url, self.api_key

        def new() -> PushChannel:
            assert key is not None
            return PushChannel(websocket_url(base), key, user_agent=USER_AGENT)

        return new

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


def outcome(raw: httpx.Response) -> Response:
    return Response(raw.status_code, raw.content, raw.headers.get("retry-after"))
