"""A real foureyes server (uvicorn in a thread, its own SQLite database) for the framework
adapters, and a reviewer who decides over its HTTP API from another thread, as a human in the
inbox would while the agent waits."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from foureyes import AsyncHumanLayer, HumanLayer
from foureyes.server.app import create_app
from foureyes.server.settings import Settings

from ..fast_hashing import FAST_HASHING
from ..integration.conftest import free_port

HANG_GUARD = 30.0


class Server:
    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        settings = Settings(database_url=f"sqlite:///{tmp_path / 'adapters.db'}", **FAST_HASHING)
        self.app = create_app(settings)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=asyncio.run, args=(self.server.serve(),), daemon=True)

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/humanlayer/v1"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + HANG_GUARD
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start"
            assert self.thread.is_alive(), "the server failed to start"
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=HANG_GUARD)

    def key(self, scope: str) -> str:
        return str(self.app.state.service.keys.create_api_key(scopes=(scope,)).plaintext)


class Reviewer:
    """A human deciding over the REST API with a respond-scoped key."""

    def __init__(self, server: Server) -> None:
        self.http = httpx.Client(
            base_url=server.api_base, headers={"Authorization": f"Bearer {server.key('respond')}"}
        )
        self.pool = ThreadPoolExecutor(max_workers=4)

    def pending(self, kind: str = "function_calls") -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.http.get(f"/agent/{kind}/pending").json()["items"]
        return items

    def wait_pending(self, count: int = 1, kind: str = "function_calls") -> list[dict[str, Any]]:
        deadline = time.monotonic() + HANG_GUARD
        while len(items := self.pending(kind)) < count:
            assert time.monotonic() < deadline, f"{count} pending {kind} did not appear"
            time.sleep(0.02)
        return items

    def respond(self, call_id: str, **status: Any) -> None:
        answer = self.http.post(f"/agent/function_calls/{call_id}/respond", json=status)
        assert answer.status_code == 200, answer.text

    def answer(self, call_id: str, response: str) -> None:
        answer = self.http.post(f"/agent/human_contacts/{call_id}/respond", json={"response": response})
        assert answer.status_code == 200, answer.text

    def decide_next(self, *decisions: dict[str, Any]) -> Future[list[dict[str, Any]]]:
        """In the background: wait until as many function calls are pending as there are
        decisions, then give each, in order of their call ids; returns the items decided."""

        def decide() -> list[dict[str, Any]]:
            items = sorted(self.wait_pending(len(decisions)), key=lambda item: item["call_id"])
            for item, status in zip(items, decisions, strict=False):
                self.respond(item["call_id"], **status)
            return items

        return self.pool.submit(decide)

    def answer_next(self, response: str) -> Future[dict[str, Any]]:
        def answer() -> dict[str, Any]:
            [item] = self.wait_pending(1, "human_contacts")
            self.answer(item["call_id"], response)
            return item

        return self.pool.submit(answer)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.http.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    found = Server(tmp_path_factory.mktemp("adapters"))
    found.start()
    try:
        yield found
    finally:
        found.stop()


@pytest.fixture
def reviewer(server: Server) -> Iterator[Reviewer]:
    found = Reviewer(server)
    try:
        yield found
    finally:
        # Each test starts with nothing pending: decide what a test left behind.
        for item in found.pending():
            found.respond(item["call_id"], approved=False, comment="left over")
        for item in found.pending("human_contacts"):
            found.answer(item["call_id"], "left over")
        found.close()


@pytest.fixture
def client(server: Server) -> HumanLayer:
    return HumanLayer(api_key=server.key("agent"), api_base_url=server.api_base)


@pytest.fixture
def aclient(server: Server) -> AsyncHumanLayer:
    return AsyncHumanLayer(api_key=server.key("agent"), api_base_url=server.api_base)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
