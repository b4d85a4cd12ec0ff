"""The public fake server (`foureyes.testing`) on a fake clock, with failures scripted in front.

The fake keeps the rules the SDK relies on (idempotent creates, 409 on a second decision,
long-poll holds); a test scripts failures in front of it: each entry of ``server.script``
handles one request before the server sees it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from foureyes import AsyncHumanLayer, HumanLayer, RetryPolicy
from foureyes._default import reset_default_clients
from foureyes.testing import FakeFoureyes

BASE = "http://fe.test/humanlayer/v1"
KEY = "fe_test_key"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test sees the developer's FOUREYES_* / HUMANLAYER_* settings or a stale default client."""
    import os

    for name in list(os.environ):
        if name.startswith(("FOUREYES_", "HUMANLAYER_")):
            monkeypatch.delenv(name)
    reset_default_clients()
    yield
    reset_default_clients()


@dataclass
class FakeClock:
    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


Action = Callable[[httpx.Request], httpx.Response | None]


def refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 111] Connection refused", request=request)


def status(
    code: int, body: Any = None, headers: dict[str, str] | None = None
) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        if body is None:
            payload = {"error": {"code": "oops", "message": f"status {code}"}}
            return httpx.Response(code, json=payload, headers=headers)
        return httpx.Response(code, json=body, headers=headers)

    return answer


def passthrough(request: httpx.Request) -> None:
    return None


class FakeServer(FakeFoureyes):
    """`foureyes.testing.FakeFoureyes` on a fake clock, with failures scripted in front of it.

    A long-poll is not held in real time: it moves the fake clock on by its whole ``wait``
    (unless ``ignore_wait``), as a server that held it would.
    """

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(api_key=KEY, api_base_url=BASE)
        self.clock = clock
        self.script: list[Action] = []
        self.lose_answers = 0  # process the next N requests, then drop the answer
        self.ignore_wait = False
        self.on_get: Callable[[str], None] | None = None

    # ---- test helpers: write a decision as it is, whatever the item's state

    def decide(self, call_id: str, approved: bool, comment: str | None = None, **extra: Any) -> None:
        item = self.items[("function_calls", call_id)]
        update = {"approved": approved, "comment": comment, **extra}
        if "receipt" not in extra:  # signed as the fake signs every decision
            by = {"email": None, "name": None, "channel": "testing"}
            update["receipt"] = self._receipt("function_calls", item, update, by, datetime.now(UTC))
        item["status"].update(responded_at="2026-01-01T00:00:00Z", **update)

    def answer(self, call_id: str, response: str | None = None, *, option: str | None = None) -> None:
        item = self.items[("contact_requests", call_id)]
        item["status"].update(response=response, responded_at="2026-01-01T00:00:00Z")

    def decide_on_get(self, number: int, approved: bool = True, comment: str | None = None) -> None:
        """Decide the only function call when it is asked for the ``number``-th time."""
        gets = 0

        def hook(call_id: str) -> None:
            nonlocal gets
            gets += 1
            if gets == number:
                self.decide(call_id, approved, comment)

        self.on_get = hook

    def only(self, collection: str = "function_calls") -> dict[str, Any]:
        [item] = [v for (c, _), v in self.items.items() if c == collection]
        return item

    def sent(self, method: str | None = None) -> list[httpx.Request]:
        """The protocol's requests (the JWKS fetched to check receipts left out)."""
        return [
            r
            for r in self.requests
            if (method is None or r.method == method) and r.url.path != "/.well-known/foureyes/jwks.json"
        ]

    # ---- the protocol, with the script in front and the fake clock behind

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.script:
            scripted = self.script.pop(0)(request)
            if scripted is not None:
                return scripted
        response = self._route(request)
        if self.lose_answers:
            self.lose_answers -= 1
            raise httpx.ReadError("connection reset by peer", request=request)
        return response

    def _get(self, collection: str, call_id: str, wait: str | None) -> httpx.Response:
        item = self.items.get((collection, call_id))
        if item is not None and self.on_get is not None:
            self.on_get(call_id)
        if (
            item is not None
            and wait is not None
            and not self.ignore_wait
            and not self._done(collection, item)
        ):
            self.clock.now += float(wait)  # the server held the request for the whole wait
        return super()._get(collection, call_id, wait)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server(clock: FakeClock) -> FakeServer:
    return FakeServer(clock)


def fixed_policy(**overrides: Any) -> RetryPolicy:
    """Backoff at the top of each window, so sleeps are predictable."""
    return RetryPolicy(jitter=lambda: 1.0, **overrides)


@pytest.fixture
def make_hl(server: FakeServer, clock: FakeClock) -> Callable[..., HumanLayer]:
    def make(**kwargs: Any) -> HumanLayer:
        options: dict[str, Any] = {
            "api_key": KEY,
            "api_base_url": BASE,
            "run_id": "run-1",
            "transport": httpx.MockTransport(server.handler),
            "sleep": clock.sleep,
            "clock": clock,
            "retry": fixed_policy(),
        }
        options.update(kwargs)
        return HumanLayer(**options)

    return make


@pytest.fixture
def hl(make_hl: Callable[..., HumanLayer]) -> Iterator[HumanLayer]:
    with make_hl() as client:
        yield client


@pytest.fixture
def make_ahl(server: FakeServer, clock: FakeClock) -> Callable[..., AsyncHumanLayer]:
    def make(**kwargs: Any) -> AsyncHumanLayer:
        options: dict[str, Any] = {
            "api_key": KEY,
            "api_base_url": BASE,
            "run_id": "run-1",
            "transport": httpx.MockTransport(server.handler),
            "sleep": clock.async_sleep,
            "clock": clock,
            "retry": fixed_policy(),
        }
        options.update(kwargs)
        return AsyncHumanLayer(**options)

    return make


@pytest.fixture
def seeded() -> random.Random:
    return random.Random(7)
