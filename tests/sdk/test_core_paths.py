"""``foureyes.core.*`` offers what HumanLayer's ``humanlayer.core.*`` modules do, by the same path.

The official SDK's own public names are the reference: each name an official module offers
(defined there or imported into it) is offered by ours, or listed below with the reason.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import foureyes
from foureyes.core import models_agent_webhook

MODULES = ["approval", "async_approval", "models", "protocol", "models_agent_webhook"]

# Imported into HumanLayer's modules for its own use: typing, stdlib, pydantic, its HTTP clients.
HELPERS = {
    "Any", "Awaitable", "BaseModel", "Callable", "Enum", "Generic", "Iterable", "List", "Literal",
    "Optional", "TypeVar", "Union", "R", "T", "T_Call", "T_Status", "AsyncCallable",
    "aiohttp", "asyncio", "datetime", "field_validator", "inspect", "json", "logger", "logging", "os",
    "re", "requests", "secrets", "slugify", "time", "wraps",
}  # fmt: skip
# Pluggable-backend plumbing: foureyes has one HTTP backend, configured by api_key/api_base_url,
# and its clients take no backend= (HumanLayer.cloud(connection=...) accepts any object with those
# attributes). Tests that mocked a backend use foureyes.testing.FakeFoureyes instead.
BACKENDS = {
    "AgentBackend", "AgentStore", "AdminBackend", "AdminStore", "CloudHumanLayerBackend",
    "HumanLayerCloudConnection", "AsyncAgentBackend", "AsyncCloudHumanLayerBackend",
    "AsyncHumanLayerCloudConnection",
}  # fmt: skip
# An internal helper of HumanLayer's human_as_tool.
INTERNAL = {"remove_parameter_from_signature"}
ABSENT = HELPERS | BACKENDS | INTERNAL


@pytest.fixture(scope="module")
def official(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Each official module's public names (in a subprocess from an empty directory: importing
    humanlayer loads ./.env)."""
    code = (
        "import importlib, json; print(json.dumps({m: [n for n in dir(importlib.import_module("
        f"'humanlayer.core.' + m)) if not n.startswith('_')] for m in {MODULES!r}}}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path_factory.mktemp("empty"),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    names: dict[str, list[str]] = json.loads(out)
    return names


@pytest.mark.parametrize("module", MODULES)
def test_every_official_name_is_offered(module: str, official: dict[str, list[str]]) -> None:
    ours = importlib.import_module(f"foureyes.core.{module}")
    wanted = set(official[module]) - ABSENT
    assert wanted, "the official module offers names"
    assert sorted(wanted - set(ours.__all__)) == []
    assert all(hasattr(ours, name) for name in ours.__all__)


def test_the_exclusions_are_not_stale(official: dict[str, list[str]]) -> None:
    everywhere = set().union(*official.values())
    assert sorted(ABSENT - everywhere) == []


@pytest.mark.parametrize("module", MODULES)
def test_the_names_are_foureyes_own_objects(module: str) -> None:
    ours = importlib.import_module(f"foureyes.core.{module}")
    for name in ours.__all__:
        if hasattr(foureyes, name):
            assert getattr(ours, name) is getattr(foureyes, name), name


def test_humanlayers_agent_side_approval_imports_work() -> None:
    # what HumanLayer's examples import, with humanlayer replaced by foureyes
    from foureyes.core.approval import ContactChannel, HumanLayer
    from foureyes.core.models import FunctionCallSpec, FunctionCallStatus, SlackContactChannel
    from foureyes.core.protocol import HumanLayerException

    assert HumanLayer is foureyes.HumanLayer
    assert issubclass(foureyes.ConflictError, HumanLayerException)
    spec = FunctionCallSpec(
        fn="f", kwargs={}, channel=ContactChannel(slack=SlackContactChannel(channel_or_user_id="C1"))
    )
    assert FunctionCallStatus(approved=True).approved is True
    assert spec.channel is not None


WEBHOOK_MODELS = [
    "EmailMessage",
    "EmailPayload",
    "SlackMessage",
    "SlackThread",
    "V1Beta2EmailEventReceived",
    "V1Beta2SlackEventReceived",
    "V1Beta2FunctionCallCompleted",
    "V1Beta2HumanContactCompleted",
]


def test_webhook_models_have_the_official_fields(tmp_path: Path) -> None:
    code = (
        "import json; from humanlayer.core import models_agent_webhook as m; "
        f"print(json.dumps({{n: sorted(getattr(m, n).model_fields) for n in {WEBHOOK_MODELS!r}}}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout
    official = json.loads(out)
    ours = {name: sorted(getattr(models_agent_webhook, name).model_fields) for name in WEBHOOK_MODELS}
    assert ours == official


def test_a_foureyes_webhook_body_parses() -> None:
    body = {
        "type": "function_call.completed",
        "is_test": False,
        "event": {
            "run_id": "r",
            "call_id": "c",
            "spec": {"fn": "send_email", "kwargs": {"to": "a@example.com"}, "state": {"task": "t-1"}},
            "status": {"approved": False, "comment": "not today", "responded_by": {"channel": "inbox"}},
        },
    }
    payload = models_agent_webhook.V1Beta2FunctionCallCompleted.model_validate(body)
    assert payload.event.spec.state == {"task": "t-1"}
    assert payload.event.status is not None
    assert payload.event.status.as_completed().comment == "not today"
    with pytest.raises(ValueError, match=r"function_call\.completed"):
        models_agent_webhook.V1Beta2FunctionCallCompleted.model_validate(
            {**body, "type": "human_contact.completed"}
        )
