"""require_approval: what is sent, what runs, and what the LLM is told."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from foureyes import (
    AsyncHumanLayer,
    ContactChannel,
    HumanLayer,
    HumanLayerException,
    ResponseOption,
    SlackContactChannel,
)

from .conftest import FakeClock, FakeServer, refuse, status


def sent_spec(server: FakeServer) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(server.sent("POST")[0].content)["spec"]
    return spec


def test_positional_args_are_bound_to_names_with_defaults_and_run_as_approved(
    hl: HumanLayer, server: FakeServer
) -> None:
    ran: list[tuple[Any, ...]] = []

    @hl.require_approval()
    def transfer(to: str, usd: int, memo: str = "none", *extra: int, **labels: str) -> str:
        ran.append((to, usd, memo, extra, labels))
        return f"sent {usd} to {to}"

    server.decide_on_get(1)
    assert transfer("alice", 10, "rent", 1, 2, tag="x") == "sent 10 to alice"
    assert sent_spec(server)["fn"] == "transfer"
    assert sent_spec(server)["kwargs"] == {
        "to": "alice",
        "usd": 10,
        "memo": "rent",
        "extra": [1, 2],
        "tag": "x",
    }
    assert ran == [("alice", 10, "rent", (1, 2), {"tag": "x"})]


def test_defaults_are_sent(hl: HumanLayer, server: FakeServer) -> None:
    @hl.require_approval
    def deploy(env: str, force: bool = False) -> str:
        return env

    server.decide_on_get(1)
    assert deploy("prod") == "prod"
    assert sent_spec(server)["kwargs"] == {"env": "prod", "force": False}


def test_a_methods_receiver_is_not_sent(hl: HumanLayer, server: FakeServer) -> None:
    class Bank:
        @hl.require_approval
        def pay(self, usd: int) -> int:
            return usd

    server.decide_on_get(1)
    assert Bank().pay(5) == 5
    assert sent_spec(server)["kwargs"] == {"usd": 5}


def test_arguments_that_cannot_be_shown_are_not_approved(hl: HumanLayer, server: FakeServer) -> None:
    ran: list[int] = []

    @hl.require_approval
    def use(thing: object) -> None:
        ran.append(1)

    assert str(use(object())).startswith("Error fetching approval for use:")
    assert ran == []
    assert server.requests == []


def test_arguments_mutated_while_waiting_are_not_run(hl: HumanLayer, server: FakeServer) -> None:
    ran: list[int] = []
    payload = {"usd": 10}

    @hl.require_approval
    def pay(order: dict[str, int]) -> None:
        ran.append(1)

    def mutate(call_id: str) -> None:
        payload["usd"] = 10_000
        server.decide(call_id, approved=True)

    server.on_get = mutate
    result = pay(payload)
    assert "changed while waiting for approval" in str(result)
    assert ran == []


def test_rejection_returns_humanlayers_text(hl: HumanLayer, server: FakeServer) -> None:
    ran: list[int] = []

    @hl.require_approval()
    def multiply(x: int, y: int) -> int:
        ran.append(1)
        return x * y

    server.decide_on_get(1, approved=False, comment="too big")
    assert multiply(2, 5) == "User denied multiply with message: too big"
    assert ran == []


def test_rejection_names_the_slack_context(make_hl: Callable[..., HumanLayer], server: FakeServer) -> None:
    hl = make_hl()
    channel = ContactChannel(
        slack=SlackContactChannel(channel_or_user_id="C1", context_about_channel_or_user="the ops team")
    )

    @hl.require_approval(channel, reject_options=[ResponseOption(name="later")])
    def restart() -> str:
        return "restarted"

    server.decide_on_get(1, approved=False, comment="not now")
    assert restart() == "User in the ops team denied restart with message: not now"
    spec = sent_spec(server)
    assert spec["channel"]["slack"]["context_about_channel_or_user"] == "the ops team"
    assert spec["reject_options"][0]["name"] == "later"


def test_the_functions_own_exceptions_propagate_unchanged(hl: HumanLayer, server: FakeServer) -> None:
    class BoomError(Exception):
        pass

    @hl.require_approval
    def explode() -> None:
        raise BoomError("kaboom")

    server.decide_on_get(1)
    with pytest.raises(BoomError, match="kaboom"):
        explode()


def test_a_bad_call_fails_before_anyone_is_asked(hl: HumanLayer, server: FakeServer) -> None:
    @hl.require_approval
    def f(x: int) -> int:
        return x

    with pytest.raises(TypeError):
        f(1, 2)  # type: ignore[call-arg]
    assert server.requests == []


@pytest.mark.parametrize(
    "failure",
    [[status(401)], [status(409)], [refuse] * 200, [lambda r: httpx.Response(200, json={"junk": 1})]],
    ids=["401", "409", "unreachable", "invalid"],
)
def test_no_decision_never_runs_the_function(
    make_hl: Callable[..., HumanLayer], server: FakeServer, failure: list[Any]
) -> None:
    hl = make_hl(timeout=30)
    ran: list[int] = []

    @hl.require_approval
    def drop_table(name: str) -> str:
        ran.append(1)
        return "dropped"

    server.script = list(failure)
    assert str(drop_table("users")).startswith("Error fetching approval for drop_table: ")
    assert ran == []


def test_timeout_never_runs_the_function(make_hl: Callable[..., HumanLayer], clock: FakeClock) -> None:
    hl = make_hl(timeout=120)
    ran: list[int] = []

    @hl.require_approval
    def wire(usd: int) -> None:
        ran.append(usd)

    result = wire(5)
    assert str(result).startswith("Error fetching approval for wire: no human completed function call")
    assert ran == []


def test_a_server_echoing_other_arguments_is_not_trusted(hl: HumanLayer, server: FakeServer) -> None:
    ran: list[int] = []

    @hl.require_approval
    def pay(usd: int) -> None:
        ran.append(usd)

    def tamper(call_id: str) -> None:
        server.items[("function_calls", call_id)]["spec"]["kwargs"] = {"usd": 9999}
        server.decide(call_id, approved=True)

    server.on_get = tamper
    assert "other arguments" in str(pay(5))
    assert ran == []


def test_bare_called_and_wrap_forms(hl: HumanLayer, server: FakeServer) -> None:
    def double(x: int) -> int:
        """Doubles."""
        return 2 * x

    bare = hl.require_approval(double)
    called = hl.require_approval()(double)
    wrapped = hl.require_approval().wrap(double)
    for fn in (bare, called, wrapped):
        assert fn.__name__ == "double"
        assert fn.__doc__ == "Doubles."
    server.ignore_wait = True

    def approve_all(call_id: str) -> None:
        server.decide(call_id, approved=True)

    server.on_get = approve_all
    assert [bare(1), called(2), wrapped(3)] == [2, 4, 6]


def test_duplicate_option_names_are_refused(hl: HumanLayer) -> None:
    options = [ResponseOption(name="a"), ResponseOption(name="a")]
    with pytest.raises(HumanLayerException, match="reject_options must have unique names"):
        hl.require_approval(reject_options=options)
    with pytest.raises(HumanLayerException, match="response_options must have unique names"):
        hl.human_as_tool(response_options=options)
    with pytest.raises(HumanLayerException, match="reject_options must have unique names"):
        AsyncHumanLayer(api_key="k").require_approval(reject_options=options)


def test_verbose_prints_progress(
    make_hl: Callable[..., HumanLayer], server: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    hl = make_hl(verbose=True)

    @hl.require_approval
    def f() -> int:
        return 1

    server.decide_on_get(1, approved=False, comment="nah")
    f()
    out = capsys.readouterr().out
    assert "waiting for approval for f" in out
    assert "human denied f with message: nah" in out


def test_sync_client_on_an_async_function_waits_off_the_loop(hl: HumanLayer, server: FakeServer) -> None:
    @hl.require_approval
    async def fetch(url: str) -> str:
        await asyncio.sleep(0)
        return f"got {url}"

    assert inspect.iscoroutinefunction(fetch)
    server.decide_on_get(1)
    assert asyncio.run(fetch("http://x")) == "got http://x"


# ------------------------------------------------------------------ async client


@pytest.mark.anyio
async def test_async_wrapper_on_sync_and_async_functions(
    make_ahl: Callable[..., AsyncHumanLayer], server: FakeServer
) -> None:
    ahl = make_ahl()
    ran: list[str] = []

    @ahl.require_approval
    def sync_fn(name: str) -> str:
        ran.append(name)
        return f"sync {name}"

    @ahl.require_approval()
    async def async_fn(name: str, loud: bool = False) -> str:
        ran.append(name)
        return f"async {name}"

    assert sync_fn.__name__ == "sync_fn"
    assert inspect.iscoroutinefunction(sync_fn)
    assert inspect.iscoroutinefunction(async_fn)
    server.ignore_wait = True

    def approve_all(call_id: str) -> None:
        server.decide(call_id, approved=True)

    server.on_get = approve_all
    assert await sync_fn("a") == "sync a"
    assert await async_fn("b") == "async b"
    assert ran == ["a", "b"]
    kwargs = [json.loads(r.content)["spec"]["kwargs"] for r in server.sent("POST")]
    assert kwargs == [{"name": "a"}, {"name": "b", "loud": False}]


@pytest.mark.anyio
async def test_async_rejection_error_and_exception(
    make_ahl: Callable[..., AsyncHumanLayer], server: FakeServer
) -> None:
    ahl = make_ahl()

    @ahl.require_approval().wrap
    async def delete_branch(name: str) -> str:
        raise KeyError(name)

    server.decide_on_get(1, approved=False, comment="never main")
    assert await delete_branch("main") == "User denied delete_branch with message: never main"
    server.on_get = None
    server.items.clear()
    server.script = [status(403)]
    assert str(await delete_branch("main")).startswith("Error fetching approval for delete_branch: 403")
    server.decide_on_get(1)
    with pytest.raises(KeyError):
        await delete_branch("dev")
