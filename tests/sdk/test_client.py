"""The plain methods of both clients, settings, modes, and connection handling."""

from __future__ import annotations

import gc
import json
import threading
import warnings
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from foureyes import (
    ApprovalMethod,
    AsyncHumanLayer,
    ConfigurationError,
    ConflictError,
    ContactChannel,
    EmailContactChannel,
    EmailRecipient,
    Escalation,
    FunctionCallSpec,
    FunctionCallStatus,
    HumanContactSpec,
    HumanContactStatus,
    HumanLayer,
    HumanLayerException,
    NotFoundError,
    ServerError,
    SlackContactChannel,
    TransportError,
)

from .conftest import BASE, KEY, FakeServer, refuse, status

SLACK = ContactChannel(
    slack=SlackContactChannel(channel_or_user_id="C1", context_about_channel_or_user="ops")
)
ESCALATION = Escalation(
    escalation_msg="still waiting",
    additional_recipients=[EmailRecipient(address="boss@example.com", field="cc")],
    channel=ContactChannel(email=EmailContactChannel(address="oncall@example.com")),
)


def test_create_get_respond_escalate_function_call(hl: HumanLayer, server: FakeServer) -> None:
    created = hl.create_function_call(
        FunctionCallSpec(fn="f", kwargs={"a": 1}, state={"s": 1}), call_id="c/1"
    )
    assert created.call_id == "c/1"
    assert created.status is not None
    assert created.status.approved is None
    # a call id can never add a path segment
    assert server.requests[-1].url.raw_path == b"/humanlayer/v1/function_calls"
    fetched = hl.get_function_call("c/1")
    assert server.requests[-1].url.raw_path == b"/humanlayer/v1/function_calls/c%2F1"
    assert fetched.spec.state == {"s": 1}
    escalated = hl.escalate_email_function_call("c/1", ESCALATION)
    assert escalated.call_id == "c/1"
    assert server.requests[-1].url.raw_path.endswith(b"/agent/function_calls/c%2F1/escalate_email")
    assert json.loads(server.requests[-1].content)["additional_recipients"][0]["field"] == "cc"
    done = hl.respond_to_function_call("c/1", FunctionCallStatus(approved=False, comment="no"))
    assert done.status is not None
    assert done.status.comment == "no"
    assert json.loads(server.requests[-1].content)["approved"] is False
    with pytest.raises(ConflictError, match="409"):
        hl.respond_to_function_call("c/1", FunctionCallStatus(approved=True))


def test_create_get_respond_escalate_human_contact(hl: HumanLayer, server: FakeServer) -> None:
    created = hl.create_human_contact(HumanContactSpec(msg="Ship it?"), call_id="hc-1")
    assert created.status is not None
    assert created.status.response is None
    assert server.requests[-1].url.path == "/humanlayer/v1/contact_requests"
    assert hl.get_human_contact("hc-1", wait=2).call_id == "hc-1"
    assert server.requests[-1].url.params["wait"] == "2.000"
    assert hl.escalate_email_human_contact("hc-1", ESCALATION).call_id == "hc-1"
    done = hl.respond_to_human_contact("hc-1", HumanContactStatus(response="yes"))
    assert done.status is not None
    assert done.status.response == "yes"
    assert server.requests[-1].url.path == "/humanlayer/v1/agent/human_contacts/hc-1/respond"


@pytest.mark.anyio
async def test_async_client_has_every_method(
    make_ahl: Callable[..., AsyncHumanLayer], server: FakeServer
) -> None:
    async with make_ahl() as ahl:
        await ahl.create_function_call(FunctionCallSpec(fn="f", kwargs={}), call_id="c1")
        assert (await ahl.get_function_call("c1", wait=1)).call_id == "c1"
        assert (await ahl.escalate_email_function_call("c1", ESCALATION)).call_id == "c1"
        done = await ahl.respond_to_function_call("c1", FunctionCallStatus(approved=True))
        assert done.status is not None
        assert done.status.approved is True
        await ahl.create_human_contact(HumanContactSpec(msg="?"), call_id="h1")
        assert (await ahl.get_human_contact("h1")).call_id == "h1"
        assert (await ahl.escalate_email_human_contact("h1", ESCALATION)).call_id == "h1"
        answered = await ahl.respond_to_human_contact("h1", HumanContactStatus(response="ok"))
        assert answered.status is not None
        assert answered.status.response == "ok"
        with pytest.raises(NotFoundError):
            await ahl.get_function_call("nope")


def test_requests_carry_the_key_and_json(hl: HumanLayer, server: FakeServer) -> None:
    hl.create_function_call(FunctionCallSpec(fn="f", kwargs={}))
    request = server.requests[-1]
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("foureyes-python")


def test_plain_calls_translate_errors(hl: HumanLayer, server: FakeServer) -> None:
    with pytest.raises(NotFoundError, match="404") as raised:
        hl.get_function_call("missing")
    assert isinstance(raised.value, HumanLayerException)
    assert raised.value.code == "not_found"
    server.script = [refuse]
    with pytest.raises(TransportError, match="ConnectError") as transport:
        hl.get_function_call("missing")
    assert isinstance(transport.value.__cause__, httpx.ConnectError)
    server.script = [lambda r: httpx.Response(502, text="<html>bad gateway</html>")]
    with pytest.raises(ServerError, match="bad gateway"):
        hl.get_function_call("x")
    server.script = [lambda r: httpx.Response(200, json={"not": "a call"})]
    with pytest.raises(ServerError, match="not a valid FunctionCall"):
        hl.get_function_call("x")
    server.script = [status(503)]
    with pytest.raises(ServerError):  # plain calls do not retry, as in HumanLayer
        hl.create_function_call(FunctionCallSpec(fn="f", kwargs={}))


def test_instance_channel_fills_specs_without_changing_the_callers(
    make_hl: Callable[..., HumanLayer], server: FakeServer
) -> None:
    hl = make_hl(contact_channel=SLACK)
    spec = FunctionCallSpec(fn="f", kwargs={})
    hl.create_function_call(spec)
    assert json.loads(server.requests[-1].content)["spec"]["channel"]["slack"]["channel_or_user_id"] == "C1"
    assert spec.channel is None
    server.decide_on_get(1)
    hl.fetch_approval(spec)
    assert (
        json.loads(server.sent("POST")[-1].content)["spec"]["channel"]["slack"]["channel_or_user_id"] == "C1"
    )


def test_context_manager_closes(make_hl: Callable[..., HumanLayer]) -> None:
    with make_hl() as hl:
        hl.create_function_call(FunctionCallSpec(fn="f", kwargs={}))
        http = hl._http
        assert http is not None
    assert http.is_closed
    assert hl._http is None


def test_a_given_http_client_is_used_and_left_open(server: FakeServer) -> None:
    http = httpx.Client(transport=httpx.MockTransport(server.handler))
    with HumanLayer(api_key=KEY, api_base_url=BASE, http_client=http) as hl:
        hl.create_function_call(FunctionCallSpec(fn="f", kwargs={}))
    assert not http.is_closed
    http.close()


def test_mode_follows_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    assert HumanLayer().approval_method is ApprovalMethod.CLI
    assert HumanLayer(api_key="k").approval_method is ApprovalMethod.BACKEND
    monkeypatch.setenv("HUMANLAYER_API_KEY", "")
    assert HumanLayer().approval_method is ApprovalMethod.CLI
    monkeypatch.setenv("HUMANLAYER_API_KEY", "k")
    assert HumanLayer().approval_method is ApprovalMethod.BACKEND
    assert HumanLayer.cli().approval_method is ApprovalMethod.CLI
    assert AsyncHumanLayer().approval_method is ApprovalMethod.BACKEND


def test_cloud_needs_a_key_and_accepts_a_connection_object() -> None:
    with pytest.raises(ConfigurationError, match="API key"):
        HumanLayer.cloud()
    with pytest.raises(ValueError, match="API key"):  # ConfigurationError is a ValueError, as in HumanLayer
        HumanLayer(approval_method=ApprovalMethod.BACKEND)

    class Connection:
        api_key = "fe_secret_key"
        api_base_url = "http://elsewhere:1/humanlayer/v1/"

    hl = HumanLayer.cloud(connection=Connection())
    assert hl.approval_method is ApprovalMethod.BACKEND
    assert hl.api_base_url == "http://elsewhere:1/humanlayer/v1"
    assert "fe_secret_key" not in repr(hl)


def test_server_methods_need_a_server_in_terminal_mode() -> None:
    hl = HumanLayer()
    with pytest.raises(ConfigurationError, match="FOUREYES_API_KEY"):
        hl.create_function_call(FunctionCallSpec(fn="f", kwargs={}))
    with pytest.raises(ConfigurationError):
        hl.get_human_contact("x")


def test_bad_timeout_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        HumanLayer(api_key="k", timeout=0)


# ------------------------------------------------------------------ real sockets


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = json.dumps({"run_id": "r", "call_id": "c", "spec": {"fn": "f", "kwargs": {}}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def real_base() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/humanlayer/v1"
    httpd.shutdown()
    httpd.server_close()


def test_unclosed_sync_client_leaks_no_socket(real_base: str) -> None:
    # HumanLayer's clients need no closing, so drop-in code never closes ours.
    hl = HumanLayer(api_key="k", api_base_url=real_base)
    assert hl.get_function_call("c").call_id == "c"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        del hl
        gc.collect()


@pytest.mark.anyio
async def test_unclosed_async_client_keeps_no_idle_socket(real_base: str) -> None:
    ahl = AsyncHumanLayer(api_key="k", api_base_url=real_base)
    assert (await ahl.get_function_call("c")).call_id == "c"
    http = ahl._http
    assert http is not None
    pool = http._transport._pool  # type: ignore[attr-defined]
    assert pool.connections == []
