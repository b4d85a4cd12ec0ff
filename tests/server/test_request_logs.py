"""Request ids (X-Request-ID, error envelopes, log records) and the JSON log format."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from foureyes.server import logs
from foureyes.server.app import create_app
from foureyes.server.settings import Settings

from ..fast_hashing import FAST_HASHING

API = "/humanlayer/v1"


def test_a_request_id_is_made_or_taken_and_sent_back(client: TestClient, expect_error: Any) -> None:
    made = client.get("/healthz").headers["x-request-id"]
    assert len(made) == 32
    assert client.get("/healthz").headers["x-request-id"] != made
    taken = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a:42"})
    assert taken.headers["x-request-id"] == "lb-7f3a:42"
    for insane in ("x" * 200, "two words", "a\tb", ""):
        replaced = client.get("/healthz", headers={"X-Request-ID": insane})
        assert replaced.headers["x-request-id"] not in (insane, made)
    error = expect_error(
        client.get(f"{API}/project", headers={"X-Request-ID": "abc-123"}), 401, "unauthorized"
    )
    assert error["request_id"] == "abc-123"


@pytest.fixture
def json_logs(database_url: str) -> Iterator[tuple[TestClient, io.StringIO]]:
    """A JSON-format server with a root handler, as `foureyes serve` sets one up."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        app = create_app(Settings(database_url=database_url, log_format="json", **FAST_HASHING))
        with TestClient(app, raise_server_exceptions=False) as client:
            client.app_state = app.state  # type: ignore[attr-defined]
            yield client, stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_json_logs_are_one_object_a_line_with_the_request_id(
    json_logs: tuple[TestClient, io.StringIO], make_function_call: Any
) -> None:
    client, stream = json_logs
    key = client.app_state.service.keys.create_api_key(scopes=["agent"]).plaintext  # type: ignore[attr-defined]
    created = client.post(
        f"{API}/function_calls",
        json=make_function_call("logged"),
        headers={"Authorization": f"Bearer {key}", "X-Request-ID": "req-logged-1"},
    )
    assert created.status_code == 200, created.text
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert records, "nothing was logged"
    for record in records:
        assert set(record) >= {"time", "level", "logger", "message", "request_id"}
    mine = [r for r in records if r["request_id"] == "req-logged-1"]
    assert mine, records
    assert all(r["logger"].startswith("foureyes") for r in mine)


def test_a_traceback_stays_inside_its_json_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", ("here",), exc_info=True)
        record.exc_info = __import__("sys").exc_info()
    line = logs.JsonFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "failed here"
    assert "ValueError: boom" in parsed["exc"]


def test_log_format_is_text_or_json() -> None:
    with pytest.raises(ValueError, match="log_format"):
        Settings(log_format="xml")
    assert Settings.from_env({"FOUREYES_LOG_FORMAT": "json"}).log_format == "json"


def test_text_logs_show_the_request_id(database_url: str, make_function_call: Any) -> None:
    """The text format `foureyes serve` installs (and gives uvicorn's loggers) tags each line."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.TextFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        app = create_app(Settings(database_url=database_url, **FAST_HASHING))
        with TestClient(app) as client:
            key = app.state.service.keys.create_api_key(scopes=["agent"]).plaintext
            created = client.post(
                f"{API}/function_calls",
                json=make_function_call("logged"),
                headers={"Authorization": f"Bearer {key}", "X-Request-ID": "req-text-1"},
            )
            assert created.status_code == 200, created.text
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    lines = stream.getvalue().splitlines()
    tagged = [line for line in lines if "[req req-text-1]: " in line]
    assert tagged, lines
    assert all(" foureyes." in line for line in tagged)
    assert any("[req " not in line for line in lines)  # records outside a request have no tag
    config = logs.uvicorn_log_config(Settings(log_format="text"))
    assert config["formatters"]["chosen"]["()"] is logs.TextFormatter


def test_serve_takes_log_format_from_its_option(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    import uvicorn
    from typer.testing import CliRunner

    from foureyes.cli import app as cli

    started: list[uvicorn.Config] = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: started.append(self.config))
    monkeypatch.delenv("FOUREYES_LOG_FORMAT", raising=False)
    url = f"sqlite:///{tmp_path / 's.db'}"
    # serve sets the format on the root logger's handlers (here pytest's): put them back after.
    root = logging.getLogger()
    for handler in root.handlers:
        monkeypatch.setattr(handler, "formatter", handler.formatter)
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    result = CliRunner().invoke(cli, ["serve", "--database-url", url, "--log-format", "json"])
    assert result.exit_code == 0, result.output
    (config,) = started
    assert isinstance(config.log_config, dict)
    assert config.log_config["formatters"]["chosen"]["()"] is logs.JsonFormatter
    refused = CliRunner().invoke(cli, ["serve", "--database-url", url, "--log-format", "xml"])
    assert refused.exit_code == 1
    assert "log_format must be text or json" in refused.output
