"""HumanLayer's agent-side-approval example, by its module paths, against a real server.

The example (``examples/openai_client/04-agent-side-approvals.py`` in HumanLayer's repository)
creates a call, approves it itself with ``respond_to_function_call`` and reads it back, all with
one key: with foureyes keys that key needs both scopes, ``agent`` and ``respond``. Run the same
with the official SDK (``humanlayer.core.*``) and ours (``foureyes.core.*``).
"""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

from .conftest import LiveServer

pytestmark = pytest.mark.slow


@pytest.fixture(params=["humanlayer", "foureyes"])
def sdk(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def modules(sdk: str) -> tuple[ModuleType, ModuleType, ModuleType]:
    return (
        importlib.import_module(f"{sdk}.core.approval"),
        importlib.import_module(f"{sdk}.core.models"),
        importlib.import_module(f"{sdk}.core.protocol"),
    )


def test_with_an_agent_and_respond_key_the_example_runs(sdk: str, live_server: LiveServer) -> None:
    approval, models, _ = modules(sdk)
    key = live_server.create_key("agent,respond")
    hl = approval.HumanLayer(
        api_key=key, api_base_url=live_server.api_base, run_id="openai-imperative-fetch-04"
    )
    spec = models.FunctionCallSpec(fn="multiply", kwargs={"x": 2, "y": 5})
    call = hl.create_function_call(spec=spec, call_id=f"call-{sdk}")
    assert call.status is None or call.status.approved is None
    hl.respond_to_function_call(call_id=f"call-{sdk}", status=models.FunctionCallStatus(approved=True))
    call = hl.get_function_call(call_id=f"call-{sdk}")
    assert call.status.approved is True


def test_an_agent_key_alone_cannot_approve(sdk: str, live_server: LiveServer) -> None:
    approval, models, protocol = modules(sdk)
    hl = approval.HumanLayer(api_key=live_server.create_key("agent"), api_base_url=live_server.api_base)
    hl.create_function_call(spec=models.FunctionCallSpec(fn="multiply", kwargs={}), call_id="c-1")
    with pytest.raises(protocol.HumanLayerException, match="403"):
        hl.respond_to_function_call(call_id="c-1", status=models.FunctionCallStatus(approved=True))
    assert hl.get_function_call(call_id="c-1").status.approved is None


def test_a_respond_key_alone_cannot_ask(sdk: str, live_server: LiveServer) -> None:
    approval, models, protocol = modules(sdk)
    hl = approval.HumanLayer(api_key=live_server.create_key("respond"), api_base_url=live_server.api_base)
    with pytest.raises(protocol.HumanLayerException, match="403"):
        hl.create_function_call(spec=models.FunctionCallSpec(fn="multiply", kwargs={}), call_id="c-2")
