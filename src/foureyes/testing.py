"""Test an agent without a server: an in-process fake of a foureyes server.

`FakeFoureyes` speaks the HumanLayer protocol behind an ``httpx`` transport and keeps the rules
the SDK relies on: creates are idempotent per call id (the same id with another body is 409),
decisions are final (a second one is 409), a rejection always has a comment, and a long-poll is
held until the item is decided or its ``wait`` runs out. The test plays the human::

    from foureyes import FunctionCallSpec
    from foureyes.testing import FakeFoureyes

    def test_the_agent_asks_first() -> None:
        with FakeFoureyes() as fy:
            hl = fy.client()
            hl.create_function_call(FunctionCallSpec(fn="refund", kwargs={"usd": 40}), call_id="c1")
            [call] = fy.pending()
            fy.reject(call.call_id, "ask the customer first")
            assert hl.get_function_call("c1").status.comment == "ask the customer first"

A client that waits (``fetch_approval``, ``require_approval``, ``human_as_tool``) blocks until
somebody decides: set a rule first (``fy.auto_approve()``, ``fy.auto_reject("no",
fn="refund")``, ``fy.auto_answer("yes")``), or decide from another thread or task while it
waits (``fy.wait_for_pending()`` then ``fy.approve(...)``). Inside ``with FakeFoureyes()`` the
module-level ``require_approval``, ``fetch_approval``, ``fetch_human_response`` and
``human_as_tool`` use the fake too. Like a real server it signs a receipt for every decision
(with a key of its own, served as its JWKS), so the SDK's receipt checks run against the fake
too; ``fy.approve(call_id, edited_kwargs={...})`` approves edited arguments where the request
allowed edits. A request that needs several approvals (``required_approvals``, the SDK's
``approvals=N``) stays pending until that many distinct people approved (``fy.approve(call_id,
by="ana@example.com")``, then another ``by``); one rejection vetoes it. Approver groups
(``required_approvers``) are not faked: such a create is refused with 422. See ``docs/testing.md``.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self
from urllib.parse import unquote

import httpx

from foureyes import _default, _receipts
from foureyes import _fake_quorum as _quorum
from foureyes._async.client import AsyncHumanLayer
from foureyes._sync.client import HumanLayer
from foureyes.models import MAX_BULK_DECISIONS, FunctionCall, HumanContact

__all__ = ["API_BASE_URL", "API_KEY", "CLIENT_TIMEOUT", "FakeFoureyes"]

API_BASE_URL = "http://foureyes.test/humanlayer/v1"
API_KEY = "fe_test_key"
# How long a client made by the fake waits for a decision before it gives up.
CLIENT_TIMEOUT = 10.0

FUNCTION_CALLS = "function_calls"
CONTACTS = "contact_requests"
# A decision made through a helper or a rule, as `status.responded_by` shows it.
_BY_TEST = {"email": None, "name": None, "channel": "testing"}
_BY_API = {"email": None, "name": None, "channel": "api"}


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _error(code: int, name: str, message: str) -> httpx.Response:
    return httpx.Response(code, json={"error": {"code": name, "message": message}})


def _by(email: str | None) -> dict[str, Any]:
    return _BY_TEST if email is None else {**_BY_TEST, "email": email}


def _option_text(options: list[dict[str, Any]] | None, name: str) -> str:
    for option in options or []:
        if option.get("name") == name:
            return str(option.get("prompt_fill") or option.get("title") or name)
    raise ValueError(f"no option named {name!r}")


@dataclass(frozen=True)
class _Rule:
    collection: str
    fn: str | None  # None: every function call (or every question)
    status: dict[str, Any]


class FakeFoureyes:
    """An in-memory foureyes server for tests; see the module docstring.

    ``items`` holds each stored request as the wire JSON a server would answer, keyed by
    ``("function_calls" | "contact_requests", call_id)``; ``requests`` every HTTP request the
    fake received, in order.
    """

    def __init__(self, *, api_key: str = API_KEY, api_base_url: str = API_BASE_URL) -> None:
        self.api_key = api_key
        self.api_base_url = api_base_url.rstrip("/")
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.requests: list[httpx.Request] = []
        self._rules: list[_Rule] = []
        self._changed = threading.Condition()
        self._saved_defaults: tuple[HumanLayer | None, AsyncHumanLayer | None] | None = None
        # signs every decision's receipt, as a server does; jwks() publishes its public half
        self.signing_key = _receipts.new_private_key()

    def jwks(self) -> dict[str, Any]:
        """The fake's JWKS (also served at ``/.well-known/foureyes/jwks.json``)."""
        return {"keys": [_receipts.public_jwk(_receipts.public_of(self.signing_key))]}

    # ---------------------------------------------------------------- clients

    def transport(self) -> httpx.MockTransport:
        """An ``httpx`` transport to this fake, for ``HumanLayer(transport=...)``."""
        return httpx.MockTransport(self.handler)

    def async_transport(self) -> httpx.MockTransport:
        """An ``httpx`` transport to this fake for ``AsyncHumanLayer``: a long-poll waits on the
        event loop instead of blocking it."""
        return httpx.MockTransport(self.async_handler)

    def client(self, **options: Any) -> HumanLayer:
        """A `HumanLayer` wired to this fake; ``options`` go to its constructor.

        Unless told otherwise it waits at most ``CLIENT_TIMEOUT`` seconds for a decision, so a
        test that never decides fails (``ApprovalTimeout``, or the decorator's "Error fetching
        approval" text) instead of hanging.
        """
        return HumanLayer(**{**self._settings(), "transport": self.transport(), **options})

    def async_client(self, **options: Any) -> AsyncHumanLayer:
        """An `AsyncHumanLayer` wired to this fake; ``options`` go to its constructor."""
        return AsyncHumanLayer(**{**self._settings(), "transport": self.async_transport(), **options})

    def _settings(self) -> dict[str, Any]:
        return {"api_key": self.api_key, "api_base_url": self.api_base_url, "timeout": CLIENT_TIMEOUT}

    def __enter__(self) -> Self:
        """Make the module-level API (``foureyes.require_approval`` ...) use this fake."""
        self._saved_defaults = _default.install(self.client(), self.async_client())
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._saved_defaults is not None:
            mine, _ = _default.install(*self._saved_defaults)
            self._saved_defaults = None
            if mine is not None:
                mine.close()

    # ---------------------------------------------------------------- the human's side

    def pending(self) -> list[FunctionCall]:
        """The function calls waiting for a decision, oldest first."""
        with self._changed:
            return [FunctionCall.model_validate(item) for item in self._pending(FUNCTION_CALLS)]

    def pending_contacts(self) -> list[HumanContact]:
        """The questions waiting for an answer, oldest first."""
        with self._changed:
            return [HumanContact.model_validate(item) for item in self._pending(CONTACTS)]

    def function_call(self, call_id: str) -> FunctionCall:
        with self._changed:
            return FunctionCall.model_validate(self._item(FUNCTION_CALLS, call_id))

    def human_contact(self, call_id: str) -> HumanContact:
        with self._changed:
            return HumanContact.model_validate(self._item(CONTACTS, call_id))

    def approve(
        self,
        call_id: str,
        comment: str | None = None,
        *,
        edited_kwargs: dict[str, Any] | None = None,
        by: str | None = None,
    ) -> FunctionCall:
        """Approve a pending function call (with ``edited_kwargs`` instead of its arguments,
        where it allows edits); its waiting agent goes on.

        ``by``: the approver's address (``status.responded_by.email``). A call that needs several
        approvals (``required_approvals``) counts each ``by`` once and stays pending until that
        many distinct people approved; each of its approvals needs a ``by``, and the same one
        twice raises ValueError."""
        status = {"approved": True, "comment": comment, "edited_kwargs": edited_kwargs}
        return FunctionCall.model_validate(self._decide(FUNCTION_CALLS, call_id, status, _by(by)))

    def reject(
        self, call_id: str, comment: str | None = None, *, option: str | None = None, by: str | None = None
    ) -> FunctionCall:
        """Reject a pending function call with a comment, or with one of its ``reject_options``
        (whose ``prompt_fill``, else ``title``, else name becomes the comment if none is given).
        One rejection completes it, however many approvals it needed (a veto)."""
        status = {"approved": False, "comment": comment, "reject_option_name": option}
        return FunctionCall.model_validate(self._decide(FUNCTION_CALLS, call_id, status, _by(by)))

    def answer(self, call_id: str, response: str | None = None, *, option: str | None = None) -> HumanContact:
        """Answer a pending question with text, or with one of its ``response_options``."""
        status = {"response": response, "response_option_name": option}
        return HumanContact.model_validate(self._decide(CONTACTS, call_id, status, _BY_TEST))

    def wait_for_pending(self, timeout: float = 5.0) -> FunctionCall:
        """The oldest pending function call, waiting (in real time) for an agent to ask one."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._pending(FUNCTION_CALLS), timeout=timeout):
                raise TimeoutError(f"no function call was asked for within {timeout} s")
            return FunctionCall.model_validate(self._pending(FUNCTION_CALLS)[0])

    def wait_for_contact(self, timeout: float = 5.0) -> HumanContact:
        """The oldest unanswered question, waiting (in real time) for an agent to ask one."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._pending(CONTACTS), timeout=timeout):
                raise TimeoutError(f"no question was asked within {timeout} s")
            return HumanContact.model_validate(self._pending(CONTACTS)[0])

    # ---------------------------------------------------------------- rules

    def auto_approve(self, *, fn: str | None = None, comment: str | None = None) -> None:
        """Approve every function call (named ``fn``, if given) as soon as it is asked."""
        self._rules.append(_Rule(FUNCTION_CALLS, fn, {"approved": True, "comment": comment}))

    def auto_reject(
        self, comment: str | None = None, *, option: str | None = None, fn: str | None = None
    ) -> None:
        """Reject every function call (named ``fn``, if given) as soon as it is asked."""
        if comment is None and option is None:
            raise ValueError("a rejection needs a comment or a reject option")
        status = {"approved": False, "comment": comment, "reject_option_name": option}
        self._rules.append(_Rule(FUNCTION_CALLS, fn, status))

    def auto_answer(self, response: str | None = None, *, option: str | None = None) -> None:
        """Answer every question as soon as it is asked."""
        if response is None and option is None:
            raise ValueError("an answer needs a response or a response option")
        self._rules.append(_Rule(CONTACTS, None, {"response": response, "response_option_name": option}))

    def clear_rules(self) -> None:
        self._rules.clear()

    # ---------------------------------------------------------------- the protocol

    def handler(self, request: httpx.Request) -> httpx.Response:
        """Answer one request; a long-poll blocks this thread until a decision or its ``wait``."""
        self.requests.append(request)
        poll = self._long_poll(request)
        if poll is not None:
            key, seconds = poll
            with self._changed:
                self._changed.wait_for(lambda: self._settled(key), timeout=seconds)
        return self._route(request)

    async def async_handler(self, request: httpx.Request) -> httpx.Response:
        """`handler` for asyncio: a long-poll waits without blocking the event loop."""
        self.requests.append(request)
        poll = self._long_poll(request)
        if poll is not None:
            key, seconds = poll
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                with self._changed:
                    if self._settled(key):
                        break
                await asyncio.sleep(0.01)
        return self._route(request)

    def _long_poll(self, request: httpx.Request) -> tuple[tuple[str, str], float] | None:
        wait = request.url.params.get("wait")
        route = self._parts(request)
        if request.method != "GET" or wait is None or route is None or len(route) != 2:
            return None
        collection = self._collection(route[0])
        if collection is None:
            return None
        try:
            return (collection, route[1]), float(wait)
        except ValueError:
            return None

    def _settled(self, key: tuple[str, str]) -> bool:
        item = self.items.get(key)
        return item is None or self._done(key[0], item)

    def _parts(self, request: httpx.Request) -> list[str] | None:
        prefix = httpx.URL(self.api_base_url).raw_path.decode().rstrip("/") + "/"
        path = request.url.raw_path.decode().split("?")[0]
        if not path.startswith(prefix):
            return None
        return [unquote(part) for part in path.removeprefix(prefix).split("/")]

    @staticmethod
    def _collection(name: str) -> str | None:
        if name == FUNCTION_CALLS:
            return FUNCTION_CALLS
        if name in (CONTACTS, "human_contacts"):
            return CONTACTS
        return None

    def _route(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path == _receipts.JWKS_PATH:
            return httpx.Response(200, json=self.jwks())
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "unauthorized", "invalid API key")
        parts = self._parts(request) or []
        at = 1 if parts[:1] == ["agent"] else 0  # where the collection is named
        if len(parts) > at:
            parts[at] = self._collection(parts[at]) or parts[at]
        body: Any = json.loads(request.content) if request.content else None
        with self._changed:
            match request.method, parts:
                case "POST", [("function_calls" | "contact_requests") as collection]:
                    return self._create(collection, body)
                case "POST", ["agent", "function_calls", "respond"]:
                    return self._bulk(body)
                case "GET", ["agent", ("function_calls" | "contact_requests") as collection, "pending"]:
                    return self._page(collection, request.url.params)
                case "GET", [("function_calls" | "contact_requests") as collection, call_id]:
                    return self._get(collection, call_id, request.url.params.get("wait"))
                case "POST", [
                    "agent",
                    ("function_calls" | "contact_requests") as collection,
                    call_id,
                    action,
                ]:
                    return self._agent(collection, call_id, action, body)
        return _error(404, "not_found", "no such route")

    def _create(self, collection: str, body: dict[str, Any]) -> httpx.Response:
        key = (collection, body["call_id"])
        stored = self.items.get(key)
        if stored is not None:
            if stored["spec"] != body["spec"] or stored["run_id"] != body["run_id"]:
                return _error(409, "conflict", "this call_id was used for another request")
            return httpx.Response(200, json=stored)
        pending: dict[str, Any] = {"requested_at": _now(), "responded_at": None}
        pending.update(
            {"approved": None, "comment": None} if collection == FUNCTION_CALLS else {"response": None}
        )
        if collection == FUNCTION_CALLS and body.get("allow_edit") is True:
            pending["allow_edit"] = True
        if collection == FUNCTION_CALLS:
            problem = _quorum.unsupported(body)
            if problem is not None:
                return _error(422, "validation_error", problem)
            pending.update(_quorum.pending_status(body))
        self.items[key] = {**body, "status": pending}
        self._changed.notify_all()
        for rule in self._rules:
            if rule.collection == collection and rule.fn in (None, body["spec"].get("fn")):
                # A rule is the whole human side: it decides outright, quorum or not.
                self._decide_locked(collection, body["call_id"], rule.status, _BY_TEST, outright=True)
                break
        return httpx.Response(200, json=self.items[key])

    def _get(self, collection: str, call_id: str, wait: str | None) -> httpx.Response:
        # A long-poll was held in handler() before the lock was taken; this answers it.
        item = self.items.get((collection, call_id))
        if item is None:
            return _error(404, "not_found", f"no such call: {call_id}")
        return httpx.Response(200, json=item)

    def _page(self, collection: str, params: httpx.QueryParams) -> httpx.Response:
        items = self._pending(collection)
        limit, offset = int(params.get("limit", 100)), int(params.get("offset", 0))
        page = items[offset : offset + limit]
        return httpx.Response(
            200,
            json={
                "items": page,
                "total": len(items),
                "limit": limit,
                "offset": offset,
                "has_more": offset + len(page) < len(items),
            },
        )

    def _agent(self, collection: str, call_id: str, action: str, body: dict[str, Any]) -> httpx.Response:
        item = self.items.get((collection, call_id))
        if item is None:
            return _error(404, "not_found", f"no such call: {call_id}")
        if self._done(collection, item):
            return _error(409, "conflict", "already decided")
        if action == "escalate_email":
            item.setdefault("escalations", []).append(body)
            return httpx.Response(200, json=item)
        if action != "respond":
            return _error(404, "not_found", "no such route")
        try:
            return httpx.Response(200, json=self._decide_locked(collection, call_id, body, _BY_API))
        except _quorum.ForbiddenError as exc:
            return _error(403, "forbidden", str(exc))
        except _quorum.ConflictError as exc:
            return _error(409, "conflict", str(exc))
        except ValueError as exc:
            return _error(422, "invalid_request", str(exc))

    def _bulk(self, body: Any) -> httpx.Response:
        """foureyes' bulk respond: each verdict decided as its own respond would be, or skipped
        with the reason, in the order sent."""
        decisions = body.get("decisions") if isinstance(body, dict) else None
        if not isinstance(decisions, list) or not 1 <= len(decisions) <= MAX_BULK_DECISIONS:
            return _error(422, "validation_error", f"decisions must hold 1 to {MAX_BULK_DECISIONS} verdicts")
        call_ids = [d.get("call_id") if isinstance(d, dict) else None for d in decisions]
        if not all(isinstance(c, str) for c in call_ids) or len(set(call_ids)) != len(call_ids):
            return _error(422, "validation_error", "each verdict names a call_id, each call id once")
        results = []
        for decision in decisions:
            call_id = decision["call_id"]
            item = self.items.get((FUNCTION_CALLS, call_id))
            if item is None:
                results.append({"call_id": call_id, "result": "skipped", "reason": "not found"})
                continue
            if self._done(FUNCTION_CALLS, item):
                state = "approved" if item["status"]["approved"] else "rejected"
                results.append({"call_id": call_id, "result": "skipped", "reason": state})
                continue
            try:
                decided = self._decide_locked(FUNCTION_CALLS, call_id, decision, _BY_API)
            except ValueError as exc:
                results.append({"call_id": call_id, "result": "skipped", "reason": str(exc)})
                continue
            results.append({"call_id": call_id, "result": "decided", "function_call": decided})
        return httpx.Response(200, json={"results": results})

    # ---------------------------------------------------------------- state

    def _pending(self, collection: str) -> list[dict[str, Any]]:
        return [
            item
            for (c, _), item in self.items.items()
            if c == collection and not self._done(collection, item)
        ]

    def _item(self, collection: str, call_id: str) -> dict[str, Any]:
        try:
            return self.items[(collection, call_id)]
        except KeyError:
            raise KeyError(f"no {collection} item {call_id!r}") from None

    @staticmethod
    def _done(collection: str, item: dict[str, Any]) -> bool:
        field = "approved" if collection == FUNCTION_CALLS else "response"
        return item["status"].get(field) is not None

    def _decide(
        self, collection: str, call_id: str, status: dict[str, Any], by: dict[str, Any]
    ) -> dict[str, Any]:
        with self._changed:
            item = self._item(collection, call_id)
            if self._done(collection, item):
                raise ValueError(f"{call_id!r} was already decided; decisions are final")
            return self._decide_locked(collection, call_id, status, by)

    def _decide_locked(
        self,
        collection: str,
        call_id: str,
        status: dict[str, Any],
        by: dict[str, Any],
        *,
        outright: bool = False,
    ) -> dict[str, Any]:
        item = self.items[(collection, call_id)]
        spec = item["spec"]
        if collection == FUNCTION_CALLS:
            approved, comment = status.get("approved"), status.get("comment")
            option = status.get("reject_option_name")
            if approved is None:
                raise ValueError("a decision needs approved: true or false")
            if approved is False and comment is None:
                if option is None:
                    raise ValueError("a rejection needs a comment or a reject option")
                comment = _option_text(spec.get("reject_options"), option)
            edited = status.get("edited_kwargs")
            if edited is not None and not item["status"].get("allow_edit"):
                raise ValueError(f"{call_id!r} does not allow edits: it was created without allow_edit")
            if edited is not None and not approved:
                raise ValueError("edited arguments only apply to an approval")
            # One approval of several is recorded, and the call completes only with the last.
            several = approved and not outright and _quorum.counts_approvals(item)
            if several and not _quorum.add_approval(item, by, edited, datetime.now(UTC)):
                self._changed.notify_all()
                return item
            update = {"approved": approved, "comment": comment, "reject_option_name": option}
            if edited is not None:
                update["edited_kwargs"] = edited
            item["status"].pop("approvals_needed", None)
        else:
            response, option = status.get("response"), status.get("response_option_name")
            if response is None:
                if option is None:
                    raise ValueError("an answer needs a response or a response option")
                response = _option_text(spec.get("response_options"), option)
            update = {"response": response, "response_option_name": option}
        now = datetime.now(UTC)
        update["receipt"] = self._receipt(collection, item, update, by, now)
        item["status"].update(update, responded_at=now.isoformat(), responded_by=by)
        self._changed.notify_all()
        return item

    def _receipt(
        self, collection: str, item: dict[str, Any], update: dict[str, Any], by: dict[str, Any], now: datetime
    ) -> str:
        spec = item["spec"]
        if collection == FUNCTION_CALLS:
            edited = update.get("edited_kwargs")
            arguments = spec["kwargs"] if edited is None else edited
            outcome = _receipts.APPROVED if update["approved"] else _receipts.REJECTED
        else:
            edited, arguments, outcome = (
                None,
                {"msg": spec["msg"], "subject": spec.get("subject")},
                "responded",
            )
        try:
            digest: str | None = _receipts.arguments_digest(arguments)
        except ValueError:
            digest = None
        claims = _receipts.claims(
            call_id=item["call_id"],
            project="fake",
            kind="function_call" if collection == FUNCTION_CALLS else "human_contact",
            fn=spec["fn"] if collection == FUNCTION_CALLS else None,
            arguments_sha256=digest,
            edited=edited is not None,
            outcome=outcome,
            response=update.get("response"),
            decided_by={"email": by["email"], "name": by["name"], "key_id": None},
            channel=by["channel"],
            decided_at=now,
            expires_at=None,
        )
        return _receipts.sign(claims, self.signing_key)
