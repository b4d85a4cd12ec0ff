"""The official humanlayer 0.7.9 SDK and ours, through the same scenarios, against a real server.

Each test body is written once against the HumanLayer API and run with both packages: that is
what "drop-in" means. A reviewer decides over HTTP with a `respond` key while the agent waits.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from types import ModuleType
from typing import Any

import httpx
import humanlayer
import pytest
import sqlalchemy

import foureyes

from .conftest import LiveServer

# Real server processes (or SIGKILLed ones): part of the full suite, not of --fast.
pytestmark = pytest.mark.slow

SDKS = {"humanlayer": humanlayer, "foureyes": foureyes}


def fast_sleep(_seconds: float) -> None:
    # The official SDK sleeps 3 s before every GET; the tests need not.
    time.sleep(0.02)


async def fast_async_sleep(_seconds: float) -> None:
    await asyncio.sleep(0.02)


class Reviewer:
    """A human at the other end, deciding over the REST API with a respond-scoped key."""

    def __init__(self, server: LiveServer) -> None:
        self.http = httpx.Client(
            base_url=server.api_base, headers={"Authorization": f"Bearer {server.create_key('respond')}"}
        )

    def wait_pending(self, kind: str = "function_calls", count: int = 1, timeout: float = 15) -> list[Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            items = self.http.get(f"/agent/{kind}/pending").json()["items"]
            if len(items) >= count:
                return items
            time.sleep(0.02)
        raise AssertionError(f"no pending {kind} appeared")

    def respond(self, call_id: str, **body: Any) -> httpx.Response:
        return self.http.post(f"/agent/function_calls/{call_id}/respond", json=body)

    def answer(self, call_id: str, **body: Any) -> httpx.Response:
        return self.http.post(f"/agent/human_contacts/{call_id}/respond", json=body)


@pytest.fixture
def reviewer(live_server: LiveServer) -> Iterator[Reviewer]:
    r = Reviewer(live_server)
    yield r
    r.http.close()


@pytest.fixture(params=list(SDKS))
def sdk(request: pytest.FixtureRequest) -> ModuleType:
    return SDKS[request.param]


@pytest.fixture
def hl(sdk: ModuleType, live_server: LiveServer) -> Iterator[Any]:
    client = sdk.HumanLayer(
        api_key=live_server.create_key("agent"), api_base_url=live_server.api_base, sleep=fast_sleep
    )
    yield client
    if hasattr(client, "close"):  # the official SDK opens a connection per request
        client.close()


@pytest.fixture
def ahl(sdk: ModuleType, live_server: LiveServer) -> Any:
    return sdk.AsyncHumanLayer(
        api_key=live_server.create_key("agent"), api_base_url=live_server.api_base, sleep=fast_async_sleep
    )


def in_thread(fn: Callable[[], Any]) -> Future[Any]:
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(fn)
    pool.shutdown(wait=False)
    return future


# ------------------------------------------------------------------------------ sync


def test_create_and_get_pending(sdk: ModuleType, hl: Any) -> None:
    spec = sdk.FunctionCallSpec(fn="multiply", kwargs={"x": 2, "y": 5}, state={"order": 17})
    created = hl.create_function_call(spec, call_id="call-create-get")
    assert created.call_id == "call-create-get"
    assert created.run_id == hl.run_id
    assert created.status.approved is None
    assert created.status.requested_at is not None
    assert created.spec.state == {"order": 17}
    fetched = hl.get_function_call("call-create-get")
    assert fetched.spec.kwargs == {"x": 2, "y": 5}
    assert fetched.status.approved is None


def test_fetch_approval_approved(sdk: ModuleType, hl: Any, reviewer: Reviewer) -> None:
    waiting = in_thread(
        lambda: hl.fetch_approval(sdk.FunctionCallSpec(fn="send_email", kwargs={"to": "a@b.c"}))
    )
    [item] = reviewer.wait_pending()
    assert reviewer.respond(item["call_id"], approved=True, comment="fine").status_code == 200
    completed = waiting.result(timeout=30).as_completed()
    assert completed.approved is True
    assert completed.comment == "fine"


def test_fetch_approval_rejected_with_option(sdk: ModuleType, hl: Any, reviewer: Reviewer) -> None:
    spec = sdk.FunctionCallSpec(
        fn="send_email",
        kwargs={"to": "a@b.c"},
        reject_options=[
            sdk.ResponseOption(name="wrong_person", title="Wrong person", prompt_fill="ask first")
        ],
    )
    waiting = in_thread(lambda: hl.fetch_approval(spec))
    [item] = reviewer.wait_pending()
    reviewer.respond(item["call_id"], approved=False, comment="not them", reject_option_name="wrong_person")
    result = waiting.result(timeout=30)
    assert result.call.status.reject_option_name == "wrong_person"
    assert result.call.status.responded_at is not None
    completed = result.as_completed()
    assert (completed.approved, completed.comment) == (False, "not them")


def test_decorator_runs_only_when_approved(hl: Any, reviewer: Reviewer) -> None:
    ran: list[tuple[int, int]] = []

    @hl.require_approval()
    def multiply(x: int, y: int) -> int:
        ran.append((x, y))
        return x * y

    waiting = in_thread(lambda: multiply(x=2, y=5))
    [item] = reviewer.wait_pending()
    assert (item["spec"]["fn"], item["spec"]["kwargs"]) == ("multiply", {"x": 2, "y": 5})
    assert ran == []
    reviewer.respond(item["call_id"], approved=True)
    assert waiting.result(timeout=30) == 10
    assert ran == [(2, 5)]


def test_decorator_rejection_goes_back_to_the_llm(hl: Any, reviewer: Reviewer) -> None:
    ran: list[int] = []

    @hl.require_approval()
    def multiply(x: int, y: int) -> int:
        ran.append(1)
        return x * y

    waiting = in_thread(lambda: multiply(x=2, y=5))
    [item] = reviewer.wait_pending()
    reviewer.respond(item["call_id"], approved=False, comment="use smaller numbers")
    assert waiting.result(timeout=30) == "User denied multiply with message: use smaller numbers"
    assert ran == []


def test_human_as_tool(hl: Any, reviewer: Reviewer) -> None:
    tool = hl.human_as_tool()
    waiting = in_thread(lambda: tool("Which tone?"))
    [item] = reviewer.wait_pending("human_contacts")
    assert item["spec"]["msg"] == "Which tone?"
    reviewer.answer(item["call_id"], response="formal")
    assert waiting.result(timeout=30) == "formal"


def test_human_as_tool_option_only_answer(sdk: ModuleType, hl: Any, reviewer: Reviewer) -> None:
    tool = hl.human_as_tool(
        response_options=[sdk.ResponseOption(name="casual", title="Casual", prompt_fill="keep it light")]
    )
    waiting = in_thread(lambda: tool("Which tone?"))
    [item] = reviewer.wait_pending("human_contacts")
    reviewer.answer(item["call_id"], response_option_name="casual")
    assert waiting.result(timeout=30) == "keep it light"


def test_agent_side_respond_and_conflict(sdk: ModuleType, hl: Any, live_server: LiveServer) -> None:
    bot = sdk.HumanLayer(api_key=live_server.create_key("respond"), api_base_url=live_server.api_base)
    hl.create_function_call(sdk.FunctionCallSpec(fn="refund", kwargs={"amount": 5}), call_id="call-bot")
    done = bot.respond_to_function_call("call-bot", sdk.FunctionCallStatus(approved=True, comment="small"))
    assert done.status.approved is True
    assert hl.get_function_call("call-bot").status.comment == "small"
    with pytest.raises(sdk.HumanLayerException, match="409"):
        bot.respond_to_function_call("call-bot", sdk.FunctionCallStatus(approved=False, comment="late"))
    assert hl.get_function_call("call-bot").status.approved is True


def test_human_contact_create_get_respond(sdk: ModuleType, hl: Any, live_server: LiveServer) -> None:
    bot = sdk.HumanLayer(api_key=live_server.create_key("respond"), api_base_url=live_server.api_base)
    spec = sdk.HumanContactSpec(msg="Ship it?", subject="release", state={"step": 3})
    created = hl.create_human_contact(spec, call_id="hc-1")
    assert created.status.response is None
    assert created.spec.state == {"step": 3}
    bot.respond_to_human_contact("hc-1", sdk.HumanContactStatus(response="yes"))
    got = hl.get_human_contact("hc-1")
    assert got.status.response == "yes"
    assert got.status.responded_at is not None


def test_escalate(sdk: ModuleType, hl: Any) -> None:
    hl.create_function_call(sdk.FunctionCallSpec(fn="deploy", kwargs={}), call_id="call-esc")
    escalation = sdk.Escalation(
        escalation_msg="still waiting",
        additional_recipients=[sdk.EmailRecipient(address="boss@example.com", field="cc")],
        channel=sdk.ContactChannel(email=sdk.EmailContactChannel(address="oncall@example.com")),
    )
    escalated = hl.escalate_email_function_call("call-esc", escalation)
    assert escalated.call_id == "call-esc"
    assert escalated.status.approved is None
    hl.create_human_contact(sdk.HumanContactSpec(msg="hello?"), call_id="hc-esc")
    assert hl.escalate_email_human_contact("hc-esc", escalation).call_id == "hc-esc"


def test_bad_key_is_an_sdk_exception(sdk: ModuleType, live_server: LiveServer) -> None:
    bad = sdk.HumanLayer(api_key="fe_not-a-key", api_base_url=live_server.api_base)
    with pytest.raises(sdk.HumanLayerException, match="401"):
        bad.get_function_call("anything")


def test_unknown_call_is_an_sdk_exception(sdk: ModuleType, hl: Any) -> None:
    with pytest.raises(sdk.HumanLayerException, match="404"):
        hl.get_function_call("call-does-not-exist")


# ----------------------------------------------------------------------------- async


@pytest.mark.anyio
async def test_async_fetch_approval_and_create_get(sdk: ModuleType, ahl: Any, reviewer: Reviewer) -> None:
    task = asyncio.create_task(ahl.fetch_approval(sdk.FunctionCallSpec(fn="wire", kwargs={"usd": 10})))
    [item] = await asyncio.to_thread(reviewer.wait_pending)
    fetched = await ahl.get_function_call(item["call_id"])
    assert fetched.status.approved is None
    await asyncio.to_thread(reviewer.respond, item["call_id"], approved=True)
    result = await asyncio.wait_for(task, 30)
    assert result.as_completed().approved is True
    created = await ahl.create_function_call(sdk.FunctionCallSpec(fn="f", kwargs={}), call_id="call-async")
    assert created.call_id == "call-async"


@pytest.mark.anyio
async def test_async_decorator_and_rejection(ahl: Any, reviewer: Reviewer) -> None:
    @ahl.require_approval()
    def delete_branch(name: str) -> str:
        return f"deleted {name}"

    task = asyncio.create_task(delete_branch(name="main"))
    [item] = await asyncio.to_thread(reviewer.wait_pending)
    assert item["spec"]["kwargs"] == {"name": "main"}
    await asyncio.to_thread(reviewer.respond, item["call_id"], approved=False, comment="never main")
    assert await asyncio.wait_for(task, 30) == "User denied delete_branch with message: never main"


@pytest.mark.anyio
async def test_async_human_as_tool_and_respond(sdk: ModuleType, ahl: Any, live_server: LiveServer) -> None:
    bot = sdk.AsyncHumanLayer(api_key=live_server.create_key("respond"), api_base_url=live_server.api_base)
    tool = ahl.human_as_tool()
    task = asyncio.create_task(tool("Which region?"))
    reviewer = Reviewer(live_server)
    [item] = await asyncio.to_thread(reviewer.wait_pending, "human_contacts")
    await bot.respond_to_human_contact(item["call_id"], sdk.HumanContactStatus(response="eu-west"))
    assert await asyncio.wait_for(task, 30) == "eu-west"
    with pytest.raises(sdk.HumanLayerException):
        await bot.respond_to_human_contact(item["call_id"], sdk.HumanContactStatus(response="again"))
    reviewer.http.close()


def test_official_sdk_sees_threads_decide_concurrently(live_server: LiveServer, reviewer: Reviewer) -> None:
    """Several official-SDK agents wait at once; each gets its own decision."""
    hl = humanlayer.HumanLayer(
        api_key=live_server.create_key("agent"), api_base_url=live_server.api_base, sleep=fast_sleep
    )
    lock = threading.Lock()
    results: dict[int, Any] = {}

    def agent(n: int) -> None:
        out = hl.fetch_approval(humanlayer.FunctionCallSpec(fn="task", kwargs={"n": n})).as_completed()
        with lock:
            results[n] = out.approved

    threads = [threading.Thread(target=agent, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for item in reviewer.wait_pending(count=4):
        reviewer.respond(item["call_id"], approved=item["spec"]["kwargs"]["n"] % 2 == 0, comment="by parity")
    for t in threads:
        t.join(timeout=30)
    assert results == {0: True, 1: False, 2: True, 3: False}


# ------------------------------------------------------------------------------ deadlines


def give_requests_a_deadline(server: LiveServer, seconds: int) -> None:
    """The default project's deadline for requests that name none (a project setting)."""
    engine = sqlalchemy.create_engine(server.database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sqlalchemy.text("UPDATE projects SET expires_after_seconds = :s WHERE slug = 'default'"),
                {"s": seconds},
            )
    finally:
        engine.dispose()


def test_expired_request_is_no_approval_for_either_sdk(
    sdk: ModuleType, hl: Any, live_server: LiveServer
) -> None:
    ran: list[int] = []

    @hl.require_approval()
    def multiply(x: int, y: int) -> int:
        ran.append(1)
        return x * y

    give_requests_a_deadline(live_server, 1)
    # Nobody decides: the server expires both at their deadline, and the waits end with it.
    result = hl.fetch_approval(sdk.FunctionCallSpec(fn="wire", kwargs={"usd": 5}))
    assert result.call.status.approved is False
    assert result.call.status.comment.startswith("expired")
    completed = result.as_completed()
    assert (completed.approved, completed.comment) == (False, result.call.status.comment)
    refusal = in_thread(lambda: multiply(x=2, y=5)).result(timeout=30)
    assert ran == []
    if sdk is foureyes:
        assert foureyes.Decision.of_function_call(result).expired
        assert refusal.startswith("Nobody answered in time: multiply was not approved before its deadline")
    else:  # HumanLayer's decorator knows only rejections
        assert refusal.startswith("User denied multiply with message: expired")


@pytest.mark.anyio
async def test_async_expired_request_is_no_approval(
    sdk: ModuleType, ahl: Any, live_server: LiveServer
) -> None:
    ran: list[int] = []

    @ahl.require_approval()
    def delete_branch(name: str) -> str:
        ran.append(1)
        return f"deleted {name}"

    await asyncio.to_thread(give_requests_a_deadline, live_server, 1)
    refusal = await asyncio.wait_for(delete_branch(name="main"), 30)
    assert ran == []
    answer = await asyncio.wait_for(ahl.human_as_tool()("Which region?"), 30)
    if sdk is foureyes:
        assert refusal.startswith("Nobody answered in time: delete_branch")
        assert answer.startswith("Nobody answered in time: the question expired")
    else:
        assert refusal.startswith("User denied delete_branch with message: expired")
        assert answer.startswith("expired")
