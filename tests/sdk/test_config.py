"""Settings: arguments, then FOUREYES_*, then HUMANLAYER_*, then defaults."""

from __future__ import annotations

import pytest

from foureyes import HumanLayer
from foureyes._config import DEFAULT_API_BASE, resolve, slugify


def test_defaults() -> None:
    config = resolve(api_key=None, api_base_url=None, run_id=None, agent_name=None, env={})
    assert config.api_key is None
    assert config.api_base == DEFAULT_API_BASE == "http://127.0.0.1:7444/humanlayer/v1"
    assert config.run_id.startswith("agent-")
    assert len(config.run_id) == len("agent-") + 11


def test_foureyes_wins_over_humanlayer_and_empty_is_unset() -> None:
    env = {
        "FOUREYES_API_KEY": "fe",
        "HUMANLAYER_API_KEY": "hl",
        "FOUREYES_API_BASE": "",
        "HUMANLAYER_API_BASE": "http://hl:1/humanlayer/v1/",
        "FOUREYES_RUN_ID": "",
        "HUMANLAYER_RUN_ID": "hl-run",
    }
    config = resolve(api_key=None, api_base_url=None, run_id=None, agent_name=None, env=env)
    assert (config.api_key, config.api_base, config.run_id) == ("fe", "http://hl:1/humanlayer/v1", "hl-run")
    env["FOUREYES_RUN_ID"] = "fe-run"
    assert resolve(api_key=None, api_base_url=None, run_id=None, agent_name=None, env=env).run_id == "fe-run"


def test_arguments_win() -> None:
    env = {"FOUREYES_API_KEY": "fe", "FOUREYES_API_BASE": "http://fe:1", "FOUREYES_RUN_ID": "x"}
    config = resolve(api_key="arg", api_base_url="http://arg:2/", run_id="mine", agent_name=None, env=env)
    assert (config.api_key, config.api_base, config.run_id) == ("arg", "http://arg:2", "mine")


def test_run_id_from_agent_name_and_genid() -> None:
    config = resolve(
        api_key=None,
        api_base_url=None,
        run_id=None,
        agent_name="Billing Bot ✓",
        make_id=lambda p: f"{p}-1",
        env={},
    )
    assert config.run_id == "billing-bot-1"


@pytest.mark.parametrize(
    ("text", "slug"), [("Hello World", "hello-world"), ("  Ünïcode--name_1 ", "unicode-name-1"), ("!!", "")]
)
def test_slugify(text: str, slug: str) -> None:
    assert slugify(text) == slug


def test_client_reads_the_environment_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUMANLAYER_API_KEY", "hl")
    monkeypatch.setenv("FOUREYES_API_KEY", "fe")
    monkeypatch.setenv("HUMANLAYER_API_BASE", "http://h:1/humanlayer/v1")
    hl = HumanLayer(agent_name="x")
    monkeypatch.setenv("FOUREYES_API_KEY", "changed")
    assert (hl.api_key, hl.api_base_url) == ("fe", "http://h:1/humanlayer/v1")
    assert hl.run_id.startswith("x-")


def test_waits_use_the_websocket_unless_told_or_given_an_http_transport(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import httpx

    from foureyes import AsyncHumanLayer, ConfigurationError

    assert HumanLayer(api_key="k").wait_via == "websocket"
    assert AsyncHumanLayer(api_key="k").wait_via == "websocket"
    assert HumanLayer(api_key="k", wait_via="longpoll").wait_via == "longpoll"
    # The WebSocket cannot go through an injected httpx transport, so such a client long-polls ...
    mock = httpx.MockTransport(lambda request: httpx.Response(200))
    assert HumanLayer(api_key="k", transport=mock).wait_via == "longpoll"
    # ... unless told otherwise.
    assert HumanLayer(api_key="k", transport=mock, wait_via="websocket").wait_via == "websocket"
    monkeypatch.setenv("FOUREYES_WAIT_VIA", "longpoll")
    assert HumanLayer(api_key="k").wait_via == "longpoll"
    monkeypatch.setenv("FOUREYES_WAIT_VIA", "carrier-pigeon")
    with pytest.raises(ConfigurationError, match="FOUREYES_WAIT_VIA"):
        HumanLayer(api_key="k")
