"""The SDK waiting over the WebSocket against a real uvicorn server: one shared connection,
resubscribe after a drop, fallback to long-poll, and a SIGKILL + restart during a wait.

Servers whose internals a test inspects (connection counts, forced drops) run in a thread of
this process; the restart test runs `foureyes serve` as a subprocess so it can be SIGKILLed.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn
from fastapi import FastAPI

import foureyes
from foureyes.server.app import create_app
from foureyes.server.push import WEBSOCKET, Registry
from foureyes.server.service import Service
from foureyes.server.settings import Settings

from .conftest import LiveServer, free_port
from .test_sdk_compat import Reviewer

# Real server processes (or SIGKILLed ones): part of the full suite, not of --fast.
pytestmark = pytest.mark.slow

T = TypeVar("T")
HANG_GUARD = 60.0


class ThreadedServer:
    """uvicorn serving create_app() on its own event loop in a thread of the test process."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        refuse_websockets: bool = False,
        settings: Settings | None = None,
        **overrides: Any,
    ) -> None:
        self.port = free_port()
        if settings is None:
            settings = Settings(database_url=f"sqlite:///{tmp_path / 'threaded.db'}", **overrides)
        self.app = create_app(settings)
        served: Any = _refusing_websockets(self.app) if refuse_websockets else self.app
        config = uvicorn.Config(served, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=asyncio.run, args=(self._serve(),), daemon=True)

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self.server.serve()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/humanlayer/v1"

    @property
    def service(self) -> Service:
        service: Service = self.app.state.service
        return service

    @property
    def subscribers(self) -> Registry:
        return self.service.subscribers

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + HANG_GUARD
        while not self.server.started:
            assert time.monotonic() < deadline, "the threaded server did not start"
            assert self.thread.is_alive(), "the threaded server failed to start"
            time.sleep(0.01)

    def on_loop(self, make: Callable[[], Awaitable[T]]) -> T:
        """Run a coroutine on the server's event loop and wait for its result."""
        assert self.loop is not None

        async def run() -> T:
            return await make()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout=HANG_GUARD)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=HANG_GUARD)

    def key(self, scope: str = "agent") -> str:
        return self.service.keys.create_api_key(scopes=(scope,)).plaintext

    def pending(self, count: int) -> list[Any]:
        """Wait until ``count`` function calls are pending in the default project."""
        project_id = self.service.keys.authenticate(self.key()).project_id
        deadline = time.monotonic() + HANG_GUARD
        while True:
            page = self.service.items.list_pending_function_calls(project_id, limit=500)
            if page.total >= count:
                return page.items
            assert time.monotonic() < deadline, f"{count} pending function calls did not appear"
            time.sleep(0.02)

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + HANG_GUARD
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting until {what}"
            time.sleep(0.01)

    def decide(self, item: Any, approved: bool = True) -> None:
        self.service.decisions.decide_function_call(
            item.project_id,
            item.call_id,
            approved=approved,
            comment=None if approved else "no",
            channel="cli",
            actor_key_id=None,
        )


def _refusing_websockets(app: FastAPI) -> Any:
    """The app as a server without the WebSocket route (an older foureyes, another HumanLayer
    server) looks: the upgrade is refused with an HTTP status."""

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1000})  # before accept: uvicorn answers 403
            return
        await app(scope, receive, send)

    return asgi


@pytest.fixture
def threaded(tmp_path: Path) -> Iterator[ThreadedServer]:
    server = ThreadedServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def spec(n: int) -> foureyes.FunctionCallSpec:
    return foureyes.FunctionCallSpec(fn="transfer", kwargs={"n": n})


# ---------------------------------------------------------------- one shared connection


@pytest.mark.anyio
async def test_many_async_waits_share_one_connection(threaded: ThreadedServer) -> None:
    ahl = foureyes.AsyncHumanLayer(api_key=threaded.key(), api_base_url=threaded.api_base)
    waits = [asyncio.create_task(ahl.fetch_approval(spec(n))) for n in range(40)]
    items = await asyncio.to_thread(threaded.pending, 40)
    # Every wait has subscribed once the server watches all 40 items.
    await asyncio.to_thread(threaded.wait_for, lambda: _watched(threaded) == 40, "all 40 are watched")
    for n, item in enumerate(items):
        await asyncio.to_thread(threaded.decide, item, n % 2 == 0)
    done = await asyncio.wait_for(asyncio.gather(*waits), HANG_GUARD)
    verdicts = {c.call.spec.kwargs["n"]: c.as_completed().approved for c in done}
    expected = {item.spec["kwargs"]["n"]: n % 2 == 0 for n, item in enumerate(items)}
    assert verdicts == expected
    assert threaded.subscribers.accepted == 1
    await ahl.aclose()


def test_many_sync_waits_from_threads_share_one_connection(threaded: ThreadedServer) -> None:
    hl = foureyes.HumanLayer(api_key=threaded.key(), api_base_url=threaded.api_base)
    with ThreadPoolExecutor(max_workers=12) as pool:
        waits = [pool.submit(hl.fetch_approval, spec(n)) for n in range(12)]
        items = threaded.pending(12)
        threaded.wait_for(lambda: _watched(threaded) == 12, "all 12 are watched")
        for item in items:
            threaded.decide(item)
        assert all(w.result(timeout=HANG_GUARD).as_completed().approved for w in waits)
    assert threaded.subscribers.accepted == 1
    hl.close()
    threaded.wait_for(
        lambda: threaded.subscribers.count(WEBSOCKET) == 0, "the client's close reached the server"
    )


def _watched(server: ThreadedServer) -> int:
    """How many items the server's WebSocket sessions are watching now."""
    return server.subscribers.watch_count()


# ---------------------------------------------------------------- drops and resubscription


@pytest.mark.anyio
async def test_a_decision_made_while_the_connection_is_down_arrives_after_resubscribe(
    threaded: ThreadedServer,
) -> None:
    ahl = foureyes.AsyncHumanLayer(api_key=threaded.key(), api_base_url=threaded.api_base)
    ran: list[str] = []

    @ahl.require_approval()
    async def wire(usd: int) -> str:
        ran.append("wire")
        return f"sent {usd}"

    waiting = asyncio.create_task(wire(100))
    [item] = await asyncio.to_thread(threaded.pending, 1)
    await asyncio.to_thread(threaded.wait_for, lambda: _watched(threaded) == 1, "the item is watched")

    async def drop_then_decide() -> None:
        # In one go on the server's loop: no reconnect can happen before the decision commits,
        # and the closed session sends nothing more, so only the resubscribe can deliver it.
        await threaded.subscribers.close_all(1011, "test: connection dropped")
        threaded.decide(item)

    await asyncio.to_thread(threaded.on_loop, drop_then_decide)
    assert await asyncio.wait_for(waiting, HANG_GUARD) == "sent 100"
    assert ran == ["wire"]
    assert threaded.subscribers.accepted == 2  # the wait reconnected and resubscribed
    await ahl.aclose()


def test_a_sync_wait_survives_a_dropped_connection_and_a_rejection_never_runs(
    threaded: ThreadedServer,
) -> None:
    hl = foureyes.HumanLayer(api_key=threaded.key(), api_base_url=threaded.api_base)
    ran: list[int] = []

    @hl.require_approval()
    def delete_everything() -> str:
        ran.append(1)
        return "deleted"

    with ThreadPoolExecutor(max_workers=1) as pool:
        waiting = pool.submit(delete_everything)
        [item] = threaded.pending(1)
        threaded.wait_for(lambda: _watched(threaded) == 1, "the item is watched")

        async def drop_then_reject() -> None:
            await threaded.subscribers.close_all(1011, "test: connection dropped")
            threaded.decide(item, approved=False)

        threaded.on_loop(drop_then_reject)
        answer = waiting.result(timeout=HANG_GUARD)
    assert answer == "User denied delete_everything with message: no"
    assert ran == []
    assert threaded.subscribers.accepted == 2
    hl.close()


# ---------------------------------------------------------------- fallback to long-poll


@pytest.fixture
def without_websocket(tmp_path: Path) -> Iterator[ThreadedServer]:
    server = ThreadedServer(tmp_path, refuse_websockets=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.anyio
async def test_async_waits_fall_back_to_long_poll_when_there_is_no_websocket(
    without_websocket: ThreadedServer,
) -> None:
    server = without_websocket
    ahl = foureyes.AsyncHumanLayer(api_key=server.key(), api_base_url=server.api_base)
    waits = [asyncio.create_task(ahl.fetch_approval(spec(n))) for n in range(3)]
    items = await asyncio.to_thread(server.pending, 3)
    for item in items:
        await asyncio.to_thread(server.decide, item)
    done = await asyncio.wait_for(asyncio.gather(*waits), HANG_GUARD)
    assert all(c.as_completed().approved for c in done)
    assert server.subscribers.accepted == 0
    await ahl.aclose()


def test_sync_wait_falls_back_to_long_poll_when_there_is_no_websocket(
    without_websocket: ThreadedServer,
) -> None:
    server = without_websocket
    hl = foureyes.HumanLayer(api_key=server.key(), api_base_url=server.api_base)
    with ThreadPoolExecutor(max_workers=1) as pool:
        waiting = pool.submit(hl.human_as_tool(), "Which account?")
        project_id = server.service.keys.authenticate(server.key()).project_id
        server.wait_for(
            lambda: server.service.items.list_pending_human_contacts(project_id).total == 1,
            "the question is asked",
        )
        [question] = server.service.items.list_pending_human_contacts(project_id).items
        server.service.decisions.answer_human_contact(
            project_id, question.call_id, response="savings", channel="cli", actor_key_id=None
        )
        assert waiting.result(timeout=HANG_GUARD) == "savings"
    assert server.subscribers.accepted == 0
    hl.close()


def test_long_poll_can_be_chosen(threaded: ThreadedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOUREYES_WAIT_VIA", "longpoll")
    hl = foureyes.HumanLayer(api_key=threaded.key(), api_base_url=threaded.api_base)
    assert hl.wait_via == "longpoll"
    with ThreadPoolExecutor(max_workers=1) as pool:
        waiting = pool.submit(hl.fetch_approval, spec(1))
        [item] = threaded.pending(1)
        threaded.decide(item)
        assert waiting.result(timeout=HANG_GUARD).as_completed().approved is True
    assert threaded.subscribers.accepted == 0


# ---------------------------------------------------------------- SIGKILL and restart


def test_waits_over_the_websocket_resume_across_sigkill_and_restart(live_server: LiveServer) -> None:
    key = live_server.create_key("agent")
    hl = foureyes.HumanLayer(api_key=key, api_base_url=live_server.api_base)
    reviewer = Reviewer(live_server)
    ran: list[str] = []

    @hl.require_approval()
    def transfer(to: str) -> str:
        ran.append(to)
        return f"sent to {to}"

    async def ask_async() -> foureyes.FunctionCall.Completed:
        async with foureyes.AsyncHumanLayer(api_key=key, api_base_url=live_server.api_base) as ahl:
            return await ahl.fetch_approval(foureyes.FunctionCallSpec(fn="wire", kwargs={"usd": 5}))

    with ThreadPoolExecutor(max_workers=2) as pool:
        decorated = pool.submit(transfer, "alice")
        fetched = pool.submit(asyncio.run, ask_async())
        calls = reviewer.wait_pending(count=2)
        while hl._push is None or hl._push.connections == 0:  # the sync wait is on the WebSocket
            time.sleep(0.01)

        live_server.kill()
        assert not decorated.done()
        live_server.start()
        for item in calls:
            if item["spec"]["fn"] == "transfer":
                assert reviewer.respond(item["call_id"], approved=True).status_code == 200
            else:
                assert reviewer.respond(item["call_id"], approved=False, comment="no").status_code == 200

        assert decorated.result(timeout=HANG_GUARD) == "sent to alice"
        assert fetched.result(timeout=HANG_GUARD).as_completed().comment == "no"
    assert ran == ["alice"]
    assert hl._push is not None
    assert hl._push.connections >= 2  # it reconnected to the restarted server, not long-polled
    hl.close()
    reviewer.http.close()
