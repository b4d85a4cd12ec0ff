"""A stand-in for Slack's Web API on 127.0.0.1: it records every call slack_sdk makes and
answers like Slack does (``chat.postMessage``, ``chat.update``, ``chat.postEphemeral``,
``views.open``, ``users.info``), and can be told to fail the next calls of a method."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..integration.conftest import free_port

BAD_TOKEN = "xoxb-revoked"


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: str
    answer: dict[str, Any] = field(default_factory=dict)


@dataclass
class Failure:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class SlackApi:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        # Slack user id -> (email, confirmed)
        self.users: dict[str, tuple[str, bool]] = {}
        self.failures: dict[str, list[Failure]] = {}
        self._lock = threading.Lock()
        self._ts = 0
        self.url = ""

    def fail_next(self, method: str, failure: Failure) -> None:
        with self._lock:
            self.failures.setdefault(method, []).append(failure)

    def of(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def ts_of(self, call: Call) -> str:
        """The ts Slack answered a ``chat.postMessage`` with."""
        return str(call.answer["ts"])

    def wait_for(self, method: str, count: int = 1, timeout: float = 20.0) -> list[Call]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.of(method)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"{method}: {len(self.of(method))} calls, wanted {count}: {self.calls}")

    async def handle(self, request: Request) -> JSONResponse:
        method = request.path_params["method"]
        args: dict[str, Any] = dict(request.query_params)
        raw = await request.body()
        if raw:
            if request.headers.get("content-type", "").startswith("application/json"):
                args |= json.loads(raw)
            else:
                args |= dict((await request.form()).items())
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        with self._lock:
            call = Call(method, args, token)
            self.calls.append(call)
            queued = self.failures.get(method) or []
            failure = queued.pop(0) if queued else None
        if failure is not None:
            return JSONResponse(failure.body, status_code=failure.status, headers=failure.headers)
        if token == BAD_TOKEN:
            return JSONResponse({"ok": False, "error": "invalid_auth"})
        call.answer = self._answer(method, args)
        return JSONResponse(call.answer)

    def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "chat.postMessage":
            channel = str(args["channel"])
            if channel.startswith("CNOPE"):
                return {"ok": False, "error": "channel_not_found"}
            with self._lock:
                self._ts += 1
                ts = f"1760000000.{self._ts:06d}"
            # a user id is answered with the direct-message channel, as Slack does
            posted = "D" + channel[1:] if channel.startswith("U") else channel
            return {"ok": True, "channel": posted, "ts": ts, "message": {"text": args.get("text")}}
        if method == "users.info":
            found = self.users.get(str(args.get("user")))
            if found is None:
                return {"ok": False, "error": "user_not_found"}
            email, confirmed = found
            return {
                "ok": True,
                "user": {
                    "id": args["user"],
                    "is_email_confirmed": confirmed,
                    "deleted": False,
                    "is_bot": False,
                    "profile": {"email": email},
                },
            }
        if method in ("chat.update", "chat.postEphemeral", "views.open"):
            return {"ok": True, "ts": args.get("ts"), "channel": args.get("channel")}
        return {"ok": False, "error": "unknown_method"}


@contextmanager
def running_slack_api() -> Iterator[SlackApi]:
    api = SlackApi()
    app = Starlette(routes=[Route("/api/{method}", api.handle, methods=["GET", "POST"])])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the Slack stand-in did not start")
        time.sleep(0.01)
    api.url = f"http://127.0.0.1:{port}/api/"
    try:
        yield api
    finally:
        server.should_exit = True
        thread.join(timeout=10)
